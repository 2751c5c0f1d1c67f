"""ItemRead as the listing builds it (validated from the typed values the service has) is what pydantic's own
construction builds, every field set, and renders the same JSON."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.commitments.items.lifecycle import ItemKind, Status
from services.commitments.items.schemas import ItemRead


def _values() -> dict[str, Any]:
    return dict(
        id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        axis_id=uuid.uuid4(),
        objective_id=uuid.uuid4(),
        position=3,
        reference="I.A.3",
        kind=ItemKind.REQUEST,
        title="Centre commercial",
        plan_text="La Ville demande…",
        status=Status.SENT,
        status_label="envoyée",
        allowed_transitions=[Status.ACKNOWLEDGED, Status.ABANDONED],
        lead_partner_id=uuid.uuid4(),
        associated_partner_ids=[uuid.uuid4()],
        owner_contact_id=None,
        elected_contact_id=None,
        budget=Decimal("150000.00"),
        tags=["Sceaux"],
        needs_review=True,
        review_reason="Partenaire ajouté.",
        review_flags=[{"code": "partner-created", "message": "Partenaire ajouté."}],
        sent_on=date(2026, 3, 2),
        letter_reference="SCX/DGS/2026-041",
        progress_percent=None,
        next_due_on=date(2026, 6, 1),
        overdue=False,
        version=2,
        created_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        updated_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    )


def test_every_field_given_builds_what_pydantic_builds() -> None:
    values = _values()
    built = ItemRead.model_validate(values)  # what items.service.to_read does for each item of a page
    constructed = ItemRead.model_construct(**values)
    assert built == constructed
    assert built.model_fields_set == constructed.model_fields_set == set(ItemRead.model_fields)
    assert built.model_dump_json() == constructed.model_dump_json()
