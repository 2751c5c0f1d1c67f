"""Reading a Prometheus exposition in tests: every sample by (name, labels), parsed with prometheus_client's
own parser, and waiting for a scrape that says what a test expects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Scraped = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Scraped:
    """Every sample of an exposition: (name, labels) → value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: Scraped, name: str, **labels: str) -> float:
    """A sample's value, 0 when the series does not exist (yet)."""
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def scrape_until(
    url: str, holds: Callable[[Scraped], bool], what: str, timeout: float = 90.0
) -> Scraped:
    """Scrape `url` until what it answers satisfies `holds` (a bound on the wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    last: Scraped = {}
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                answer = await client.get(url)
                if answer.status_code == 200:
                    last = samples(answer.text)
                    if holds(last):
                        return last
            except httpx.HTTPError:
                pass  # still starting
            await asyncio.sleep(0.2)
    series = sorted(
        (name, dict(labels), number)
        for (name, labels), number in last.items()
        if name.startswith("engagements")
    )
    raise AssertionError(f"timed out waiting for: {what}; last scrape: {series}")
