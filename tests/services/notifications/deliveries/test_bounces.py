"""Bounces: delivery status notifications (RFC 3464) as mail servers write them, read with the standard library,
and handed over to POST /v1/deliveries/bounces after real sends (SMTP server, commitments service over HTTP):
the delivery is marked bounced and `delivery.bounced` written once, in the same transaction, without the
address; reports that are not failures, unknown messages and other callers change nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import select

from services.notifications.config import NotificationsSettings
from services.notifications.consumer import worker
from services.notifications.deliveries.bounces import NotADeliveryReport, parse_report
from services.notifications.outbox.models import OutboxMessage
from shared.auth import Role
from shared.bus import StreamSpec, ensure_stream
from shared.clock import FixedClock
from shared.events import EventEnvelope
from shared.events.notifications import DeliveryBounced
from tests.responses import ok
from tests.services.notifications.in_process_api import client, notifications_api
from tests.services.notifications.served_commitments import Commitments
from tests.services.notifications.test_api import consume_all
from tests.services.notifications.world import World, publish, reminder_event
from tests.smtp_sink import SinkHandler

MESSAGE_ID = "<019abc12-8702-7000-abee-62cd37c4247d@sceaux.example>"


def postfix_dsn(
    message_id: str,
    recipient: str,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
) -> bytes:
    """A DSN as Postfix writes it: the returned message's headers only (text/rfc822-headers)."""
    return f"""\
Return-Path: <>
From: MAILER-DAEMON@mx.hsh.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: engagements@sceaux.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="3F2A1.1772442001/mx.hsh.example"
Message-Id: <20260302090001.4C1D2@mx.hsh.example>

This is a MIME-encapsulated message.

--3F2A1.1772442001/mx.hsh.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.hsh.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--3F2A1.1772442001/mx.hsh.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.hsh.example
X-Postfix-Queue-ID: 3F2A1
X-Postfix-Sender: rfc822; engagements@sceaux.example
Arrival-Date: Mon,  2 Mar 2026 10:00:01 +0100 (CET)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mail.hsh.example
Diagnostic-Code: smtp; {diagnostic.format(rcpt=recipient)}

--3F2A1.1772442001/mx.hsh.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Ville de Sceaux <engagements@sceaux.example>
To: Claire Martin <{recipient}>
Subject: =?utf-8?q?Rappel_=3A_=C3=A9ch=C3=A9ance?=
Message-ID: {message_id}
Date: Mon, 02 Mar 2026 09:00:00 +0000

--3F2A1.1772442001/mx.hsh.example--
""".replace("\n", "\r\n").encode()


def full_message_dsn(message_id: str, recipient: str, status: str = "5.2.2") -> bytes:
    """A DSN returning the whole message (message/rfc822), as Exim or Exchange do."""
    return f"""\
From: Mail Delivery System <Mailer-Daemon@mx.vsgp.example>
To: engagements@sceaux.example
Subject: Mail delivery failed: returning message to sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type="delivery-status"; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

The mailbox is full.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.vsgp.example

Final-Recipient: rfc822;{recipient}
Action: failed
Status: {status} (mailbox full)

--b1
Content-Type: message/rfc822

From: Ville de Sceaux <engagements@sceaux.example>
To: <{recipient}>
Subject: Rappel
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Bonjour,
--b1--
""".encode()


def test_a_postfix_bounce_names_the_message_and_the_status() -> None:
    report = parse_report(postfix_dsn(MESSAGE_ID, "claire.martin@hsh.example"))
    assert (report.message_id, report.action, report.status, report.is_bounce) == (
        MESSAGE_ID,
        "failed",
        "5.1.1",
        True,
    )
    assert report.reason == "invalid-address:5.1.1"
    assert report.diagnostic is not None and "User unknown" in report.diagnostic


def test_a_report_returning_the_whole_message_is_read_too() -> None:
    report = parse_report(full_message_dsn(MESSAGE_ID, "roux@vsgp.example"))
    assert (report.message_id, report.status, report.reason) == (
        MESSAGE_ID,
        "5.2.2",
        "mailbox-unavailable:5.2.2",
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [("5.7.1", "message-refused:5.7.1"), ("5.4.4", "bounced:5.4.4"), ("nonsense", "bounced:nonsense")],
)
def test_the_reason_follows_the_status_subject(status: str, reason: str) -> None:
    assert parse_report(postfix_dsn(MESSAGE_ID, "x@hsh.example", status=status)).reason == reason


def test_a_report_type_in_rfc_2231_form_is_read() -> None:
    raw = postfix_dsn(MESSAGE_ID, "x@hsh.example").replace(
        b"report-type=delivery-status", b"report-type*=utf-8''delivery-status"
    )
    assert parse_report(raw).status == "5.1.1"


