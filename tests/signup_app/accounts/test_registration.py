"""register_account against real databases: SQLite and PostgreSQL, each migrated by Alembic."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import extract_parameters
from argon2.low_level import Type
from sqlmodel import select

from signup_app import db
from signup_app.accounts import Account, Registered, Rejected, register_account
from signup_app.accounts.passwords import verify_password
from signup_app.accounts.registration import EMAIL_TAKEN

PASSWORD = "copper kettle rain ladder"


def accounts() -> list[Account]:
    with db.session() as session:
        return list(session.exec(select(Account)))


def test_registers_an_account(database_url: str) -> None:
    before = datetime.now(UTC)
    result = register_account({"name": " Ada Lovelace ", "email": "Ada@EXAMPLE.com", "password": PASSWORD})

    assert isinstance(result, Registered)
    [stored] = accounts()
    assert stored.id == result.account.id
    assert (stored.name, stored.email) == ("Ada Lovelace", "Ada@example.com")
    created = stored.created_at if stored.created_at.tzinfo else stored.created_at.replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)
    params = extract_parameters(stored.password_hash)
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (Type.ID, 19456, 2, 1)
    assert verify_password(stored.password_hash, PASSWORD)
    assert PASSWORD not in stored.password_hash


def test_rejected_input_writes_nothing(database_url: str) -> None:
    result = register_account({"name": "", "email": "nope", "password": "short"})
    assert isinstance(result, Rejected)
    assert set(result.errors) == {"name", "email", "password"}
    assert accounts() == []


def test_taken_email_is_an_email_error_whatever_its_case(database_url: str) -> None:
    assert isinstance(
        register_account({"name": "Ada", "email": "ada@example.com", "password": PASSWORD}), Registered
    )
    result = register_account({"name": "Other", "email": "ADA@Example.COM", "password": PASSWORD + " two"})
    assert result == Rejected({"email": EMAIL_TAKEN})
    assert len(accounts()) == 1


def test_twenty_concurrent_signups_of_one_email_create_one_account(database_url: str) -> None:
    emails = [
        "".join(c.upper() if (i >> (j % 5)) & 1 else c for j, c in enumerate("race@example.com"))
        for i in range(20)
    ]
    assert len({e.lower() for e in emails}) == 1 and len(set(emails)) == 20
    barrier = threading.Barrier(len(emails))
    results: list[object] = [None] * len(emails)

    def sign_up(index: int) -> None:
        barrier.wait()
        results[index] = register_account(
            {"name": f"Racer {index}", "email": emails[index], "password": f"{PASSWORD} {index}"}
        )

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(len(emails))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    created = [r for r in results if isinstance(r, Registered)]
    rejected = [r for r in results if isinstance(r, Rejected)]
    assert len(created) == 1
    assert rejected == [Rejected({"email": EMAIL_TAKEN})] * 19
    assert [a.id for a in accounts()] == [created[0].account.id]


def test_the_database_enforces_case_insensitive_uniqueness(database_url: str) -> None:
    """The unique index itself, not a check in Python, is what refuses the duplicate."""
    from sqlalchemy.exc import IntegrityError

    with db.session() as session:
        session.add(Account(name="A", email="dup@example.com", password_hash="x"))
        session.commit()
        session.add(Account(name="B", email="DUP@example.com", password_hash="x"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_the_same_submission_sent_again_gets_its_account_back(database_url: str) -> None:
    key = "k" * 32
    first = register_account(
        {"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "signup_key": key}
    )
    again = register_account(
        {"name": "Ada", "email": "ADA@example.com", "password": PASSWORD, "signup_key": key}
    )
    other = register_account(
        {"name": "Eve", "email": "ada@example.com", "password": PASSWORD, "signup_key": "e" * 32}
    )
    keyless = register_account({"name": "Eve", "email": "ada@example.com", "password": PASSWORD})
    assert isinstance(first, Registered) and isinstance(again, Registered)
    assert again.account.id == first.account.id
    assert other == keyless == Rejected({"email": EMAIL_TAKEN})
    assert len(accounts()) == 1


@pytest.mark.parametrize("key", ["short", "x" * 65, "bad key with spaces!!", 42])
def test_a_malformed_signup_key_is_a_form_error(database_url: str, key: object) -> None:
    result = register_account(
        {"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "signup_key": key}
    )
    assert isinstance(result, Rejected) and set(result.errors) == {"form"}
    assert accounts() == []


def test_an_unreachable_database_is_temporarily_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from signup_app.accounts.registration import TemporarilyUnavailable

    monkeypatch.setenv("REFLEX_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    with pytest.raises(TemporarilyUnavailable):
        register_account({"name": "Ada", "email": "ada@example.com", "password": PASSWORD})


def test_busy_hashing_is_a_busy_answer_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from signup_app.accounts import registration
    from signup_app.accounts.passwords import HashingBusy

    def busy(_password: str) -> str:
        raise HashingBusy

    monkeypatch.setattr(registration, "hash_password", busy)
    with pytest.raises(registration.Busy) as raised:
        register_account({"name": "Ada", "email": "ada@example.com", "password": PASSWORD})
    assert isinstance(raised.value, registration.TemporarilyUnavailable)
    assert raised.value.message == registration.BUSY
    assert 1 <= raised.value.retry_after <= 5


async def test_overload_is_refused_before_any_work_and_costs_no_attempt(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every place held, a signup is Busy before the thread hop: no rate-limit hit, no hash."""
    from signup_app.accounts import passwords, registration

    monkeypatch.setenv("SIGNUP_MAX_WAITING_HASHES", "0")
    real_limiter = registration.signup_limiter
    limiter_calls: list[str] = []

    def counting_limiter() -> object:
        limiter_calls.append("hit")
        return real_limiter()

    monkeypatch.setattr(registration, "signup_limiter", counting_limiter)
    fields = {"name": "Ada", "email": "ada@example.com", "password": PASSWORD}
    places = [passwords.reserve_hash_place() for _ in range(passwords.HASH_THREADS)]
    try:
        with pytest.raises(registration.Busy):
            await registration.register_account_in_thread(fields, client_address="192.0.2.1")
        assert limiter_calls == []
        assert accounts() == []
    finally:
        for place in places:
            place.release()
    # One place left: the signup's own place must cover the hash it runs in its thread.
    places = [passwords.reserve_hash_place() for _ in range(passwords.HASH_THREADS - 1)]
    try:
        result = await registration.register_account_in_thread(fields, client_address="192.0.2.1")
    finally:
        for place in places:
            place.release()
    assert isinstance(result, Registered)
    assert limiter_calls == ["hit"]
    assert passwords.hashes_in_flight() == 0
