"""Ports for the servers a test starts (uvicorn, aiosmtpd, probes): a free one on the loopback interface.

Under pytest-xdist each worker takes its ports from a block of its own, below the kernel's ephemeral range
(where `bind(0)` and outgoing connections take theirs): a port one worker was given and has not bound yet can
then not be given to another worker too. Alone (a plain `pytest`, `make faults`), the kernel picks one."""

from __future__ import annotations

import itertools
import os
import re
import socket

FIRST_PORT = 20000  # the workers' blocks: gw0 from here, BLOCK ports each, below 32768 (ephemeral ports)
BLOCK = 400
_WORKER = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
_INDEX = int(_WORKER.group(1)) if _WORKER else None
_next_in_block = itertools.count()


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    if _INDEX is not None and FIRST_PORT + (_INDEX + 1) * BLOCK <= 32768:
        start = FIRST_PORT + _INDEX * BLOCK
        for _ in range(BLOCK):
            port = start + next(_next_in_block) % BLOCK
            if _bindable(port):
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
