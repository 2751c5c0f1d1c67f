"""Properties of build_mail over random data (hypothesis): every mail parses back (the standard library's parser,
policy.default) to the same addresses, subject and decoded bodies, and data holding CR, LF or NUL never adds a
header or a recipient. Names, subjects and bodies mix French accents, long lines, lines starting with "From " or a
dot, characters outside the BMP and header-looking text."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifications.email.message import build_mail
from services.notifications.email.render import RenderedEmail
from services.notifications.email.wording import one_line

WORD_JOINER = "\u2060"

SENDER = "Ville de Sceaux <engagements@sceaux.example>"
DATE = datetime(2026, 5, 21, 6, 30, tzinfo=UTC)
HEADERS = [
    "From",
    "To",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "Auto-Submitted",
    "Content-Language",
    "MIME-Version",
    "Content-Type",
]

# Pieces that matter to mail: accents and typography, characters beyond the BMP, what looks like a header or an
# address, what breaks lines, and what SMTP or mbox treat specially at the start of a line.
FRAKTUR = "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"  # noqa: RUF001 - astral-plane letters on purpose
PIECES = st.sampled_from(
    [
        "é",
        "è",
        "à",
        "ç",
        "œ",
        "Œ",
        "É",
        "«",
        "»",
        "—",
        "…",
        "’",
        " ",
        "  ",
        "\t",
        "=",
        "?",
        "=?utf-8?q?x?=",
        "_",
        '"',
        "\\",
        "<",
        ">",
        "@",
        ",",
        ";",
        ":",
        "(",
        ")",
        "[",
        "]",
        ".",
        "..",
        "From ",
        "\r",
        "\n",
        "\r\n",
        "\x00",
        "\x0b",
        "\x0c",
        "\x1c",
        "\x85",
        "\u2028",
        "\u2029",
        "\r\nBcc: intrus@evil.example",
        "\nCc: x@evil.example",
        "\r\nX-Injected: oui",
        "=?utf-8?q?a=0D=0ABcc:_x@evil.example?=",
        FRAKTUR,
        "😀",
        "🇫🇷",
        "x" * 120,
        "Madame Lévêque-Çelik",
        "Hauts-de-Seine Habitat",
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=40).map("".join)
BODY_LINE = st.one_of(TEXT, st.sampled_from([".", "..", ".\r", "From la Ville", "--", "-- ", "=", "x" * 300]))
BODY = st.lists(BODY_LINE, max_size=25).map("\n".join)
LOCAL_PART = st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\.[A-Za-z0-9_-]{1,8}){0,2}", fullmatch=True)
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
DOMAIN = st.one_of(
    st.lists(LABEL, min_size=2, max_size=3).map(".".join),
    st.sampled_from(["exämple.fr", "mairie-sceaux.fr", "hauts-de-seine.gouv.fr"]),
)


def _line(text: str) -> str:
    """What a header shows of text from data: controls turned into spaces, whitespace runs into one, and a word
    joiner inside "=?" (never read as the start of an encoded word)."""
    return " ".join(one_line(text).split()).replace("=?", f"={WORD_JOINER}?")


def _lines(text: str) -> str:
    """A body as the standard library writes it: every line break a newline, a newline at the end."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return "".join(f"{line}\n" for line in lines) or "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=TEXT, local=LOCAL_PART, domain=DOMAIN, subject=TEXT, text=BODY, html=BODY)
def test_every_mail_parses_back_to_what_was_given(
    name: str, local: str, domain: str, subject: str, text: str, html: str
) -> None:
    rendered = RenderedEmail(
        subject, text, html, "<d-1@sceaux.example>", "<item-1@sceaux.example>", "<item-1@sceaux.example>"
    )
    mail = build_mail(rendered, SENDER, f"{local}@{domain}", name, DATE)
    raw = mail.as_bytes()
    assert raw.isascii()  # 7 bits: encoded words in headers, quoted-printable bodies
    head, _, bodies = raw.partition(b"\r\n\r\n")
    assert (
        max(len(line) for line in head.split(b"\r\n")) <= 998 and max(map(len, bodies.split(b"\r\n"))) <= 78
    )
    parsed = message_from_bytes(raw, policy=policy.default)

    address = f"{local}@{domain.encode('idna').decode('ascii')}"
    assert (mail.sender, mail.recipient) == (
        "engagements@sceaux.example",
        address,
    )  # the envelope: one recipient
    # Exactly the headers written, each once: nothing in the data added one.
    assert sorted(parsed.keys()) == sorted(HEADERS)
    assert not parsed.defects
    for header_name, value in parsed.items():
        assert not any(c in str(value) for c in "\r\n\x00"), header_name
    [to] = parsed["To"].addresses
    assert (to.addr_spec, to.display_name) == (address, _line(name))
    assert str(parsed["Subject"]) == _line(subject)
    assert parsed["Message-ID"] == "<d-1@sceaux.example>"
    assert parsed["In-Reply-To"] == parsed["References"] == "<item-1@sceaux.example>"
    plain, rich = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_content().replace("\r\n", "\n") == _lines(text)
    assert rich.get_content().replace("\r\n", "\n") == _lines(html)
