"""Header injection through the real path: a contact name, a title and an item title holding CR/LF (written
straight into the commitments database, past the API's own validation, as a legacy import might), then the
scanner, NATS, the notifications worker and a real SMTP server. The mail reaches its one recipient, with no
header and no recipient added by the data."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from services.commitments.contacts.models import Contact
from services.commitments.items.models import Item
from services.notifications.config import NotificationsSettings
from shared.bus import StreamSpec
from tests.e2e.flow import EMAILS, PARTNER, running, utc
from tests.services.notifications.served_commitments import Commitments
from tests.smtp_sink import SinkHandler

INJECTED_NAME = "Martin\r\nBcc: intrus@evil.example\r\nX-Injected: nom"
INJECTED_TITLE = "Directrice\nCc: intrus2@evil.example"  # (PostgreSQL text holds no NUL)
INJECTED_ITEM = "Centre commercial\r\nBcc: intrus3@evil.example\r\nX-Injected: titre"


async def test_crlf_in_data_adds_no_header_and_no_recipient(
    commitments: Commitments,
    notifications_settings: NotificationsSettings,
    sink: tuple[Any, SinkHandler],
    nats_client: Any,
    stream: StreamSpec,
) -> None:
    async with running(commitments, notifications_settings, sink, nats_client, stream) as flow:
        async with commitments.app.state.sessionmaker() as session, session.begin():
            await session.execute(
                update(Contact)
                .where(Contact.id == uuid.UUID(flow.ids["liaison"]))
                .values(last_name=INJECTED_NAME, title=INJECTED_TITLE)
            )
            await session.execute(
                update(Item).where(Item.id == uuid.UUID(flow.ids["item"])).values(title=INJECTED_ITEM)
            )
        await flow.run_until(utc("2026-03-02T08:00"))  # D-3, this morning at 08:30 Paris

    mails = flow.handler.all()
    assert {mail.to for mail in mails} == PARTNER and len(mails) == 2, [m.rcpt_tos for m in mails]
    for mail in mails:
        assert len(mail.rcpt_tos) == 1 and not any("evil" in rcpt for rcpt in mail.rcpt_tos)
        names = [name.lower() for name in mail.message]
        assert "bcc" not in names and "cc" not in names and "x-injected" not in names, names
        for name, value in mail.message.items():
            assert not any(c in str(value) for c in "\r\n\x00"), (name, value)
        assert len(mail.message.get_all("To")) == 1
    to_claire = next(mail for mail in mails if mail.to == EMAILS["liaison"])
    # The data is still shown, made harmless: the name and the title on one line, in the headers and the text.
    assert "Martin" in str(to_claire.message["To"]) and "Centre commercial" in str(
        to_claire.message["Subject"]
    )
    assert "Centre commercial" in to_claire.message.get_body(preferencelist=("plain",)).get_content()
