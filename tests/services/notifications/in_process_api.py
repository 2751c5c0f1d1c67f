"""The notifications API in this process for a test (its lifespan run: NATS, the commitments client), and an HTTP
client speaking to it with a key."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.notifications.app import create_app
from services.notifications.config import NotificationsSettings
from shared.clock import FixedClock


@contextlib.asynccontextmanager
async def notifications_api(settings: NotificationsSettings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    app = create_app(settings, clock)
    async with LifespanManager(app):
        yield app


def client(app: FastAPI, secret: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers)
