"""What a scenario prints besides its own figures: means, the machine's load average, and the error that ends a
run without meaningful figures (exit code 2)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence


class BenchError(Exception):
    """The run cannot give meaningful figures (a server failed, the two pages differ …)."""


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `1.0/2.0/3.0`."""
    return "/".join(f"{value:.1f}" for value in os.getloadavg())
