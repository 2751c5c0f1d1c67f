"""The backoff between attempts of one webhook delivery (unit tests of the policy)."""

from __future__ import annotations

from datetime import timedelta

from services.notifications.webhooks.service import AttemptResult, RetryPolicy


def test_waits_double_up_to_the_cap_then_stop_after_the_last_attempt():
    policy = RetryPolicy(max_attempts=6, initial_seconds=30, multiplier=2, max_interval_seconds=100, jitter=0)
    waits = [policy.delay_after(n, "d") for n in range(1, 7)]
    assert waits[:5] == [timedelta(seconds=s) for s in (30, 60, 100, 100, 100)]
    assert waits[5] is None


def test_jitter_only_shortens_a_wait_and_is_the_same_for_the_same_delivery():
    policy = RetryPolicy(initial_seconds=100, multiplier=1, jitter=0.1)
    waits = {policy.delay_after(1, f"delivery-{n}") for n in range(50)}
    assert all(timedelta(seconds=90) <= wait <= timedelta(seconds=100) for wait in waits)
    assert len(waits) > 1  # deliveries that failed together spread out
    assert policy.delay_after(1, "delivery-7") == policy.delay_after(1, "delivery-7")


def test_success_and_410_are_told_apart_from_other_answers():
    assert AttemptResult(204).succeeded and not AttemptResult(204).gone
    assert AttemptResult(410).gone and not AttemptResult(410).succeeded
    assert not AttemptResult(302).succeeded
    assert not AttemptResult(None, "Délai de réponse dépassé.").succeeded
