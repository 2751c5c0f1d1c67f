"""Quoted-printable bodies line by line: the encoding of a whole body, byte for byte, whether encoded at once or
from a template whose marked lines are filled per mail; and a finished reminder carries its bodies encoded."""

from __future__ import annotations

import binascii
import random
import re
from datetime import date

from services.notifications.email.quoted_printable import BodyTemplate, encode_body, fill_marks
from services.notifications.email.render import reminder_draft
from shared.calendar import default_calendar
from tests.services.notifications.email.support import LINKS, context, event

MARK = re.compile("\x00mark-([a-z]+)\x00")
# What bodies hold: accents, long words, trailing spaces, "=" and dots, tabs, HTML.
PIECES = ["é", "à", "—", " ", "  ", "\t", "=", ".", "..", "x" * 90, "ligne", '<a href="', '">', "&amp;", "…", "'"]


def _whole(text: str) -> bytes:
    """The reference: the whole body through binascii at once, line ends made CRLF."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    if not normalised.endswith("\n"):
        normalised += "\n"
    return binascii.b2a_qp(normalised.encode("utf-8"), quotetabs=False, istext=True,
                           header=False).replace(b"\n", b"\r\n")


def _random_body(rng: random.Random, marks: bool) -> str:
    lines = []
    for _ in range(rng.randint(1, 12)):
        parts = [rng.choice(PIECES) for _ in range(rng.randint(0, 30))]
        if marks and rng.random() < 0.4:
            for _ in range(rng.randint(1, 2)):
                parts.insert(rng.randint(0, len(parts)), f"\x00mark-{rng.choice(['one', 'two'])}\x00")
        lines.append("".join(parts))
    return rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n", "\r\n"])


def test_line_by_line_is_the_whole_body_encoded_at_once() -> None:
    rng = random.Random(20261126)
    for _ in range(2000):
        text = _random_body(rng, marks=False)
        assert encode_body(text) == _whole(text), repr(text)
    assert encode_body("") == b"\r\n"


def test_a_filled_template_is_the_filled_body_encoded() -> None:
    rng = random.Random(42)
    for _ in range(2000):
        text = _random_body(rng, marks=True)
        # Values long enough to push a marked line past 76 characters, with characters that need encoding.
        values = {"one": "https://example.org/actions/" + "A" * rng.randint(0, 120), "two": "é=à " * rng.randint(0, 9)}
        filled = fill_marks(MARK.split(text), values)
        assert BodyTemplate.of(text, MARK).fill(values) == _whole(filled), repr(text)


def test_a_finished_reminder_carries_its_bodies_encoded() -> None:
    ctx = context(title="Rénovation & <sécurité> « des Blagis »")
    draft = reminder_draft(event("due", 0), ctx, ctx.recipients[0], date(2026, 5, 18), default_calendar(),
                           tuple(LINKS))
    rendered = draft.finish({**LINKS, "done": "https://notifications.test/actions/done?a=1&b=2"},
                            "<abc@sceaux.example>", "sceaux.example")
    assert "a=1&amp;b=2" in rendered.html and "a=1&b=2" in rendered.text
    assert rendered.encoded_text == _whole(rendered.text)
    assert rendered.encoded_html == _whole(rendered.html)
