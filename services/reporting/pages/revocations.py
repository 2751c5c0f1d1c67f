"""Revoked keys for the page's sessions, read back from the commitments stream at start.

The key cache follows `api_key.revoked` as it is published (shared/bus.py: follow_key_revocations), which is
enough for a cache of a few seconds; a session lives up to PAGES_SESSION_MAX_AGE_SECONDS, so a process started
after a revocation must also know the revocations of that span. An ordered consumer of the stream, from that
long ago, delivers them (and every later one)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from services.reporting.pages.sessions import Sessions
from shared.bus import StreamSpec
from shared.events import EventEnvelope
from shared.events.commitments import ApiKeyRevoked

logger = logging.getLogger(__name__)


async def follow_revoked_keys(
    client: NatsClient, stream: StreamSpec, sessions: Sessions, now: datetime
) -> None:
    """End the sessions of every key revoked since a session's lifetime before `now`, and of those revoked
    later. A stream not created yet holds no revocation: the live subscription of the key cache covers those to
    come."""

    async def on_revoked(message: Msg) -> None:
        try:
            event = EventEnvelope.model_validate_json(message.data).parsed()
        except (ValueError, KeyError):
            logger.warning("unreadable api_key.revoked message ignored")
            return
        if isinstance(event, ApiKeyRevoked):
            sessions.revoke(event.key_id)

    since = now - timedelta(seconds=sessions.max_age_seconds)
    try:
        await client.jetstream().subscribe(
            stream.subject_for(ApiKeyRevoked.type),
            stream=stream.name,
            cb=on_revoked,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.BY_START_TIME,
            config=ConsumerConfig(opt_start_time=since),
        )
    except NotFoundError:
        logger.info("stream %s not there yet: no past revocation to read", stream.name)
