"""Events published by the notifications service on the `notifications.>` subjects: what happened to each
reminder (sent, failed, bounced) and each action link used.

Ids and stable codes only: never an address, a name or the text of a mail. A reader that needs the person
behind `contact_id` asks the commitments service, so erasing a contact there erases it everywhere.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from shared.events.envelope import EventData

DeliveryChannel = Literal["email", "webhook"]
ActionLinkPurpose = Literal["acknowledge", "done", "new_date", "not_for_me"]


class _DeliveryOutcome(EventData):
    """What happened to one delivery of one reminder step (`reminder_key`, as in the `deadline.*` events) to
    one recipient over one channel. `contact_id` is null for a webhook (an endpoint, not a person)."""

    publisher: ClassVar[str] = "notifications"

    delivery_id: UUID
    reminder_key: str
    item_id: UUID
    plan_id: UUID
    deadline_id: UUID | None
    partner_id: UUID | None
    contact_id: UUID | None
    channel: DeliveryChannel
    # Attempts made so far, this one included (1 for a first try that worked).
    attempt: int
    # A stable code, never the server's own words (they may quote the address): null when sent.
    reason: str | None


class DeliverySent(_DeliveryOutcome):
    type, summary = (
        "delivery.sent",
        "Un rappel a été remis au serveur de courrier (ou au webhook), qui l'a accepté.",
    )


class DeliveryFailed(_DeliveryOutcome):
    type, summary = (
        "delivery.failed",
        ("Un rappel n'a pas pu être envoyé : refus définitif, ou abandon après les nouvelles tentatives."),
    )
    # True when sending again to the same address cannot work (5xx, no address, invalid address).
    permanent: bool


class DeliveryBounced(_DeliveryOutcome):
    type, summary = (
        "delivery.bounced",
        ("Un rappel accepté a été renvoyé plus tard par le serveur du destinataire (avis de non-remise)."),
    )


class ActionLinkUsed(EventData):
    type, summary = (
        "action_link.used",
        (
            "Un contact a utilisé un lien d'action d'un rappel (accusé de réception, fait, nouvelle "
            "date, « pas pour moi »)."
        ),
    )
    publisher: ClassVar[str] = "notifications"

    item_id: UUID
    deadline_id: UUID | None
    partner_id: UUID | None
    contact_id: UUID | None
    action: ActionLinkPurpose


# The stable codes of `reason`, for reports ("addresses to fix"). A bounce's reason is "<code>:<DSN status>",
# e.g. "invalid-address:5.1.1" (RFC 3463 status of the recipient's server).
REASONS = {
    "smtp-refused": "le serveur de courrier a refusé le message (5xx)",
    "smtp-gave-up": "refus temporaires (4xx) jusqu'à l'abandon",
    "no-recipient": "plus personne à qui écrire (contact effacé ou sans adresse)",
    "invalid-address": "adresse inconnue ou invalide chez le destinataire",
    "mailbox-unavailable": "boîte pleine, désactivée ou indisponible chez le destinataire",
    "message-refused": "message refusé par le serveur du destinataire (filtrage, politique)",
    "bounced": "avis de non-remise pour une autre raison",
    "webhook-refused": "le point d'arrivée du webhook a répondu par une erreur",
    "webhook-unreachable": "le point d'arrivée du webhook n'a pas répondu",
}
