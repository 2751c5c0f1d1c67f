"""Reading an HTTP answer in a test."""

from __future__ import annotations

from typing import Any

import httpx


def ok(response: httpx.Response) -> Any:
    """The JSON of a 200 or 201 answer (the test fails on any other, showing the body)."""
    assert response.status_code in (200, 201), response.text
    return response.json()
