"""Calendar feeds over HTTP on the scripted history (history.py) plus three requests with dates to come: staff
create, list and revoke feeds; the feed parses with `icalendar`, holds the partner's deadlines as all-day
events with alarms on the days its reminders go out (hand-computed in French working days), and the
Europe/Paris VTIMEZONE; a revoked or unknown token gets 404; a partner's feed never holds another partner's
deadlines; a city owner's feed holds the items in their charge."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from icalendar import Calendar, Event

from shared.bus import StreamSpec
from shared.clock import PARIS
from shared.events import commitments as ev
from tests.responses import ok
from tests.services.notifications.served_commitments import Commitments
from tests.services.reporting.history import Story
from tests.services.reporting.served import NewDatabase, add_request, served_reporting

ICS_TYPE = "text/calendar; charset=utf-8"


def upcoming(story: Story) -> None:
    """i9 (A's): response due Friday 17 July 2026, across 14 July. i11 (A's): delivery due Saturday 1 August,
    moved to Monday 3 August (CPC art. 642). i10 (B's alone): response due Monday 20 July."""
    add_request(
        story,
        "i9",
        story.ids["a"],
        {"i9_response": ("response", date(2026, 7, 17))},
        sent_on=date(2026, 6, 10),
    )
    add_request(story, "i11", story.ids["a"], {"i11_delivery": ("delivery", date(2026, 8, 1))})
    add_request(
        story,
        "i10",
        story.ids["b"],
        {"i10_response": ("response", date(2026, 7, 20))},
        sent_on=date(2026, 6, 10),
    )


def paris(day: date) -> datetime:
    """08:30 in Paris on that day: the opening of the sending window, when the reminder goes out."""
    return datetime.combine(day, time(8, 30), tzinfo=PARIS)


def alarm_instants(event: Event) -> list[datetime]:
    """Each alarm's instant: its trigger (relative to the all-day event's start, 00:00) added to it."""
    start = datetime.combine(event.decoded("dtstart"), time(0))
    return [(start + alarm.decoded("trigger")).replace(tzinfo=PARIS) for alarm in event.walk("VALARM")]


def events_by_deadline(feed: Calendar) -> dict[str, Event]:
    return {str(event["uid"]).split("@")[0]: event for event in feed.walk("VEVENT")}


async def test_feed_events_alarms_timezone_and_tokens(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with served_reporting(
        commitments, new_reporting_database, nats_url, streams, extend=upcoming
    ) as served:
        ids = served.story.ids
        async with served.client("city") as city, served.client() as anyone:
            created = await city.post(
                "/v1/calendars", json={"partner_id": str(ids["a"]), "label": "Agenda de A"}
            )
            assert created.status_code == 201, created.text
            feed_a = created.json()
            token = feed_a["token"]
            assert feed_a["url"] == f"https://rapports.example.test/v1/calendars/{token}.ics"

            response = await anyone.get(f"/v1/calendars/{token}.ics")  # no key: the token is the credential
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == ICS_TYPE
            feed = Calendar.from_ical(response.content)

            timezones = feed.walk("VTIMEZONE")
            assert [str(tz["tzid"]) for tz in timezones] == ["Europe/Paris"]
            assert {component.name for component in timezones[0].subcomponents} == {"STANDARD", "DAYLIGHT"}
            assert str(feed["x-wr-calname"]) == "Échéances – Bailleur A"
            assert str(feed["uid"]) == feed_a["id"] and str(feed["x-published-ttl"]) == "PT1H"
            assert feed.decoded("refresh-interval") == timedelta(hours=1)

            events = events_by_deadline(feed)
            # A's deadlines (its requests, and i7 where it is associated), met ones included; never B's alone.
            assert str(ids["i8_response"]) not in events and str(ids["i10_response"]) not in events
            assert str(ids["i7_response"]) in events and str(ids["i9_response"]) in events

            i9 = events[str(ids["i9_response"])]
            assert i9.decoded("dtstart") == date(2026, 7, 17) and i9.decoded("dtend") == date(2026, 7, 18)
            assert str(i9["summary"]) == "Échéance (réponse) : Demande i9"
            assert str(i9["url"]) == f"https://intranet.example.test/elements/{ids['i9']}"
            description = str(i9["description"])
            assert f"Référence : {ids['i9']}" in description and "Statut : envoyée" in description
            # 10, 3 and 1 working days before Friday 17 July, then the day: 14 July is a holiday, so J-3 is
            # Monday 13 July (16, 15, 13) and J-10 Thursday 2 July (16, 15, 13, 10, 9, 8, 7, 6, 3, 2).
            assert alarm_instants(i9) == [
                paris(date(2026, 7, 2)),
                paris(date(2026, 7, 13)),
                paris(date(2026, 7, 16)),
                paris(date(2026, 7, 17)),
            ]
            assert [str(alarm["action"]) for alarm in i9.walk("VALARM")] == ["DISPLAY"] * 4
            assert str(i9.walk("VALARM")[1]["description"]) == "Rappel J-3 : Demande i9"
            assert i9.walk("VALARM")[0].decoded("trigger") == -timedelta(days=15, hours=-8, minutes=-30)

            # Due on a Saturday: reminders count from Monday 3 August (art. 642); J-1 is Friday 31 July,
            # J-3 Wednesday 29 July, J-10 Monday 20 July, and the day's reminder Monday 3 August.
            i11 = events[str(ids["i11_delivery"])]
            assert i11.decoded("dtstart") == date(2026, 8, 1)
            assert alarm_instants(i11) == [
                paris(date(2026, 7, 20)),
                paris(date(2026, 7, 29)),
                paris(date(2026, 7, 31)),
                paris(date(2026, 8, 3)),
            ]

            # Past and met deadlines are in the calendar without alarms: their reminders have all gone out.
            assert events[str(ids["i3_delivery"])].walk("VALARM") == []
            i1 = events[str(ids["i1_response"])]
            assert i1.walk("VALARM") == [] and "Atteinte le 13/03/2026" in str(i1["description"])

            # B's feed: its own deadlines, none of A's requests.
            feed_b = ok(await city.post("/v1/calendars", json={"partner_id": str(ids["b"])}))
            events_b = events_by_deadline(
                Calendar.from_ical((await anyone.get(f"/v1/calendars/{feed_b['token']}.ics")).content)
            )
            assert str(ids["i10_response"]) in events_b and str(ids["i8_response"]) in events_b
            assert not {
                str(ids[key]) for key in ("i9_response", "i11_delivery", "i3_delivery", "i1_response")
            } & set(events_b)

            # Listed without their secrets.
            listed = ok(await city.get("/v1/calendars"))
            assert {feed["id"] for feed in listed} == {
                feed_a["id"],
                feed_b["id"],
            }  # one instant: the clock is fixed
            assert all("token" not in feed and "url" not in feed for feed in listed)
            assert token not in (await city.get("/v1/calendars")).text

            # Revoked: 404 from now on, as an unknown token.
            assert (await city.delete(f"/v1/calendars/{feed_a['id']}")).status_code == 204
            revoked = await anyone.get(f"/v1/calendars/{token}.ics")
            assert revoked.status_code == 404
            assert revoked.headers["content-type"].startswith("application/problem+json")
            assert revoked.json()["detail"] == "Calendrier introuvable."
            assert (await anyone.get("/v1/calendars/cal_unknown.ics")).status_code == 404
            assert {
                feed["id"]: feed["revoked_at"] is not None for feed in ok(await city.get("/v1/calendars"))
            } == {feed_a["id"]: True, feed_b["id"]: False}
            # B's feed still answers.
            assert (await anyone.get(f"/v1/calendars/{feed_b['token']}.ics")).status_code == 200


async def test_only_staff_manage_feeds(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with served_reporting(commitments, new_reporting_database, nats_url, streams) as served:
        ids = served.story.ids
        async with (
            served.client("a") as a,
            served.client("reader") as reader,
            served.client("admin") as admin,
        ):
            for client in (a, reader):
                refused = await client.post("/v1/calendars", json={"partner_id": str(ids["a"])})
                assert refused.status_code == 403
                assert (await client.get("/v1/calendars")).status_code == 403
            feed = ok(await admin.post("/v1/calendars", json={"partner_id": str(ids["a"])}))
            assert (await a.delete(f"/v1/calendars/{feed['id']}")).status_code == 403
            unknown = await admin.post("/v1/calendars", json={"partner_id": str(ids["plan"])})
            assert (unknown.status_code, unknown.json()["detail"]) == (404, "Partenaire introuvable.")


async def test_a_city_owners_feed_holds_the_items_in_their_charge(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with commitments.client(commitments.admin_secret) as admin:
        city = ok(await admin.post("/v1/partners", json={"name": "Ville", "kind": "collectivite"}))["id"]
        owner = uuid.UUID(
            ok(
                await admin.post(
                    f"/v1/partners/{city}/contacts", json={"last_name": "Agent", "email": "agent@sceaux.fr"}
                )
            )["id"]
        )
        other = uuid.UUID(
            ok(await admin.post(f"/v1/partners/{city}/contacts", json={"last_name": "Autre"}))["id"]
        )

    def owned(story: Story) -> None:
        # i9 and i10 in the owner's charge, i11 in another agent's; then i10 is handed to the other agent.
        add_request(
            story, "i9", story.ids["a"], {"i9_response": ("response", date(2026, 7, 17))}, owner=owner
        )
        add_request(
            story, "i10", story.ids["b"], {"i10_response": ("response", date(2026, 7, 20))}, owner=owner
        )
        add_request(
            story, "i11", story.ids["a"], {"i11_delivery": ("delivery", date(2026, 8, 1))}, owner=other
        )
        story.script.emit(
            ev.ItemUpdated(
                item_id=story.ids["i10"],
                changed=["owner_contact_id"],
                title="Demande i10",
                lead_partner_id=story.ids["b"],
                associated_partner_ids=[],
                tags=[],
                budget=None,
                needs_review=False,
                owner_contact_id=other,
            ),
            date(2026, 6, 5),
        )

    async with served_reporting(
        commitments, new_reporting_database, nats_url, streams, extend=owned
    ) as served:
        ids = served.story.ids
        async with served.client("admin") as admin, served.client() as anyone:
            feed = ok(await admin.post("/v1/calendars", json={"owner_contact_id": str(owner)}))
            assert (feed["owner_contact_id"], feed["partner_id"]) == (str(owner), None)
            calendar = Calendar.from_ical((await anyone.get(f"/v1/calendars/{feed['token']}.ics")).content)
            assert str(calendar["x-wr-calname"]) == "Échéances des éléments dont vous êtes responsable"
            assert set(events_by_deadline(calendar)) == {str(ids["i9_response"])}
            assert alarm_instants(events_by_deadline(calendar)[str(ids["i9_response"])])[-1] == paris(
                date(2026, 7, 17)
            )

            theirs = ok(await admin.post("/v1/calendars", json={"owner_contact_id": str(other)}))
            calendar = Calendar.from_ical((await anyone.get(f"/v1/calendars/{theirs['token']}.ics")).content)
            assert set(events_by_deadline(calendar)) == {str(ids["i10_response"]), str(ids["i11_delivery"])}

            # A contact the commitments service does not know; both kinds of owner at once; neither.
            unknown = await admin.post("/v1/calendars", json={"owner_contact_id": str(uuid.uuid4())})
            assert unknown.status_code == 404
            both = await admin.post(
                "/v1/calendars", json={"owner_contact_id": str(owner), "partner_id": str(ids["a"])}
            )
            assert both.status_code == 422 and "pas les deux" in both.json()["detail"]
            assert (await admin.post("/v1/calendars", json={})).status_code == 422
