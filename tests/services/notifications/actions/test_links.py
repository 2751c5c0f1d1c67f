"""Signed action links: round trip, expiry on a clock the test moves, every alteration refused, purpose bound."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.actions.links import (
    ExpiredLink,
    InvalidLink,
    MissingSecret,
    Purpose,
    action_links,
    new_link,
    sign,
    verify,
)
from services.notifications.config import NotificationsSettings
from shared.clock import FixedClock

SECRET = "un secret de test"
ITEM, CONTACT, DEADLINE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def _settings(**overrides: object) -> NotificationsSettings:
    return NotificationsSettings(
        action_link_secret=SECRET, public_base_url="https://notifications.example/", **overrides
    )  # type: ignore[arg-type]


def _token(clock: FixedClock, purpose: Purpose = Purpose.ACKNOWLEDGE, days: float = 30) -> str:
    return sign(SECRET, new_link(purpose, ITEM, CONTACT, DEADLINE, clock.now() + timedelta(days=days)))


def test_links_of_a_reminder_round_trip() -> None:
    clock = FixedClock()
    links = action_links(_settings(), ITEM, CONTACT, DEADLINE, clock.now())
    assert set(links) == {"acknowledge", "done", "new_date", "not_for_me"}
    token_ids = set()
    for key, url in links.items():
        assert url.startswith("https://notifications.example/actions/")
        token = url.rsplit("/", 1)[1]
        assert len(token) < 160 and token.isascii()
        link = verify(SECRET, token, clock.now())
        assert (link.purpose.value, link.item_id, link.contact_id, link.deadline_id) == (
            key,
            ITEM,
            CONTACT,
            DEADLINE,
        )
        assert link.expires_at == clock.now() + timedelta(days=30)
        token_ids.add(link.token_id)
    assert len(token_ids) == 4  # each link its own id: using one does not use up the others


def test_no_new_date_link_without_a_deadline() -> None:
    links = action_links(_settings(), ITEM, CONTACT, None, FixedClock().now())
    assert set(links) == {"acknowledge", "done", "not_for_me"}
    assert verify(SECRET, links["done"].rsplit("/", 1)[1], FixedClock().now()).deadline_id is None


def test_lifetime_is_configurable_and_links_expire() -> None:
    clock = FixedClock()
    token = action_links(_settings(action_link_lifetime_days=2), ITEM, CONTACT, DEADLINE, clock.now())[
        "acknowledge"
    ].rsplit("/", 1)[1]
    clock.advance(timedelta(days=2) - timedelta(seconds=1))
    verify(SECRET, token, clock.now())
    clock.advance(timedelta(seconds=1))
    with pytest.raises(ExpiredLink) as expired:
        verify(SECRET, token, clock.now())
    assert expired.value.status == 410 and "expiré" in expired.value.detail


def test_every_altered_character_is_refused() -> None:
    clock = FixedClock()
    token = _token(clock)
    for position, char in enumerate(token):
        for replacement in {"A", "b", "-", "_", "."} - {char}:
            altered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(InvalidLink):
                verify(SECRET, altered, clock.now())


def test_altered_fields_with_a_recomputed_encoding_are_refused() -> None:
    """Change the item, contact, purpose or expiry inside the payload: the signature no longer matches."""
    clock = FixedClock()
    payload_b64, mac_b64 = _token(clock).split(".")
    payload = bytearray(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    for offset in (1, 5, 10, 26, 42, 58):  # purpose, expiry, token id, item, contact, deadline
        changed = bytearray(payload)
        changed[offset] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode() + "." + mac_b64
        with pytest.raises(InvalidLink):
            verify(SECRET, forged, clock.now())


@pytest.mark.parametrize("token", ["", ".", "abc", "a.b.c", "é.é", "x" * 400, "AAAA.AAAA", "%00.%00"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(InvalidLink):
        verify(SECRET, token, FixedClock().now())


def test_another_secret_does_not_verify() -> None:
    clock = FixedClock()
    with pytest.raises(InvalidLink):
        verify("un autre secret", _token(clock), clock.now())


def test_purpose_is_bound() -> None:
    clock = FixedClock()
    token = _token(clock, Purpose.ACKNOWLEDGE)
    assert verify(SECRET, token, clock.now(), Purpose.ACKNOWLEDGE).purpose is Purpose.ACKNOWLEDGE
    with pytest.raises(InvalidLink):
        verify(SECRET, token, clock.now(), Purpose.DONE)


def test_empty_secret_refuses_to_sign_or_verify() -> None:
    clock = FixedClock()
    with pytest.raises(MissingSecret):
        action_links(NotificationsSettings(action_link_secret=""), ITEM, CONTACT, DEADLINE, clock.now())
    with pytest.raises(MissingSecret):
        verify("", _token(clock), clock.now())


def test_expiry_is_checked_after_the_signature() -> None:
    """An expired link that was also altered reports the alteration: the expiry itself can't be trusted."""
    clock = FixedClock(datetime(2026, 1, 5, tzinfo=UTC))
    token = _token(clock, days=1)
    clock.advance(timedelta(days=3))
    with pytest.raises(InvalidLink):
        verify(SECRET, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), clock.now())
