"""build_message (the standard library's email package): threading headers, both parts, and no header or recipient
smuggled in by data — checked on the message and at a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address

import aiosmtplib
import pytest

from services.notifications.email.message import build_mail, build_message, mailbox
from services.notifications.email.render import RenderedEmail, render_failure_report, render_reminder
from shared.calendar import default_calendar
from tests.services.notifications.email.sample_reminders import DUE_ON, ITEM_ID, LINKS, context, event
from tests.smtp_sink import smtp_sink

SENDER = "Ville de Sceaux <engagements@sceaux.example>"
ROOT = f"<item-{ITEM_ID}@sceaux.example>"
DATE = datetime(2026, 5, 21, 6, 30, tzinfo=UTC)
INJECTION = "\r\nBcc: pirate@evil.example\r\nX-Injected: yes\n\rCc: other@evil.example\x00"


def _rendered(**item: object) -> RenderedEmail:
    ctx = context(**item)
    return render_reminder(
        event("due", 0),
        ctx,
        ctx.recipients[0],
        DUE_ON,
        default_calendar(),
        LINKS,
        "<reminder-1@sceaux.example>",
        "sceaux.example",
    )


def _parsed(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


def _assert_clean(parsed, to_address: str) -> None:  # type: ignore[no-untyped-def]
    assert parsed["Bcc"] is None and parsed["Cc"] is None and parsed["X-Injected"] is None
    assert [address.addr_spec for address in parsed["To"].addresses] == [to_address]
    assert len(parsed.get_all("To")) == 1 and len(parsed.get_all("Subject")) == 1
    for name, value in parsed.items():
        assert "\r" not in str(value) and "\n" not in str(value) and "\x00" not in str(value), name


def test_message_has_threading_headers_and_both_parts() -> None:
    message = build_message(_rendered(), SENDER, "claire.dupont@hsh.example", "Claire Dupont", DATE)
    parsed = _parsed(message.as_bytes())
    assert parsed["Message-ID"] == "<reminder-1@sceaux.example>"
    assert parsed["In-Reply-To"] == ROOT and parsed["References"] == ROOT
    assert parsed["From"].addresses[0].addr_spec == "engagements@sceaux.example"
    assert parsed["Date"].datetime == datetime(2026, 5, 21, 6, 30, tzinfo=UTC)
    assert parsed["Subject"].startswith("Échéance aujourd'hui : Rénovation")  # RFC 2047 decoded back
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    rich = parsed.get_body(("html",))
    assert plain is not None and "jeudi 21 mai 2026" in plain.get_content()
    assert rich is not None and "<!DOCTYPE html>" in rich.get_content()
    assert message.as_bytes().isascii()  # non-ASCII names and subjects are encoded, not sent raw


def test_non_ascii_display_name_is_encoded() -> None:
    message = build_message(_rendered(), SENDER, "h.levesque@hsh.example", "Hélène Lévêque-Çelik", DATE)
    raw = message.as_bytes()
    assert raw.isascii()
    assert _parsed(raw)["To"].addresses[0] == Address(
        "Hélène Lévêque-Çelik", addr_spec="h.levesque@hsh.example"
    )


def test_injection_through_name_and_title_adds_no_header() -> None:
    rendered = _rendered(title=f"Centre commercial{INJECTION}")
    message = build_message(rendered, SENDER, "claire.dupont@hsh.example", f"Claire{INJECTION}", DATE)
    parsed = _parsed(message.as_bytes())
    _assert_clean(parsed, "claire.dupont@hsh.example")
    assert "Bcc: pirate@evil.example" in parsed["Subject"]  # neutralised into text on the subject line
    assert "pirate@evil.example" in parsed["To"].addresses[0].display_name


@pytest.mark.parametrize(
    "address",
    [
        "claire@hsh.example\r\nBcc: pirate@evil.example",
        "claire@hsh.example\nCc: x@evil.example",
        "claire@hsh.example\x00",
        "claire@hsh.example, pirate@evil.example",
        "Claire <claire@hsh.example>",
        "pas une adresse",
        "claire@hsh.example>",
        "",
    ],
)
def test_an_address_that_is_not_exactly_one_mailbox_is_refused(address: str) -> None:
    with pytest.raises(ValueError):
        build_message(_rendered(), SENDER, address, "Claire", DATE)


def test_internationalised_domain_travels_as_idna() -> None:
    assert mailbox("claire@exämple.fr").addr_spec == "claire@xn--exmple-cua.fr"


def test_message_ids_from_data_are_checked() -> None:
    rendered = _rendered()
    bad = RenderedEmail(rendered.subject, rendered.text, rendered.html, "<x@y>\r\nBcc: a@b", None, None)
    with pytest.raises(ValueError):
        build_message(bad, SENDER, "claire.dupont@hsh.example", None, DATE)


async def test_injection_reaches_no_one_at_a_real_smtp_server() -> None:
    """Name, title and an SMTP reply (in the failure report) carry CR/LF: the server sees one recipient and
    the headers we wrote, nothing else."""
    ctx = context(title=f"Centre commercial{INJECTION}")
    reminder = render_reminder(
        event("overdue", 3),
        ctx,
        ctx.recipients[0],
        DUE_ON,
        default_calendar(),
        LINKS,
        "<reminder-2@sceaux.example>",
        "sceaux.example",
    )
    report = render_failure_report(
        ctx,
        ctx.recipients[0],
        f"550 refusé{INJECTION}",
        DUE_ON,
        "<failure-1@sceaux.example>",
        "sceaux.example",
    )
    with smtp_sink() as (controller, handler):
        for rendered, to in ((reminder, "claire.dupont@hsh.example"), (report, "agent@sceaux.example")):
            message = build_message(rendered, SENDER, to, f"Personne{INJECTION}", DATE)
            # No explicit recipients: aiosmtplib takes them from the headers, as a naive sender would.
            await aiosmtplib.send(message, hostname=controller.hostname, port=controller.port)
        received = handler.all()
    assert [mail.rcpt_tos for mail in received] == [["claire.dupont@hsh.example"], ["agent@sceaux.example"]]
    assert [mail.mail_from for mail in received] == ["engagements@sceaux.example"] * 2
    for mail, to in zip(received, ("claire.dupont@hsh.example", "agent@sceaux.example"), strict=True):
        parsed = _parsed(mail.message.as_bytes())
        _assert_clean(parsed, to)
        assert parsed["In-Reply-To"] == ROOT


def test_an_encoded_word_in_data_adds_no_header() -> None:
    """The header registry decodes "=?…?=" found in a value; a CR LF hidden in one must not become a header."""
    hidden = "=?utf-8?q?x=0D=0ABcc:_pirate@evil.example=0D=0AX-Injected:_oui?="
    rendered = _rendered(title=f"Centre commercial {hidden}")
    mail = build_mail(rendered, SENDER, "claire.dupont@hsh.example", f"Claire {hidden}", DATE)
    parsed = _parsed(mail.as_bytes())
    _assert_clean(parsed, "claire.dupont@hsh.example")
    assert "Bcc:_pirate@evil.example" in parsed["Subject"]  # shown as the text it was, not decoded
    assert mail.recipient == "claire.dupont@hsh.example"


async def test_bodies_cross_a_real_smtp_server_intact() -> None:
    """Lines SMTP or mbox treat apart (a lone dot, "From "), long lines, accents and emoji come out as they went in."""
    text = "Madame,\n.\n..\nFrom la Ville de Sceaux\n" + "é" * 200 + "\n😀 « Cœur de ville » — fin\n"
    rendered = RenderedEmail(
        "Sujet : « Cœur de ville » 😀", text, f"<p>{text}</p>", "<body-1@sceaux.example>", None, None
    )
    mail = build_mail(rendered, SENDER, "claire.dupont@hsh.example", "Claire Dupont", DATE)
    with smtp_sink() as (controller, handler):
        async with aiosmtplib.SMTP(hostname=controller.hostname, port=controller.port) as client:
            await client.sendmail(mail.sender, [mail.recipient], mail.as_bytes())
        [received] = handler.all()
    plain = received.message.get_body(("plain",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == text
    assert str(received.message["Subject"]) == "Sujet : « Cœur de ville » 😀"
