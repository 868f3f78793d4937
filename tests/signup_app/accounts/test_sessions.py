"""Sign-in sessions and tickets against real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest
from sqlmodel import select

from signup_app import db
from signup_app.accounts import Accepted, Account, register, sessions
from signup_app.accounts.models import SignInSession, SignInTicket, token_hash


@pytest.fixture
def account_id(database_url: str) -> int:
    result = anyio.run(
        register, {"name": "Ada", "email": "ada@example.com", "password": "copper kettle rain ladder"}
    )
    assert isinstance(result, Accepted) and result.value.id is not None
    return result.value.id


def _row(token: str) -> SignInSession:
    with db.session() as session:
        return session.exec(select(SignInSession).where(SignInSession.token_hash == token_hash(token))).one()


def _shift(token: str, **moments: datetime) -> None:
    with db.session() as session:
        row = session.exec(select(SignInSession).where(SignInSession.token_hash == token_hash(token))).one()
        for name, moment in moments.items():
            setattr(row, name, moment)
        session.add(row)
        session.commit()


def test_a_session_keeps_only_the_tokens_hash(account_id: int) -> None:
    token = sessions.start(account_id, "Firefox on Linux")
    row = _row(token)
    assert len(token) >= 43 and row.token_hash == token_hash(token) and token not in row.token_hash
    viewer = sessions.resolve(token)
    assert viewer == sessions.Viewer(row.id, account_id)  # type: ignore[arg-type]
    assert sessions.resolve(token + "x") is None
    assert sessions.start(account_id, "x") != token  # every sign-in has its own token


def test_expiries_follow_the_settings(account_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNUP_SESSION_IDLE_DAYS", "2")
    monkeypatch.setenv("SIGNUP_SESSION_ABSOLUTE_DAYS", "5")
    row = _row(sessions.start(account_id, "d"))
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    idle = row.idle_expires_at if row.idle_expires_at.tzinfo else row.idle_expires_at.replace(tzinfo=UTC)
    absolute = (
        row.absolute_expires_at.replace(tzinfo=UTC)
        if not row.absolute_expires_at.tzinfo
        else row.absolute_expires_at
    )
    assert idle - created == timedelta(days=2)
    assert absolute - created == timedelta(days=5)


def test_idle_and_absolute_expiry_end_a_session(account_id: int) -> None:
    now = datetime.now(UTC)
    idle, absolute = sessions.start(account_id, "a"), sessions.start(account_id, "b")
    _shift(idle, idle_expires_at=now - timedelta(seconds=1))
    _shift(absolute, absolute_expires_at=now - timedelta(seconds=1))
    assert sessions.resolve(idle) is None
    assert sessions.resolve(absolute) is None
    assert sessions.active_sessions(account_id) == []


def test_use_slides_the_idle_expiry_but_never_past_the_absolute_one(account_id: int) -> None:
    now = datetime.now(UTC)
    token = sessions.start(account_id, "a")
    _shift(
        token,
        last_seen_at=now - timedelta(hours=1),
        idle_expires_at=now + timedelta(hours=1),
        absolute_expires_at=now + timedelta(days=2),
    )
    assert sessions.resolve(token) is not None
    row = _row(token)
    seen = row.last_seen_at if row.last_seen_at.tzinfo else row.last_seen_at.replace(tzinfo=UTC)
    idle = row.idle_expires_at if row.idle_expires_at.tzinfo else row.idle_expires_at.replace(tzinfo=UTC)
    assert seen >= now
    assert now + timedelta(days=1) < idle <= now + timedelta(days=2, seconds=1)


def test_revoking_ends_one_session_of_ones_own_account(account_id: int) -> None:
    first, second = sessions.start(account_id, "a"), sessions.start(account_id, "b")
    first_id = _row(first).id
    assert first_id is not None
    assert sessions.revoke(first_id, account_id=account_id + 1) == []  # not that account's session
    assert sessions.resolve(first) is not None
    assert sessions.revoke(first_id, account_id=account_id) == [first_id]
    assert sessions.resolve(first) is None and sessions.resolve(second) is not None
    assert [s.device for s in sessions.active_sessions(account_id)] == ["b"]


def test_sign_out_and_sign_out_of_the_others(account_id: int) -> None:
    tokens = [sessions.start(account_id, f"device {i}") for i in range(3)]
    keep = _row(tokens[0]).id
    assert keep is not None
    assert len(sessions.revoke_others(account_id, keep)) == 2
    assert [sessions.resolve(t) is not None for t in tokens] == [True, False, False]
    assert sessions.revoke_token(tokens[0]) == [keep]
    assert sessions.resolve(tokens[0]) is None
    assert sessions.revoke_token(tokens[0]) == []


def test_a_ticket_is_redeemed_once_by_its_own_tab(account_id: int) -> None:
    ticket = sessions.issue_ticket(account_id, "tab-1")
    assert sessions.redeem_ticket(ticket, "tab-1") == account_id
    assert sessions.redeem_ticket(ticket, "tab-1") is None  # used up


def test_a_ticket_tried_from_another_tab_is_gone(account_id: int) -> None:
    ticket = sessions.issue_ticket(account_id, "tab-1")
    assert sessions.redeem_ticket(ticket, "tab-2") is None
    assert sessions.redeem_ticket(ticket, "tab-1") is None


def test_an_expired_ticket_is_refused(account_id: int) -> None:
    ticket = sessions.issue_ticket(account_id, "tab-1")
    with db.session() as session:
        row = session.get(SignInTicket, token_hash(ticket))
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert sessions.redeem_ticket(ticket, "tab-1") is None


def test_the_account_is_found_by_id(account_id: int) -> None:
    found = sessions.account(account_id)
    assert isinstance(found, Account) and found.email == "ada@example.com"
    assert sessions.account(account_id + 100) is None
