"""Dates a caller states are checked against today in Europe/Paris and against the sending of the request: a
422 naming the field, and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.responses import ok

TODAY, TOMORROW = "2026-03-02", "2026-03-03"  # the clock fixture: Monday 2 March 2026, 10:00 in Paris


async def _request(admin, make_objective, make_partner, sent_on: str | None = "2026-02-16"):
    item = ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(await make_objective()),
                "kind": "request",
                "title": "Maison France services",
                "plan_text": "La Ville demande à l'État d'ouvrir une maison France services.",
                "lead_partner_id": str(await make_partner("État")),
            },
        )
    )
    if sent_on:
        ok(
            await admin.post(
                f"/v1/items/{item['id']}/transitions",
                json={"to": "sent", "letter_reference": "L1", "on": sent_on},
            )
        )
    return item["id"]


async def _state(admin, item_id):
    paths = ("", "/history", "/journal", "/deadlines", "/deadline-proposals")
    return [ok(await admin.get(f"/v1/items/{item_id}{path}")) for path in paths]


async def _refused(admin, item_id, path, body, field, method="POST"):
    before = await _state(admin, item_id)
    response = await admin.request(method, path.format(item_id=item_id), json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"].startswith(f"{field} :") and problem["field"] == field, problem
    assert await _state(admin, item_id) == before, "refused, yet something was written"


@pytest.mark.parametrize(
    ("to", "on", "why"),
    [
        ("acknowledged", TOMORROW, "in the future"),
        ("accepted", TOMORROW, "in the future"),
        ("declined", "2026-02-15", "before the letter went out"),
        ("accepted", "2026-02-15", "before sending"),
        ("abandoned", TOMORROW, "in the future"),
        ("no_answer", "2026-01-01", "before sending"),
    ],
)
async def test_a_transition_dated_in_the_future_or_before_sending_is_refused(
    admin, make_objective, make_partner, to, on, why
):
    item = await _request(admin, make_objective, make_partner)
    await _refused(admin, item, "/v1/items/{item_id}/transitions", {"to": to, "on": on}, "on")


async def test_dates_that_hold(admin, make_objective, make_partner):
    # A letter sent long before the plan was put in the tool is recorded as such.
    item = await _request(admin, make_objective, make_partner, sent_on="2021-06-01")
    assert ok(await admin.get(f"/v1/items/{item}"))["sent_on"] == "2021-06-01"
    ok(await admin.post(f"/v1/items/{item}/transitions", json={"to": "acknowledged", "on": "2021-06-01"}))
    accepted = ok(await admin.post(f"/v1/items/{item}/transitions", json={"to": "accepted", "on": TODAY}))
    assert accepted["status"] == "accepted"
    # A note may precede the letter (a meeting that prepared it); an answer may not.
    for kind, on in (("note", "2021-05-20"), ("response", TODAY)):
        ok(
            await admin.post(
                f"/v1/items/{item}/journal", json={"kind": kind, "text": "Réunion.", "occurred_on": on}
            )
        )


async def test_sending_in_the_future_is_refused(admin, make_objective, make_partner):
    item = await _request(admin, make_objective, make_partner, sent_on=None)
    await _refused(
        admin,
        item,
        "/v1/items/{item_id}/transitions",
        {"to": "sent", "letter_reference": "L1", "on": TOMORROW},
        "on",
    )


async def test_a_commitment_done_tomorrow_is_refused(admin, make_objective):
    item = ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(await make_objective()),
                "kind": "commitment",
                "title": "Agence postale",
                "plan_text": "La Ville ouvrira une agence postale communale.",
            },
        )
    )["id"]
    await _refused(admin, item, "/v1/items/{item_id}/transitions", {"to": "done", "on": TOMORROW}, "on")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"kind": "note", "text": "Demain.", "occurred_on": TOMORROW}, "in the future"),
        (
            {"kind": "progress", "text": "Fini.", "progress_percent": 100, "occurred_on": TOMORROW},
            "in the future",
        ),
        ({"kind": "response", "text": "Accord.", "occurred_on": "2026-02-15"}, "an answer before sending"),
    ],
)
async def test_a_journal_entry_dated_wrong_is_refused(admin, make_objective, make_partner, body, why):
    item = await _request(admin, make_objective, make_partner)
    await _refused(admin, item, "/v1/items/{item_id}/journal", body, "occurred_on")


async def test_a_milestone_met_tomorrow_and_a_date_proposed_for_today_are_refused(
    admin, make_objective, make_partner
):
    item = await _request(admin, make_objective, make_partner)
    milestone = ok(
        await admin.post(
            f"/v1/items/{item}/deadlines",
            json={"kind": "milestone", "due_on": "2026-03-31", "label": "Comité"},
        )
    )
    await _refused(admin, item, f"/v1/deadlines/{milestone['id']}", {"met_on": TOMORROW}, "met_on", "PATCH")
    assert (
        ok(await admin.patch(f"/v1/deadlines/{milestone['id']}", json={"met_on": TODAY}))["met_on"] == TODAY
    )
    for day in ("2026-03-01", TODAY):
        await _refused(
            admin,
            item,
            f"/v1/deadlines/{milestone['id']}/proposals",
            {"proposed_due_on": day, "reason": "Report."},
            "proposed_due_on",
        )
    ok(
        await admin.post(
            f"/v1/deadlines/{milestone['id']}/proposals",
            json={"proposed_due_on": TOMORROW, "reason": "Report."},
        )
    )


async def test_today_is_the_paris_date(admin, make_objective, make_partner, clock):
    """At 23:30 UTC on 2 March it is already 3 March in Paris: an answer dated 3 March is not in the future."""
    item = await _request(admin, make_objective, make_partner)
    clock.instant = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    ok(await admin.post(f"/v1/items/{item}/transitions", json={"to": "accepted", "on": TOMORROW}))
    await _refused(
        admin,
        item,
        "/v1/items/{item_id}/journal",
        {"kind": "note", "text": "Après-demain.", "occurred_on": "2026-03-04"},
        "occurred_on",
    )
