"""The commitments service's ORM base and its unit of work: one session and one transaction per request."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import NAMING_CONVENTION, UtcDateTime, new_id, read_sessionmaker, request_session

# Sessions that wake the relay after a commit that wrote outbox rows (shared/outbox/session.py).
from shared.outbox.session import outbox_aware_sessionmaker

__all__ = ["Base", "IdMixin", "outbox_aware_sessionmaker", "read_sessionmaker", "request_session"]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
