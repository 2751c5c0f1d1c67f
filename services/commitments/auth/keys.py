"""API key secrets: random, shown once, stored as a SHA-256 hash (they carry 256 bits of entropy, so a
slow password hash would add latency to every request without adding safety)."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "eng_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(secret: str) -> str:
    """The first characters of a key, safe to show in lists to tell keys apart."""
    return secret[: len(KEY_PREFIX) + 6]
