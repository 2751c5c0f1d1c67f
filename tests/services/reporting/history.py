"""A scripted history of one plan, two partners and their requests, with every figure of partner A's
scorecard worked out by hand (below, beside the events that make it).

Today is Monday 15 June 2026; the period is 1 March – 31 May 2026. Public holidays on the way: Easter Monday
(6 April), 1 May (Friday), 8 May (Friday), Ascension (Thursday 14 May). Working days are counted as shared/calendar.py does: from the first
date excluded to the second included."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from shared.clock import FixedClock
from shared.events import commitments as ev
from tests.services.reporting.scripted_events import Script

TODAY = date(2026, 6, 15)
PERIOD = ("2026-03-01", "2026-05-31")


def clock() -> FixedClock:
    return FixedClock(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))


@dataclass
class Story:
    script: Script
    ids: dict[str, uuid.UUID] = field(default_factory=dict)


def _id() -> uuid.UUID:
    return uuid.uuid4()


def scorecard_story(partner_a: uuid.UUID, partner_b: uuid.UUID, with_partners: bool = True) -> Story:
    """The history. `with_partners`: also the partner.created events (a test whose partners come from the
    commitments service's own events leaves them out)."""
    s = Script()
    ids = {
        "a": partner_a,
        "b": partner_b,
        "plan": _id(),
        "axis": _id(),
        "objective": _id(),
        "axis2": _id(),
        "objective2": _id(),
    }
    start = date(2026, 1, 5)
    if with_partners:
        s.emit(
            ev.PartnerCreated(
                partner_id=partner_a, name="Bailleur A", kind="bailleur_social", is_group=False
            ),
            start,
        )
        s.emit(
            ev.PartnerCreated(
                partner_id=partner_b,
                name="Territoire B",
                kind="etablissement_public_territorial",
                is_group=False,
            ),
            start,
        )
    s.emit(ev.PlanCreated(plan_id=ids["plan"], title="Plan d'action du quartier", commune="Sceaux"), start)
    s.emit(
        ev.AxisCreated(axis_id=ids["axis"], plan_id=ids["plan"], number="I", title="BIEN VIVRE", position=1),
        start,
    )
    s.emit(
        ev.ObjectiveCreated(
            objective_id=ids["objective"],
            axis_id=ids["axis"],
            plan_id=ids["plan"],
            letter="A",
            title="CADRE DE VIE",
            position=1,
        ),
        start,
    )
    s.emit(
        ev.AxisCreated(
            axis_id=ids["axis2"], plan_id=ids["plan"], number="II", title="BIEN GRANDIR", position=2
        ),
        start,
    )
    s.emit(
        ev.ObjectiveCreated(
            objective_id=ids["objective2"],
            axis_id=ids["axis2"],
            plan_id=ids["plan"],
            letter="A",
            title="ÉCOLES",
            position=1,
        ),
        start,
    )

    def item(
        key: str,
        lead: uuid.UUID,
        associated: tuple[uuid.UUID, ...] = (),
        objective: str = "objective",
        kind: str = "request",
    ) -> uuid.UUID:
        ids[key] = _id()
        s.emit(
            ev.ItemCreated(
                item_id=ids[key],
                plan_id=ids["plan"],
                objective_id=ids[objective],
                kind=kind,  # type: ignore[arg-type]
                title=f"Demande {key}",
                status="draft" if kind == "request" else "planned",
                lead_partner_id=lead,
                associated_partner_ids=list(associated),
                tags=[],
                needs_review=False,
            ),
            start,
        )
        return ids[key]

    def deadline(
        key: str,
        item_key: str,
        kind: str,
        due: date,
        previous: date | None = None,
        version: int = 1,
        day: date = start,
    ) -> None:
        ids.setdefault(key, _id())
        s.emit(
            ev.DeadlineSet(
                deadline_id=ids[key],
                item_id=ids[item_key],
                kind=kind,
                due_on=due,  # type: ignore[arg-type]
                previous_due_on=previous,
                deadline_version=version,
            ),
            day,
        )

    def status(item_key: str, old: str, new: str, on: date) -> None:
        s.emit(ev.ItemStatusChanged(item_id=ids[item_key], from_status=old, to_status=new, on=on), on)

    # i1: sent Mon 2 March, acknowledged 4 March, accepted Fri 13 March: 9 working days (3–6: 4, 9–13: 5),
    # within its response date (20 March). Delivered 10 April, verified 17 April.
    item("i1", partner_a)
    deadline("i1_response", "i1", "response", date(2026, 3, 20))
    status("i1", "draft", "sent", date(2026, 3, 2))
    status("i1", "sent", "acknowledged", date(2026, 3, 4))
    status("i1", "acknowledged", "accepted", date(2026, 3, 13))
    status("i1", "accepted", "delivered", date(2026, 4, 10))
    status("i1", "delivered", "verified", date(2026, 4, 17))
    # i2: sent Mon 23 March, declined Wed 8 April: 24–27 March (4), 30 March–3 April (5), Easter Monday off,
    # 7–8 April (2) = 11 working days, after its response date (3 April).
    item("i2", partner_a)
    deadline("i2_response", "i2", "response", date(2026, 4, 3))
    status("i2", "draft", "sent", date(2026, 3, 23))
    status("i2", "sent", "declined", date(2026, 4, 8))
    # i3: response date 30 April moved to 15 May (slippage: 1 May off, 4–7 May (4), 8 May off, 11–13 May (3),
    # Ascension on Thursday 14 May, 15 May (1) = 8 working days). Sent Mon 20 April, partially accepted Tue 12 May: 21–24 April (4), 27–30 April (4), 4–7 May
    # (4), 11–12 May (2) = 14 working days, within the date then in force. In progress; its delivery date, Mon
    # 1 June, has passed: late, waiting on the partner, 10 working days (2–5 June: 4, 8–12: 5, 15: 1).
    item("i3", partner_a)
    deadline("i3_response", "i3", "response", date(2026, 4, 30))
    deadline("i3_delivery", "i3", "delivery", date(2026, 6, 1))
    status("i3", "draft", "sent", date(2026, 4, 20))
    deadline(
        "i3_response",
        "i3",
        "response",
        date(2026, 5, 15),
        previous=date(2026, 4, 30),
        version=2,
        day=date(2026, 4, 28),
    )
    status("i3", "sent", "partially_accepted", date(2026, 5, 12))
    status("i3", "partially_accepted", "in_progress", date(2026, 5, 13))
    s.emit(
        ev.JournalEntryAdded(
            entry_id=_id(), item_id=ids["i3"], kind="progress", progress_percent=40, on=date(2026, 5, 20)
        ),
        date(2026, 5, 20),
    )
    # i4: sent in January (outside the period), never answered: its response date, Fri 13 February, is far
    # behind: very late (more than 20 working days), waiting on the partner.
    item("i4", partner_a)
    deadline("i4_response", "i4", "response", date(2026, 2, 13))
    status("i4", "draft", "sent", date(2026, 1, 12))
    status("i4", "sent", "no_answer", date(2026, 2, 16))
    # i5: never sent; its response date (Fri 29 May) has passed: late, waiting on the city (the letter), 11
    # working days (1–5 June: 5, 8–12: 5, 15: 1).
    item("i5", partner_a)
    deadline("i5_response", "i5", "response", date(2026, 5, 29))
    # i6: sent Mon 4 May, acknowledged 5 May, accepted Wed 6 May (2 working days; no response date), delivered
    # 20 May; its verification milestone (Fri 29 May) is not met: late, waiting on the city.
    item("i6", partner_a, objective="objective2")
    deadline("i6_check", "i6", "milestone", date(2026, 5, 29))
    status("i6", "draft", "sent", date(2026, 5, 4))
    status("i6", "sent", "acknowledged", date(2026, 5, 5))
    status("i6", "acknowledged", "accepted", date(2026, 5, 6))
    status("i6", "accepted", "delivered", date(2026, 5, 20))
    # i7: partner B's, A associated: in none of A's figures (a scorecard counts the requests a partner leads).
    item("i7", partner_b, associated=(partner_a,))
    deadline("i7_response", "i7", "response", date(2026, 3, 6))
    status("i7", "draft", "sent", date(2026, 3, 2))
    status("i7", "sent", "accepted", date(2026, 3, 3))
    # i8: partner B's alone, late (response date 1 June, sent, no answer): never shown to A.
    item("i8", partner_b)
    deadline("i8_response", "i8", "response", date(2026, 6, 1))
    status("i8", "draft", "sent", date(2026, 5, 18))
    # A city commitment, done.
    item("c1", partner_b, kind="commitment")
    status("c1", "planned", "done", date(2026, 4, 1))

    # Reminders to A's people. r1: one delivery sent, one refused → reached. r2: one refused, one sent then
    # bounced → reached nobody. r3: a temporary failure then sent → reached. r4: sent in February (outside the
    # period). r5: to B. r6: only a temporary failure so far → neither.
    def delivery(
        event_type: str,
        reminder: str,
        day: date,
        partner: uuid.UUID,
        item_key: str,
        delivery_id: str,
        **extra: object,
    ) -> None:
        ids.setdefault(delivery_id, _id())
        s.notify(
            event_type,
            day,
            delivery_id=ids[delivery_id],
            reminder_key=f"{reminder}:1:1:overdue",
            item_id=ids[item_key],
            plan_id=ids["plan"],
            deadline_id=None,
            partner_id=partner,
            contact_id=_id(),
            channel="email",
            attempt=extra.pop("attempt", 1),
            reason=extra.pop("reason", None),
            **extra,
        )

    delivery("delivery.sent", "r1", date(2026, 3, 20), partner_a, "i4", "d1")
    delivery(
        "delivery.failed",
        "r1",
        date(2026, 3, 20),
        partner_a,
        "i4",
        "d2",
        reason="smtp-refused",
        permanent=True,
    )
    delivery(
        "delivery.failed",
        "r2",
        date(2026, 4, 10),
        partner_a,
        "i4",
        "d3",
        reason="smtp-refused",
        permanent=True,
    )
    delivery("delivery.sent", "r2", date(2026, 4, 10), partner_a, "i4", "d4")
    delivery(
        "delivery.bounced", "r2", date(2026, 4, 11), partner_a, "i4", "d4", reason="mailbox-unavailable:5.2.2"
    )
    delivery(
        "delivery.failed",
        "r3",
        date(2026, 5, 5),
        partner_a,
        "i4",
        "d5",
        reason="smtp-gave-up",
        permanent=False,
    )
    delivery("delivery.sent", "r3", date(2026, 5, 5), partner_a, "i4", "d5", attempt=2)
    delivery("delivery.sent", "r4", date(2026, 2, 10), partner_a, "i4", "d6")
    delivery("delivery.sent", "r5", date(2026, 3, 20), partner_b, "i8", "d7")
    delivery(
        "delivery.failed",
        "r6",
        date(2026, 5, 10),
        partner_a,
        "i4",
        "d8",
        reason="smtp-gave-up",
        permanent=False,
    )
    s.notify(
        "action_link.used",
        date(2026, 3, 4),
        item_id=ids["i1"],
        deadline_id=ids["i1_response"],
        partner_id=partner_a,
        contact_id=_id(),
        action="acknowledge",
    )
    return Story(s, ids)


# Partner A over 1 March – 31 May 2026, as of 15 June 2026, worked out above.
EXPECTED_A = {
    "requested": 4,  # i1, i2, i3, i6 (i4 was sent in January, i5 never)
    "acknowledged": 2,  # i1, i6
    "answered": 4,  # i1, i2, i3, i6
    "answered_within_deadline": 2,  # i1, i3 (i2 late; i6 had no response date)
    "answered_within_deadline_percent": 66.7,  # 2 of the 3 answers that had a date
    "median_response_working_days": 10.0,  # delays 2, 9, 11, 14: (9 + 11) / 2
    "p90_response_working_days": 14,  # nearest rank: the 4th of 4
    "delivered": 2,  # i1 (10 April), i6 (20 May)
    "verified": 1,  # i1
    "overdue_now": {"total": 4, "waiting_on_partner": 2, "waiting_on_city": 2},  # i3, i4 | i5, i6
    "very_overdue_now": {"total": 1, "waiting_on_partner": 1, "waiting_on_city": 0},  # i4
    "reminders_sent": 2,  # r1, r3
    "reminders_unreached": 1,  # r2
}
