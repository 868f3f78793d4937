"""Test data: addresses nobody has used, passwords the policy accepts, a signup form's fields."""

from __future__ import annotations

import uuid


def unique_email(tag: str = "test") -> str:
    """An address no other test (or run) uses: tag, a random part, @example.com."""
    return f"{tag}-{uuid.uuid4().hex}@example.com"


def strong_password() -> str:
    """A fresh passphrase the password policy accepts (long, not a common password)."""
    return f"{uuid.uuid4().hex[:12]} orbit lantern mosaic"


def signup_fields(tag: str = "test", name: str = "Ada Lovelace", **extra: str) -> dict[str, str]:
    """A signup form that is valid and new: name, a unique email, a strong password (extra on top)."""
    return {"name": name, "email": unique_email(tag), "password": strong_password(), **extra}


def sentinel_password() -> str:
    """A strong password found nowhere else: search logs and frames for its sentinel_core."""
    return f"Sentinel-{uuid.uuid4().hex}-horse-battery"


def sentinel_core(password: str) -> str:
    """The random part of a sentinel_password."""
    return password.split("-")[1]
