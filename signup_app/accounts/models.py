"""The Account table."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from signup_app.accounts.validation import email_key


def _utcnow() -> datetime:
    return datetime.now(UTC)


def signup_key_hash(signup_key: str) -> str:
    """What is stored of a signup key: its SHA-256, hex (a random 192-bit key needs no salt)."""
    return hashlib.sha256(signup_key.encode()).hexdigest()


class Account(SQLModel, table=True):
    """A registered account. The email is stored as email-validator normalised it."""

    # Uniqueness lives in the database, so concurrent signups cannot race it.
    __table_args__ = (
        sa.Index("uq_account_email_key", "email_key", unique=True),
        sa.Index("uq_account_signup_key_hash", "signup_key_hash", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, nullable=False)
    email: str = Field(max_length=254, nullable=False)
    # validation.email_key(email), set on insert: the address as accounts are told apart.
    email_key: str = Field(default="", max_length=254, nullable=False)
    password_hash: str = Field(max_length=255, nullable=False)
    # The hash of the random key of the form submission that created the account: the same
    # submission sent again (after a dropped connection) gets this account back.
    signup_key_hash: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(
        default_factory=_utcnow,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
        nullable=False,
    )


@event.listens_for(Account, "before_insert")
def _set_email_key(_mapper: object, _connection: object, account: Account) -> None:
    # Computed here, whoever inserts the row, so the key can never disagree with the email.
    account.email_key = email_key(account.email)
