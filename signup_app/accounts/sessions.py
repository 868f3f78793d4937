"""Sign-in sessions: started on signup or sign-in, resolved from a cookie's token, revoked on sign-out.

A session's token is 32 random bytes that only the browser's HttpOnly cookie holds; the
database keeps its SHA-256. A session ends when unused for SIGNUP_SESSION_IDLE_DAYS, at
SIGNUP_SESSION_ABSOLUTE_DAYS after it began, or when revoked.

A tab whose action signed the user in over the websocket cannot receive a cookie there:
it gets a ticket instead (single use, 60 seconds, bound to that tab), which it exchanges
by an HTTP POST for the cookie (see signup_app.web.signing_in).

These functions block on the database: call them off the event loop.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import col, select

from signup_app import db, settings
from signup_app.accounts.models import Account, SignInSession, SignInTicket, token_hash

TICKET_LIFETIME = timedelta(seconds=60)
# last_seen is written at most this often per session (not on every page or event).
TOUCH_INTERVAL = timedelta(minutes=1)
# Ended sessions stay listed nowhere, and are deleted once this long past their end.
_KEEP_ENDED = timedelta(days=1)
# One sign-in in this many also deletes what has ended.
_PURGE_EVERY = 64


class Viewer(NamedTuple):
    """Who a valid token belongs to."""

    session_id: int
    account_id: int


class SessionInfo(NamedTuple):
    """One active session, as the account page lists it."""

    id: int
    device: str
    created_at: datetime
    last_seen_at: datetime


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def new_token() -> str:
    """32 random bytes, URL-safe: a session token or a ticket."""
    return secrets.token_urlsafe(32)


def start(account_id: int, device: str, *, config: settings.Settings | None = None) -> str:
    """Start a session for the account; returns its token, for the cookie and nowhere else.

    Every sign-in starts a new one (no token is ever reused: no fixation).
    """
    config = config or settings.load()
    now = _now()
    token = new_token()
    absolute = now + timedelta(days=config.session_absolute_days)
    row = SignInSession(
        account_id=account_id,
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
        idle_expires_at=min(now + timedelta(days=config.session_idle_days), absolute),
        absolute_expires_at=absolute,
        device=device[:80],
    )
    with db.session(config) as session:
        session.add(row)
        if secrets.randbelow(_PURGE_EVERY) == 0:
            # Sessions and tickets long over are dropped now and then as new ones come (an index
            # serves each delete), not at every sign-in: two more statements each time.
            ended = now - _KEEP_ENDED
            session.exec(sa.delete(SignInSession).where(col(SignInSession.absolute_expires_at) < ended))
            session.exec(sa.delete(SignInTicket).where(col(SignInTicket.expires_at) < now))
        session.commit()
    return token


def resolve(token: str, *, config: settings.Settings | None = None) -> Viewer | None:
    """The viewer a token signs in, or None when it is unknown, revoked or expired.

    Use slides the idle expiry forward (written at most once per TOUCH_INTERVAL).
    """
    config = config or settings.load()
    now = _now()
    with db.session(config) as session:
        row = session.exec(select(SignInSession).where(SignInSession.token_hash == token_hash(token))).first()
        if row is None or row.id is None or row.revoked_at is not None:
            return None
        absolute = _aware(row.absolute_expires_at)
        if now >= _aware(row.idle_expires_at) or now >= absolute:
            return None
        if now - _aware(row.last_seen_at) >= TOUCH_INTERVAL:
            row.last_seen_at = now
            row.idle_expires_at = min(now + timedelta(days=config.session_idle_days), absolute)
            session.add(row)
            session.commit()
        return Viewer(row.id, row.account_id)


def _revoke(where: sa.ColumnElement[bool], config: settings.Settings | None) -> list[int]:
    now = _now()
    with db.session(config) as session:
        ids = list(
            session.exec(select(SignInSession.id).where(where, col(SignInSession.revoked_at).is_(None))).all()
        )
        if ids:
            session.exec(
                sa.update(SignInSession).where(col(SignInSession.id).in_(ids)).values(revoked_at=now)
            )
            session.commit()
    return [session_id for session_id in ids if session_id is not None]


def revoke(session_id: int, *, account_id: int, config: settings.Settings | None = None) -> list[int]:
    """Revoke one session of the account (another account's is left alone); the ids revoked."""
    return _revoke(
        sa.and_(col(SignInSession.id) == session_id, col(SignInSession.account_id) == account_id), config
    )


def revoke_token(token: str, *, config: settings.Settings | None = None) -> list[int]:
    """Revoke the session a token belongs to (sign-out); the ids revoked."""
    return _revoke(col(SignInSession.token_hash) == token_hash(token), config)


def revoke_others(account_id: int, keep: int, *, config: settings.Settings | None = None) -> list[int]:
    """Revoke every session of the account but ``keep`` ("sign out of all other devices")."""
    return _revoke(
        sa.and_(col(SignInSession.account_id) == account_id, col(SignInSession.id) != keep), config
    )


def active_sessions(account_id: int, *, config: settings.Settings | None = None) -> list[SessionInfo]:
    """The account's sessions that are neither revoked nor expired, most recently used first."""
    now = _now()
    with db.session(config) as session:
        rows = session.exec(
            select(SignInSession)
            .where(
                SignInSession.account_id == account_id,
                col(SignInSession.revoked_at).is_(None),
                col(SignInSession.absolute_expires_at) > now,
                col(SignInSession.idle_expires_at) > now,
            )
            .order_by(col(SignInSession.last_seen_at).desc(), col(SignInSession.id).desc())
        ).all()
    return [
        SessionInfo(row.id, row.device, _aware(row.created_at), _aware(row.last_seen_at))
        for row in rows
        if row.id is not None
    ]


def account(account_id: int, *, config: settings.Settings | None = None) -> Account | None:
    """The account with this id."""
    with db.session(config) as session:
        return session.get(Account, account_id)


def issue_ticket(account_id: int, tab: str, *, config: settings.Settings | None = None) -> str:
    """A ticket the tab (Reflex's tab token) can exchange once, within TICKET_LIFETIME, for a session."""
    ticket = new_token()
    with db.session(config) as session:
        session.add(
            SignInTicket(
                ticket_hash=token_hash(ticket),
                account_id=account_id,
                tab_hash=token_hash(tab),
                expires_at=_now() + TICKET_LIFETIME,
            )
        )
        session.commit()
    return ticket


def redeem_ticket(ticket: str, tab: str, *, config: settings.Settings | None = None) -> int | None:
    """The account a ticket signs in, used up by this call; None if unknown, used, expired or another tab's.

    Deleted whatever the outcome, in one statement: two redemptions cannot both succeed, and a
    ticket tried from the wrong tab is gone.
    """
    with db.session(config) as session:
        row = session.exec(
            sa.delete(SignInTicket)
            .where(col(SignInTicket.ticket_hash) == token_hash(ticket))
            .returning(col(SignInTicket.account_id), col(SignInTicket.tab_hash), col(SignInTicket.expires_at))
        ).first()
        session.commit()
    if row is None:
        return None
    account_id, tab_hash, expires_at = row
    if not secrets.compare_digest(tab_hash, token_hash(tab)) or _now() >= _aware(expires_at):
        return None
    return account_id
