"""The Account table."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Account(SQLModel, table=True):
    """A registered account. The email is stored as email-validator normalised it."""

    # Case-insensitive uniqueness lives in the database, so concurrent signups cannot race it.
    __table_args__ = (sa.Index("uq_account_email_lower", sa.func.lower(sa.text("email")), unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, nullable=False)
    email: str = Field(max_length=254, nullable=False)
    password_hash: str = Field(max_length=255, nullable=False)
    # The random key of the form submission that created the account: the same
    # submission sent again (after a dropped connection) gets this account back.
    signup_key: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(
        default_factory=_utcnow,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
        nullable=False,
    )
