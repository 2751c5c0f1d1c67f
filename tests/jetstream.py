"""What a JetStream stream holds, read without a consumer (nothing to clean up)."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError


async def stream_messages(js: JetStreamContext, stream_name: str) -> list[RawStreamMsg]:
    """Every message the stream holds, by sequence (no consumer: nothing to clean up)."""
    try:
        info = await js.stream_info(stream_name)
    except NotFoundError:
        return []
    if not info.state.messages:
        return []
    sequences = range(info.state.first_seq, info.state.last_seq + 1)
    return [await js.get_msg(stream_name, seq) for seq in sequences]


async def stream_exists(js: JetStreamContext, stream_name: str) -> bool:
    try:
        await js.stream_info(stream_name)
    except NotFoundError:
        return False
    return True
