"""What the benchmark scenarios share, apart from what they measure:

    dataset.py       the commitments data set loaded with COPY (partners, plans, items …) and API keys
    servers.py       servers in subprocesses of their own (uvicorn on a free loopback port), their CPU and probes
    http_clients.py  the load generator's HTTP clients (a minimal HTTP/1.1 keep-alive client, or httpx)
    load.py          the load generator: N connections on a server for a time, requests/s, latencies, CPU
    profiling.py     a stack sampler and step timings, run inside a server process, and their printing
    report.py        means, the machine's load, and the error that ends a run without figures
    postgres.py      the PostgreSQL the scenarios create their databases on, and a database for one run
    smtp_sink.py     the SMTP sink of notifications_throughput (in a process of its own, or a thread)

Each scenario (bench/<scenario>.py) holds what it measures, its baseline and its verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any


def run_async(
    main: Callable[[argparse.Namespace], Coroutine[Any, Any, int]], args: argparse.Namespace
) -> int:
    """Run a scenario's coroutine on uvloop (as the services run), or asyncio's loop without it."""
    # A handler on the root logger keeps Alembic from installing its own INFO logging (see migrations/env.py).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main(args))
    return uvloop.run(main(args))
