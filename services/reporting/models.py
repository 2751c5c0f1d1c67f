"""Imports every ORM model so that Alembic and the metadata see the whole schema."""

from services.reporting.calendar.models import CalendarFeed  # noqa: F401
from services.reporting.database import Base
from services.reporting.projection.models import (  # noqa: F401
    Axis,
    Deadline,
    Delivery,
    Item,
    ItemPartner,
    Objective,
    Partner,
    PartnerMember,
    Plan,
    ProcessedEvent,
    StreamPosition,
    TimelineEntry,
)

__all__ = ["Base"]