def test_a_delay_warning_is_not_a_bounce() -> None:
    report = parse_report(postfix_dsn(MESSAGE_ID, "x@hsh.example", action="delayed", status="4.4.1"))
    assert (report.action, report.is_bounce) == ("delayed", False)


@pytest.mark.parametrize(
    "raw",
    [
        b"From: claire.martin@hsh.example\r\nSubject: Re: Rappel\r\n\r\nBien recu, merci.\r\n",  # a person's reply
        b"\x00\xff not a mail at all",
        postfix_dsn(MESSAGE_ID, "x@hsh.example").replace(
            b"Message-ID: " + MESSAGE_ID.encode(), b"X-Nothing: 1"
        ),
        postfix_dsn(MESSAGE_ID, "x@hsh.example").replace(
            b"report-type=delivery-status", b"report-type=disposition-notification"
        ),
    ],
)
def test_what_is_not_a_delivery_report_is_refused(raw: bytes) -> None:
    with pytest.raises(NotADeliveryReport):
        parse_report(raw)


async def _events(app: Any) -> list[EventEnvelope]:
    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))).all()
    return [EventEnvelope.model_validate_json(row.payload) for row in rows]


async def test_a_bounce_marks_the_delivery_and_is_told_once(
    notifications_settings: NotificationsSettings,
    commitments: Commitments,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "due"))  # to the liaison and the deputy
    async with worker(notifications_settings, clock) as running:
        await consume_all(running, 1)
    liaison_mail = handler.mails_to(world.emails["liaison"])[0]
    deputy_mail = handler.mails_to(world.emails["deputy"])[0]
    _, service_secret = await commitments.make_key(Role.SERVICE)
    _, hsh_secret = await commitments.make_key(Role.PARTNER, world.ids["hsh"])
    async with notifications_api(notifications_settings, clock) as app:
        relay, partner = client(app, service_secret), client(app, hsh_secret)
        sent_events = len(await _events(app))  # delivery.sent of both
        bounce = postfix_dsn(liaison_mail.message_id, world.emails["liaison"])
        headers = {"Content-Type": "message/rfc822"}

        refused = await partner.post("/v1/deliveries/bounces", content=bounce, headers=headers)
        assert refused.status_code == 403 and len(await _events(app)) == sent_events

        first = ok(await relay.post("/v1/deliveries/bounces", content=bounce, headers=headers))
        assert (first["outcome"], first["status"], first["reason"]) == (
            "bounced",
            "5.1.1",
            "invalid-address:5.1.1",
        )
        delivery = ok(await relay.get(f"/v1/deliveries/{first['delivery_id']}"))
        assert (delivery["contact_id"], delivery["status"]) == (world.ids["liaison"], "bounced")
        assert delivery["bounced_at"] is not None and delivery["last_error"].startswith(
            "avis de non-remise : 5.1.1"
        )
        again = ok(await relay.post("/v1/deliveries/bounces", content=bounce, headers=headers))
        assert again["outcome"] == "already-bounced"

        delayed = postfix_dsn(
            deputy_mail.message_id, world.emails["deputy"], action="delayed", status="4.4.1"
        )
        assert (
            ok(await relay.post("/v1/deliveries/bounces", content=delayed, headers=headers))["outcome"]
            == "ignored"
        )
        deputy = ok(await relay.get("/v1/deliveries", params={"status": "sent"}))["items"]
        assert [d["contact_id"] for d in deputy] == [world.ids["deputy"]]

        unknown = await relay.post(
            "/v1/deliveries/bounces",
            headers=headers,
            content=postfix_dsn(f"<{uuid.uuid4()}@elsewhere.example>", world.emails["deputy"]),
        )
        assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
        reply = await relay.post(
            "/v1/deliveries/bounces",
            headers=headers,
            content=b"From: claire.martin@hsh.example\r\n\r\nMerci.\r\n",
        )
        assert reply.status_code == 422 and reply.json()["code"] == "not-a-delivery-report"

        events = await _events(app)
    [bounced] = events[sent_events:]  # one event for the one bounce
    parsed = bounced.parsed()
    assert isinstance(parsed, DeliveryBounced)
    assert (str(parsed.delivery_id), str(parsed.contact_id), str(parsed.partner_id), parsed.reason) == (
        first["delivery_id"],
        world.ids["liaison"],
        world.ids["hsh"],
        "invalid-address:5.1.1",
    )
    assert parsed.reminder_key == reminder_event(world, "due").data["reminder_key"] and parsed.attempt == 1
    assert "@" not in bounced.model_dump_json()
