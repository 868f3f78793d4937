"""The Account table."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from signup_app.accounts.validation import email_key


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(*, nullable: bool = False, index: bool = False) -> Any:  # noqa: ANN401  (SQLModel's Field)
    """A timezone-aware timestamp column: now by default, or NULL when nullable."""
    timestamp = sa.DateTime(timezone=True)
    if nullable:
        return Field(default=None, sa_type=timestamp, nullable=True, index=index)  # type: ignore[call-overload]
    return Field(default_factory=_utcnow, sa_type=timestamp, nullable=False, index=index)  # type: ignore[call-overload]


def token_hash(token: str) -> str:
    """What is stored of a random token (a sign-in token, a ticket, a tab): its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def signup_key_hash(signup_key: str) -> str:
    """What is stored of a signup key: its SHA-256, hex (a random 192-bit key needs no salt)."""
    return token_hash(signup_key)


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


class SignInSession(SQLModel, table=True):
    """A signed-in browser: the hash of the token its HttpOnly cookie holds, and its expiries.

    The token itself is only ever in the cookie: a database leak gives no usable session.
    """

    __tablename__ = "sign_in_session"  # pyright: ignore[reportAssignmentType, reportIncompatibleVariableOverride]

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, nullable=False)
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    created_at: datetime = _timestamp()
    last_seen_at: datetime = _timestamp()
    # Slides forward with use (SIGNUP_SESSION_IDLE_DAYS), never past absolute_expires_at.
    idle_expires_at: datetime = _timestamp()
    absolute_expires_at: datetime = _timestamp(index=True)
    # "Chrome on Linux": shown on the account page beside the other sessions.
    device: str = Field(default="", max_length=80, nullable=False)
    revoked_at: datetime | None = _timestamp(nullable=True)


class SignInTicket(SQLModel, table=True):
    """A single-use, short-lived ticket a tab exchanges over HTTP for its sign-in cookie.

    Bound to the tab it was issued to (the hash of Reflex's tab token): another tab,
    or a copy of the ticket elsewhere, cannot redeem it.
    """

    __tablename__ = "sign_in_ticket"  # pyright: ignore[reportAssignmentType, reportIncompatibleVariableOverride]

    ticket_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="account.id", nullable=False)
    tab_hash: str = Field(max_length=64, nullable=False)
    expires_at: datetime = _timestamp(index=True)
