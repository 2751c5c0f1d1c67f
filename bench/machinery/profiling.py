"""Profiling inside a server process, started by bench/machinery/servers.py's entry with `--probe`: a stack
sampler (py-spy is not available) and step timings (CPU and wall time of the wrapped steps of a request), and
the printing of their reports in the bench process."""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from typing import Any

from bench.machinery.servers import ROOT


class StageTimer:
    """Adds up the CPU (this thread) and wall time of the steps it wraps (`wrap_async`, `wrap_sync`) and of the
    whole request (`wrap_app`). Meaningful one request at a time only: an awaited step also counts whatever
    other requests run meanwhile."""

    def __init__(self) -> None:
        self.stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
        self.order: list[str] = []
        self.requests = 0

    def reset(self) -> None:
        self.stats.clear()
        self.requests = 0

    def _add(self, name: str, cpu: float, wall: float) -> None:
        entry = self.stats[name]
        entry[0] += 1
        entry[1] += cpu
        entry[2] += wall

    def wrap_async(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)
        self.order.append(name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self._add(name, time.thread_time() - cpu, time.perf_counter() - wall)

        setattr(owner, attribute, timed)

    def wrap_app(self, app: Any) -> Any:
        self.order.insert(0, "whole request (ASGI app, middlewares included)")

        async def timed_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                await app(scope, receive, send)
            finally:
                self.requests += 1
                self._add(self.order[0], time.thread_time() - cpu, time.perf_counter() - wall)

        return timed_app

    def wrap_sync(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)
        self.order.append(name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._add(name, time.thread_time() - cpu, time.perf_counter() - wall)

        setattr(owner, attribute, timed)

    def report(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "stages": [[name, *self.stats[name]] for name in self.order if name in self.stats],
        }


class StackSampler:
    """A poor man's py-spy: a thread that samples the main thread's Python stack every `interval` seconds.
    Time spent in C under the event loop (uvloop, httptools, asyncpg's protocol) shows as the loop itself."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples = self.busy = self.greenlet = 0
        self.leaf: collections.Counter[str] = collections.Counter()
        self.inclusive: collections.Counter[str] = collections.Counter()
        self.packages: collections.Counter[str] = collections.Counter()
        self.stacks: collections.Counter[tuple[str, ...]] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="stack-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        target = threading.main_thread().ident
        if target is None:
            return
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(target)
            if frame is None:
                continue
            labels = []
            while frame is not None:
                labels.append(_frame_label(frame.f_code.co_filename, frame.f_code.co_name))
                frame = frame.f_back
            self.samples += 1
            self.stacks[tuple(reversed(labels))] += 1
            self.leaf[labels[0]] += 1
            self.packages[_component(labels)] += 1
            if labels[0] != IDLE:
                self.busy += 1
                if not labels[-1].startswith("<frozen runpy>"):
                    # A greenlet's stack ends at its own root: SQLAlchemy's sync layer under greenlet_spawn.
                    self.greenlet += 1
            for label in set(labels):
                self.inclusive[label] += 1

    def report(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "busy": self.busy,
            "greenlet": self.greenlet,
            "packages": self.packages.most_common(),
            "leaf": self.leaf.most_common(40),
            "inclusive": self.inclusive.most_common(400),
            "folded": [[";".join(stack), count] for stack, count in self.stacks.most_common()],
        }


IDLE = "(event loop: idle, or C code under it: uvloop / httptools / asyncpg protocol)"


def _frame_label(filename: str, function: str) -> str:
    path = os.path.normpath(filename).replace("\\", "/")
    if "/site-packages/" in path:
        path = path.split("/site-packages/", 1)[1]
    elif path.startswith(str(ROOT) + "/"):
        path = path[len(str(ROOT)) + 1 :]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    if (path, function) in {
        ("stdlib/asyncio/runners.py", "run"),
        ("stdlib/asyncio/base_events.py", "run_forever"),
        ("stdlib/asyncio/base_events.py", "run_until_complete"),
    }:
        return IDLE
    return f"{path}:{function}"


def _component(labels: list[str]) -> str:
    """Who is doing the work in a sample (leaf first): the innermost frame outside the standard library."""
    if labels[0] == IDLE:
        return IDLE
    for label in labels:
        path = label.split(":", 1)[0]
        if path.startswith(("stdlib/", "<")):
            continue
        head = path.removesuffix(".py").split("/")
        return "/".join(
            head[:3] if head[0] == "services" else head[:2] if head[0] in ("shared", "bench") else head[:1]
        )
    return "stdlib: " + labels[0]


def print_stages(report: dict[str, Any]) -> None:
    requests = report["requests"] or 1
    print(f"  {'step':<66} {'calls/req':>9} {'CPU ms/req':>10} {'wall ms/req':>11}")
    for name, calls, cpu, wall in report["stages"]:
        print(
            f"  {name:<66} {calls / requests:9.2f} {1000 * cpu / requests:10.2f} {1000 * wall / requests:11.2f}"
        )


def print_samples(report: dict[str, Any]) -> None:
    samples, busy = report["samples"] or 1, report["busy"] or 1
    print(
        f"{report['samples']} samples; busy (running Python) in {100 * busy / samples:.0f}% of them, the rest "
        f"is the event loop idle or in C under it (uvloop, httptools, asyncpg's protocol); "
        f"{100 * report['greenlet'] / busy:.0f}% of the busy samples are in SQLAlchemy's sync layer (greenlets)"
    )
    print("busy time by component (innermost frame outside the standard library), % of busy:")
    for component, count in report["packages"]:
        if component != IDLE and count / busy >= 0.005:
            print(f"  {100 * count / busy:5.1f}%  {component}")
    print("hottest functions (self time), % of busy:")
    for label, count in [(label, count) for label, count in report["leaf"] if label != IDLE][:16]:
        print(f"  {100 * count / busy:5.1f}%  {label}")
    print("inclusive time of frames on the request path, % of busy:")
    wanted = (
        "services/",
        "shared/",
        "fastapi/routing.py:",
        "fastapi/dependencies/utils.py:solve_dependencies",
        "fastapi/_compat/",
        "opentelemetry/instrumentation/",
        "opentelemetry/sdk/trace/__init__.py:start_span",
        "sqlalchemy/orm/session.py:execute",
        "sqlalchemy/orm/session.py:commit",
        "sqlalchemy/orm/loading.py:instances",
        "sqlalchemy/sql/compiler.py:_process_parameters_for_postcompile",
        "sqlalchemy/pool/base.py:_checkout",
        "sqlalchemy/engine/default.py:_init_compiled",
        "sqlalchemy/dialects/postgresql/asyncpg.py:_prepare_and_execute",
        "sqlalchemy/dialects/postgresql/asyncpg.py:do_ping",
        "sqlalchemy/sql/elements.py:_compile_w_cache",
        "pydantic/main.py:__init__",
        "starlette/concurrency.py:run_in_threadpool",
    )
    shown = 0
    for label, count in report["inclusive"]:
        if label != IDLE and label.startswith(wanted) and count / busy < 0.995 and count / busy >= 0.01:
            print(f"  {100 * count / busy:5.1f}%  {label}")
            shown += 1
            if shown >= 50:
                break
