"""Sign-in sessions and tickets against real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest
from sqlmodel import select

from signup_app import db
from signup_app.accounts import Accepted, Account, register, sessions
from signup_app.accounts.models import SignInSession, SignInTicket, token_hash


def stored(token: str) -> SignInSession:
    """The token's session row."""
    with db.session() as session:
        return session.exec(select(SignInSession).where(SignInSession.token_hash == token_hash(token))).one()


@pytest.fixture
def account_id(database_url: str) -> int:
    result = anyio.run(
        register, {"name": "Ada", "email": "ada@example.com", "password": "copper kettle rain ladder"}
    )
    assert isinstance(result, Accepted) and result.value.id is not None
    return result.value.id


def test_a_session_keeps_only_the_tokens_hash(account_id: int) -> None:
    token = sessions.start(account_id, "Firefox on Linux")
    row = stored(token)
    assert len(token) >= 43 and row.token_hash == token_hash(token) and token not in row.token_hash
    viewer = sessions.resolve(token)
    assert viewer == sessions.Viewer(row.id, account_id)  # type: ignore[arg-type]
    assert sessions.resolve(token + "x") is None
    assert sessions.start(account_id, "x") != token  # every sign-in has its own token


def test_use_slides_the_idle_expiry_up_to_the_absolute_one(
    account_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expiries follow the settings; a session ends unused for the idle days, or at the absolute ones."""
    monkeypatch.setenv("SIGNUP_SESSION_IDLE_DAYS", "2")
    monkeypatch.setenv("SIGNUP_SESSION_ABSOLUTE_DAYS", "5")
    begun = datetime.now(UTC)
    used, unused = sessions.start(account_id, "used"), sessions.start(account_id, "unused")
    aware, row = sessions._aware, stored(used)  # SQLite gives back naive UTC
    created = aware(row.created_at)
    assert aware(row.idle_expires_at) - created == timedelta(days=2)
    assert aware(row.absolute_expires_at) - created == timedelta(days=5)

    def resolve_at(days: float, token: str = used) -> sessions.Viewer | None:
        monkeypatch.setattr(sessions, "_now", lambda: begun + timedelta(days=days))
        return sessions.resolve(token)

    assert resolve_at(1.5) is not None
    row = stored(used)
    assert aware(row.last_seen_at) == begun + timedelta(days=1.5)
    assert aware(row.idle_expires_at) == begun + timedelta(days=3.5)
    assert resolve_at(2.1, unused) is None  # idle
    assert resolve_at(3.4) is not None
    row = stored(used)
    assert row.idle_expires_at == row.absolute_expires_at  # slid, but never past it
    assert resolve_at(5.01) is None  # absolute
    assert sessions.active_sessions(account_id) == []


def test_revoking_one_session_of_ones_own_account_then_the_others_then_this_one(account_id: int) -> None:
    tokens = [sessions.start(account_id, f"device {i}") for i in range(4)]
    ids = [stored(token).id for token in tokens]
    assert sessions.revoke(ids[3], account_id=account_id + 1) == []  # not that account's session
    assert sessions.revoke(ids[3], account_id=account_id) == [ids[3]]  # so it was still active
    assert [s.device for s in sessions.active_sessions(account_id)] == ["device 2", "device 1", "device 0"]
    assert sorted(sessions.revoke_others(account_id, ids[0])) == ids[1:3]  # type: ignore[type-var]
    assert [sessions.resolve(token) is not None for token in tokens] == [True, False, False, False]
    assert sessions.revoke_token(tokens[0]) == [ids[0]]
    assert sessions.resolve(tokens[0]) is None
    assert sessions.revoke_token(tokens[0]) == []


def test_a_ticket_is_redeemed_once_by_its_own_tab_within_its_lifetime(
    account_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = sessions.issue_ticket(account_id, "tab-1")
    assert sessions.redeem_ticket(ticket, "tab-1") == account_id
    assert sessions.redeem_ticket(ticket, "tab-1") is None  # used up
    tried = sessions.issue_ticket(account_id, "tab-1")
    assert sessions.redeem_ticket(tried, "tab-2") is None
    assert sessions.redeem_ticket(tried, "tab-1") is None  # gone once another tab tried it
    expired = sessions.issue_ticket(account_id, "tab-1")
    later = datetime.now(UTC) + sessions.TICKET_LIFETIME
    monkeypatch.setattr(sessions, "_now", lambda: later)
    assert sessions.redeem_ticket(expired, "tab-1") is None


def test_the_account_is_found_by_id(account_id: int) -> None:
    found = sessions.account(account_id)
    assert isinstance(found, Account) and found.email == "ada@example.com"
    assert sessions.account(account_id + 100) is None


def test_ended_sessions_and_tickets_are_deleted_now_and_then(
    account_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = stored(sessions.start(account_id, "old"))
    ticket = sessions.issue_ticket(account_id, "tab")
    later = datetime.now(UTC) + timedelta(days=32)
    monkeypatch.setattr(sessions, "_now", lambda: later)
    monkeypatch.setattr(sessions, "_PURGE_EVERY", 1)  # this start purges
    sessions.start(account_id, "new")
    with db.session() as session:
        assert session.get(SignInSession, old.id) is None
        assert session.get(SignInTicket, token_hash(ticket)) is None
