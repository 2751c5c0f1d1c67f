"""Imports every ORM model so that Alembic and the metadata see the whole schema."""

from services.notifications.actions.models import ActionLinkUse  # noqa: F401 - imported to register its tables
from services.notifications.database import Base
from services.notifications.deliveries.models import Delivery, SenderWorker  # noqa: F401 - imported to register its tables
from services.notifications.outbox.models import OutboxMessage  # noqa: F401 - imported to register its tables
from services.notifications.preferences.models import ContactPreference
from services.notifications.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription  # noqa: F401 - imported to register its tables

__all__ = ["Base", "ContactPreference", "Delivery"]
