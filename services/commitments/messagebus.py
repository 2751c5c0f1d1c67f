"""Domain events: a change in one package that other packages react to, inside the same unit of work.

A service makes its change, then publishes what happened (`await publish(session, clock, event)`). The
handlers that `subscriptions.py` lists for the event's type run at once, in that order, on the same session:
what they write commits or rolls back with the change, in the same transaction. So a package never calls up
the stack: deadlines say "a deadline was dated", and reminders — which sit above deadlines — re-arm its
schedule. An event that a handler publishes waits in the session's queue until the handlers of the current
event are done (first in, first out, as in cosmicpython's message bus). A handler that raises stops the
dispatch and the queue is dropped: the exception reaches the service's caller as the service's own would
(a domain error renders as its problem+json) and the transaction edge rolls everything back.

Handled when published rather than just before commit: a refusal must become the request's answer before
the response is built, the response reads what handlers changed, and every transaction edge (a request,
the scanner's batch, a command, a test) runs the handlers without having to remember to.

These events are in-process and typed by the package whose change they describe (`<package>/events.py`);
the integration events of `shared/events/`, written to the outbox for other services, are another thing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import Clock

Handler = Callable[[AsyncSession, Clock, Any], Awaitable[None]]

_QUEUE = "domain_events"
_DISPATCHING = "domain_events_dispatching"
_handlers: dict[type, tuple[Handler, ...]] = {}


def install(handlers: Mapping[type, Sequence[Handler]]) -> None:
    """Make `handlers` the reactions to each event type, replacing any earlier table (subscriptions.py)."""
    _handlers.clear()
    _handlers.update({event_type: tuple(found) for event_type, found in handlers.items()})


def handlers_of(event_type: type) -> tuple[Handler, ...]:
    """The handlers an event of this type runs, in order; an event nobody handles is a wiring mistake."""
    found = _handlers.get(event_type)
    if not found:
        raise LookupError(
            f"no handler for the domain event {event_type.__name__}: is it listed in "
            "services/commitments/subscriptions.py, and was subscriptions.install() called?"
        )
    return found


async def publish(session: AsyncSession, clock: Clock, event: object) -> None:
    """Handle `event` and every event its handlers publish, in the session's transaction, before returning."""
    handlers_of(type(event))  # refuse an unknown event before anything runs
    queue: deque[object] = session.info.setdefault(_QUEUE, deque())
    queue.append(event)
    if session.info.get(_DISPATCHING):
        return  # published by a handler: handled once the current event's handlers are done
    session.info[_DISPATCHING] = True
    try:
        while queue:
            current = queue.popleft()
            for handler in handlers_of(type(current)):
                await handler(session, clock, current)
    except BaseException:
        queue.clear()  # the transaction rolls back: what was waiting never happened
        raise
    finally:
        session.info[_DISPATCHING] = False
