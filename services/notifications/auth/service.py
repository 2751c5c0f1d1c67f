"""API keys verified by the commitments service: the verifier every service but the commitments one uses
(shared/key_checks.py), here over the notifications service's client of the commitments service."""

from shared.key_checks import REFUSED, KeyVerifier

__all__ = ["REFUSED", "KeyVerifier"]
