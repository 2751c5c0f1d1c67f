"""Servers in subprocesses of their own, and the CPU processes spend (Linux /proc, wait4).

`ServerProcess` starts a command on a free loopback port (`--port N` is added), keeps its output in a temporary
file, waits until a path answers 200, and reads the process's CPU. `app_server` starts an ASGI app under uvicorn
(uvloop and httptools, as `python -m services.commitments serve` runs it, without access logs) through this
module's own entry:

    python -m bench.machinery.servers MODULE:FACTORY --port P --database-url URL [--variant V]
                                      [--probe sampler|timings --probe-to FILE [--instrument MODULE:FUNCTION]]

FACTORY(database_url, variant) builds the app. With a probe, SIGUSR1 starts (or resets) it and SIGUSR2 writes
its report, as JSON, to FILE: the stack sampler, or the step timings of the steps INSTRUMENT(timer) wraps
(bench/machinery/profiling.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.machinery.http_clients import RawHttpClient
from bench.machinery.report import BenchError

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far, from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds_to_exit(argv: list[str], env: dict[str, str] | None = None) -> float:
    """User + system CPU of one run of `argv`, to its exit (wait4); a failed run ends the bench."""
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}")
    return usage.ru_utime + usage.ru_stime


@dataclass
class ServerProcess:
    """`python ARGUMENTS --port N` on a free loopback port, with the repository on PYTHONPATH, ENV added to the
    environment and no OTLP exporter; ready once `ready_path` answers 200. With `report_to`, it was started with
    a probe (see the module's docstring): `start_probe()` and `probe_report()`."""

    label: str
    arguments: list[str]
    ready_path: str = "/healthz"
    env: dict[str, str] = field(default_factory=dict)
    report_to: Path | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    def start(self) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server, closed in stop()
        env = {
            **os.environ,
            **self.env,
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        self.process = subprocess.Popen(
            [sys.executable, *self.arguments, "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BenchError(
                    f"{self.label} server exited with {self.process.returncode}:\n{self.output()}"
                )
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
                client = RawHttpClient(HOST, self.port, {})
                await client.connect()
                try:
                    status, _ = await asyncio.wait_for(client.get(self.ready_path), 5)
                finally:
                    await client.close()
                if status == 200:
                    return
            await asyncio.sleep(0.1)
        raise BenchError(f"{self.label} server not ready after {timeout:.0f} s:\n{self.output()}")

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def start_probe(self) -> None:
        """Start (or reset) the server's probe: the stack sampler, or the step timings."""
        self.signal(signal.SIGUSR1)

    async def probe_report(self) -> dict[str, Any]:
        """Stop the probe and read its report."""
        assert self.report_to is not None, "a server started without a probe"
        self.report_to.unlink(missing_ok=True)
        self.signal(signal.SIGUSR2)
        for _ in range(200):
            with contextlib.suppress(OSError, ValueError):
                return json.loads(self.report_to.read_text())  # type: ignore[no-any-return]  # the probe writes a JSON object
            await asyncio.sleep(0.05)
        raise BenchError(f"no probe report from {self.label}:\n{self.output()}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.log is not None:
            self.log.close()
            self.log = None
        if self.report_to is not None:
            shutil.rmtree(self.report_to.parent, ignore_errors=True)

    def output(self) -> str:
        """The end of the server's output (stdout and stderr)."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]

    def log_lines(self, needle: str) -> int:
        """How many lines of the server's output contain `needle`."""
        if self.log is None:
            return 0
        self.log.seek(0)
        return sum(1 for line in self.log.read().decode("utf-8", "replace").splitlines() if needle in line)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid) if self.process is not None else 0.0


def app_server(
    label: str,
    factory: str,
    database_url: str,
    *,
    variant: str = "",
    probe: str | None = None,
    instrument: str | None = None,
    ready_path: str = "/healthz",
) -> ServerProcess:
    """An ASGI app (`factory`, "module:function") served by this module's entry; not started yet."""
    arguments = [
        "-m",
        "bench.machinery.servers",
        factory,
        "--database-url",
        database_url,
        "--variant",
        variant,
    ]
    report_to = None
    if probe is not None:
        report_to = Path(tempfile.mkdtemp(prefix="bench-probe-")) / "report.json"
        arguments += ["--probe", probe, "--probe-to", str(report_to)]
        if instrument is not None:
            arguments += ["--instrument", instrument]
    return ServerProcess(label, arguments, ready_path, report_to=report_to)


def commitments_app(database_url: str, variant: str = "") -> Any:
    """The commitments API as the benches serve it: `create_app`, the relay out of process, no OTLP exporter."""
    if variant:
        raise SystemExit(f"the commitments app has no variant {variant!r}")
    from services.commitments.app import create_app
    from services.commitments.config import CommitmentsSettings
    from shared.clock import SystemClock

    settings = CommitmentsSettings(
        database_url=database_url, relay_in_process=False, nats_url=NATS_URL, otel_exporter_otlp_endpoint=None
    )
    return create_app(settings, SystemClock())


def _resolve(name: str) -> Any:
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def serve(options: argparse.Namespace) -> None:
    """The subprocess entry: run the app until SIGTERM, with its probe if any."""
    import logging

    import uvicorn

    from bench.machinery.profiling import StackSampler, StageTimer

    logging.basicConfig(level=logging.WARNING)
    app = _resolve(options.factory)(options.database_url, options.variant)
    probe, probe_to = options.probe, options.probe_to
    if probe and probe_to:
        sampler, timer = StackSampler(), StageTimer()
        if probe == "timings":
            app = timer.wrap_app(app)
            if options.instrument:
                _resolve(options.instrument)(timer)

        def start(*_: Any) -> None:
            if probe == "sampler":
                sampler.start()
            else:
                timer.reset()

        def stop(*_: Any) -> None:
            if probe == "sampler":
                sampler.stop()
            report = sampler.report() if probe == "sampler" else timer.report()
            Path(probe_to).write_text(json.dumps(report))

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    # As `python -m services.commitments serve` runs it (uvloop + httptools when installed), minus access logs.
    uvicorn.run(app, host=HOST, port=options.port, log_level="warning", access_log=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.machinery.servers",
        description="Serve a bench's ASGI app (started by app_server).",
    )
    parser.add_argument("factory", metavar="MODULE:FACTORY")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--variant", default="")
    parser.add_argument("--probe", choices=("sampler", "timings"))
    parser.add_argument("--probe-to")
    parser.add_argument("--instrument", metavar="MODULE:FUNCTION")
    serve(parser.parse_args(argv))


if __name__ == "__main__":
    main()
