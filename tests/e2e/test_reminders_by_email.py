"""A request due in 3 working days, followed for a month through every part: the deadline scanner (clock moved
hour by hour), the outbox relay, NATS JetStream, the notifications worker and a real SMTP server. What arrives
is checked mail by mail: who, when, in French, in one thread; a renegotiated date re-arms the reminders and
the partner's answer stops them."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.notifications.config import NotificationsSettings
from shared.auth import Role
from shared.bus import StreamSpec
from tests.e2e.flow import EMAILS, LATE, PARTNER, VERY_LATE, Flow, running, utc
from tests.responses import ok
from tests.services.notifications.served_commitments import Commitments
from tests.smtp_sink import SinkHandler


def _thread_root(flow: Flow) -> str:
    return f"<item-{flow.ids['item']}@{flow.settings.message_id_domain}>"


async def test_a_month_without_an_answer(
    commitments: Commitments,
    notifications_settings: NotificationsSettings,
    sink: tuple[Any, SinkHandler],
    nats_client: Any,
    stream: StreamSpec,
) -> None:
    async with running(commitments, notifications_settings, sink, nats_client, stream) as flow:
        await flow.run_until(utc("2026-04-03T18:00"))

    # Sent at 07:00 on Monday, due on Thursday: D-10 is long past, D-3 goes at 08:30 the same morning.
    assert flow.recipients() == {
        date(2026, 3, 2): PARTNER,  # D-3
        date(2026, 3, 4): PARTNER,  # D-1
        date(2026, 3, 5): PARTNER,  # the day itself
        date(2026, 3, 6): PARTNER,  # D+1
        date(2026, 3, 12): PARTNER,  # D+5
        date(2026, 3, 19): LATE,  # D+10: late, the partner's hierarchy and the city owner are added
        date(2026, 3, 26): LATE,  # D+15
        date(2026, 4, 2): VERY_LATE,  # D+20: very late, the elected official too
    }
    mails = [mail for day in sorted(flow.by_day) for mail in flow.by_day[day]]
    assert len(mails) == sum(len(recipients) for recipients in flow.recipients().values()), (
        "one mail per person"
    )
    assert all(len(mail.rcpt_tos) == 1 for mail in mails)

    # One thread: every mail about the item answers the same root, each with its own Message-ID.
    assert {(str(mail.message["In-Reply-To"]), str(mail.message["References"])) for mail in mails} == {
        (_thread_root(flow), _thread_root(flow))
    }
    assert len({mail.message_id for mail in mails}) == len(mails)

    # In French, formal, with the plan's wording, the date and the working days.
    to_claire = {
        day: next(m for m in day_mails if m.to == EMAILS["liaison"]) for day, day_mails in flow.by_day.items()
    }
    before, on_the_day, after = (
        to_claire[date(2026, 3, 4)],
        to_claire[date(2026, 3, 5)],
        to_claire[date(2026, 3, 12)],
    )
    for mail in (before, on_the_day, after):
        text = mail.message.get_body(preferencelist=("plain",)).get_content()
        html = mail.message.get_body(preferencelist=("html",)).get_content()
        assert text.startswith("Madame,") or "\nMadame," in text, text
        assert "présenter un projet de rénovation du centre commercial des Blagis" in text
        assert "jeudi 5 mars 2026" in text and "SCX/2026-014" in text
        assert "centre commercial" in html and "/actions/" in html
        assert str(mail.message["To"]).endswith(f"<{EMAILS['liaison']}>")
    assert str(before.message["Subject"]).startswith("Rappel")
    assert "1 jour ouvré" in before.message.get_body(preferencelist=("plain",)).get_content()
    assert "aujourd'hui" in str(on_the_day.message["Subject"]).lower()
    assert "5 jours ouvrés" in str(after.message["Subject"])
    # Silence is not acceptance: the request is now « sans réponse ».
    async with commitments.client(commitments.admin_secret) as admin:
        assert ok(await admin.get(f"/v1/items/{flow.ids['item']}"))["status"] == "no_answer"


async def test_a_new_date_re_arms_and_the_answer_stops(
    commitments: Commitments,
    notifications_settings: NotificationsSettings,
    sink: tuple[Any, SinkHandler],
    nats_client: Any,
    stream: StreamSpec,
) -> None:
    async with running(commitments, notifications_settings, sink, nats_client, stream) as flow:
        await flow.run_until(utc("2026-03-06T12:00"))  # D-1, D, D+1 sent
        ok(
            await flow.admin.patch(
                f"/v1/deadlines/{flow.ids['deadline']}",
                json={"due_on": "2026-03-20", "reason": "Conseil d'administration reporté."},
            )
        )
        await flow.run_until(utc("2026-03-19T12:00"))  # the new date's D-3 and D-1
        _, partner_secret = await commitments.make_key(Role.PARTNER, flow.ids["hsh"])
        async with commitments.client(partner_secret) as partner:
            ok(await partner.post(f"/v1/items/{flow.ids['item']}/transitions", json={"to": "accepted"}))
        await flow.run_until(utc("2026-04-24T18:00"))  # a month more: nothing

    assert flow.recipients() == {
        date(2026, 3, 2): PARTNER,
        date(2026, 3, 4): PARTNER,
        date(2026, 3, 5): PARTNER,
        date(2026, 3, 6): PARTNER,
        date(2026, 3, 17): PARTNER,
        date(2026, 3, 19): PARTNER,
    }
    renegotiated = next(m for m in flow.by_day[date(2026, 3, 17)] if m.to == EMAILS["liaison"])
    assert "vendredi 20 mars 2026" in renegotiated.message.get_body(preferencelist=("plain",)).get_content()
    # The new date's reminders stay in the item's thread.
    assert {str(m.message["References"]) for mails in flow.by_day.values() for m in mails} == {
        _thread_root(flow)
    }
