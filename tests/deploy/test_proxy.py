"""The reverse proxy's own configuration (deploy/nginx/templates/engagements.conf.template) in a real nginx, in
front of the real commitments API under uvicorn: a client sending its header slowly, or its body slowly, is
cut off by the proxy's timeout; a body over the limit is refused with 413 before it is read."""

from __future__ import annotations

import os
import re
import socket
import string
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import ROOT
from tests.ports import free_port

pytestmark = pytest.mark.slow

TEMPLATE = ROOT / "deploy/nginx/templates/engagements.conf.template"
API_HOST = "api.test"


def _seconds(directive: str) -> float:
    match = re.search(rf"^{directive} (\d+)s;$", TEMPLATE.read_text(), flags=re.MULTILINE)
    assert match, directive
    return float(match.group(1))


def _size(directive: str) -> int:
    match = re.search(rf"^{directive} (\d+)k;$", TEMPLATE.read_text(), flags=re.MULTILINE)
    assert match, directive
    return int(match.group(1)) * 1024


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    # A bound on a broken start, not a timing assertion: under pytest-xdist on a busy 2-core machine, starting
    # Python and importing the service may take a minute.
    deadline = time.monotonic() + 180
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def _answers(url: str, host: str | None = None) -> bool:
    try:
        return httpx.get(url, headers={"Host": host} if host else None, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, stream_names: tuple[str, str]
) -> Iterator[int]:
    """The commitments API on a SQLite file, under uvicorn (its own `serve` command): its port."""
    folder = tmp_path_factory.mktemp("proxied-api")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'commitments.db'}",
        "DATA_DIR": str(folder),
        "NATS_URL": nats_url,
        "EVENTS_STREAM": f"{stream_names[0]}_PROXY",
        "EVENTS_SUBJECT_PREFIX": f"{stream_names[1]}-proxy",
        "RELAY_IN_PROCESS": "false",
        "LOG_JSON": "false",
    }
    subprocess.run(
        [sys.executable, "-m", "services.commitments", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = folder / "api.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.commitments",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), process, "the commitments API", log)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, api: int) -> Iterator[int]:
    """nginx with the repository's proxy configuration in front of the API: its port."""
    from tests.deploy.conftest import find_tool

    nginx = find_tool("nginx")
    folder = tmp_path_factory.mktemp("proxy")
    port = free_port()
    # What the official image's entrypoint does with envsubst: only the named variables are replaced.
    values = {
        "PROXY_PORT": str(port),
        "COMMITMENTS_UPSTREAM": f"127.0.0.1:{api}",
        "NOTIFICATIONS_UPSTREAM": f"127.0.0.1:{api}",
        "REPORTING_UPSTREAM": f"127.0.0.1:{api}",
        "COMMITMENTS_HOSTNAME": API_HOST,
        "NOTIFICATIONS_HOSTNAME": "notifications.test",
        "REPORTING_HOSTNAME": "reporting.test",
    }
    rendered = string.Template(TEMPLATE.read_text()).safe_substitute(values)
    assert not re.search(r"\$\{[A-Z_]+\}", rendered)  # every variable of the template is given
    (folder / "engagements.conf").write_text(rendered)
    # The rest of what the official image's nginx.conf gives (its http block, whose directives this file must
    # not repeat), in this folder: one process, in the foreground.
    temp_paths = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    access_log {folder / "access.log"};
{temp_paths}
    include {folder / "engagements.conf"};
}}
""")
    log = folder / "error.log"
    process = subprocess.Popen(
        [str(nginx), "-p", str(folder), "-e", str(log), "-c", str(folder / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz", API_HOST), process, "nginx", log)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _cut_off(sock: socket.socket, wait: float) -> bytes | None:
    """What the proxy sent before closing, if it closed within `wait` seconds; None while it keeps listening."""
    sock.settimeout(wait)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def test_the_proxy_forwards_to_the_api_by_host_name(proxy: int) -> None:
    answer = httpx.get(f"http://127.0.0.1:{proxy}/healthz", headers={"Host": API_HOST}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    with pytest.raises(httpx.RemoteProtocolError):  # another host name: closed without an answer (444)
        httpx.get(f"http://127.0.0.1:{proxy}/healthz", headers={"Host": "elsewhere.test"}, timeout=10)


def test_a_client_sending_its_header_slowly_is_cut_off_by_the_header_timeout(proxy: int) -> None:
    timeout = _seconds("client_header_timeout")
    with socket.create_connection(("127.0.0.1", proxy)) as sock:
        started = time.monotonic()
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {API_HOST}\r\n".encode())
        answer = None
        # One more header line every second, for three times the timeout: a slowloris client never ends.
        for line in range(int(3 * timeout)):
            try:
                sock.sendall(f"X-Slow-{line}: still coming\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                answer = b""
                break
            if (answer := _cut_off(sock, 1.0)) is not None:
                break
        elapsed = time.monotonic() - started
    assert answer is not None, "the proxy kept a header coming for three times its timeout"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    # Cut off by the header timeout (not before it), long before the client would have finished.
    assert timeout - 1 <= elapsed < 2 * timeout + 5, elapsed


def test_a_client_sending_its_body_slowly_is_cut_off_by_the_body_timeout(proxy: int) -> None:
    timeout = _seconds("client_body_timeout")
    with socket.create_connection(("127.0.0.1", proxy)) as sock:
        sock.sendall(
            f"POST /v1/items HTTP/1.1\r\nHost: {API_HOST}\r\nContent-Type: application/json\r\n"
            f'Content-Length: 100\r\n\r\n{{"title": '.encode()
        )
        started = time.monotonic()
        answer = _cut_off(sock, 3 * timeout)  # and then nothing more
        elapsed = time.monotonic() - started
    assert answer is not None, "the proxy waited for the rest of the body for three times its timeout"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert timeout - 1 <= elapsed < 2 * timeout + 5, elapsed


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_sent(proxy: int) -> None:
    limit = _size("client_max_body_size")
    with socket.create_connection(("127.0.0.1", proxy), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/items HTTP/1.1\r\nHost: {API_HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {limit + 1}\r\n\r\n".encode()
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # At the limit, the request goes through to the API (which asks for a key: 401, not 413).
    body = b"x" * limit
    allowed = httpx.post(
        f"http://127.0.0.1:{proxy}/v1/items", headers={"Host": API_HOST}, content=body, timeout=30
    )
    assert allowed.status_code == 401, allowed.text
