"""register against real databases: SQLite and PostgreSQL, each migrated by Alembic."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from argon2 import extract_parameters
from argon2.low_level import Type
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from signup_app import db
from signup_app.accounts import Accepted, Account, Rejected, Unavailable, passwords, register, registration
from signup_app.accounts.passwords import HashingBusyError, verify_password
from signup_app.accounts.registration import BUSY, EMAIL_TAKEN, SERVER_ERROR, UNAVAILABLE, SignupResult
from signup_app.accounts.validation import email_key


def sign_up(fields: Mapping[str, object], client_address: str | None = None) -> SignupResult:
    """The action, run to its end from synchronous test code."""
    return anyio.run(functools.partial(register, fields, client_address=client_address))


PASSWORD = "copper kettle rain ladder"


def accounts() -> list[Account]:
    with db.session() as session:
        return list(session.exec(select(Account)))


def test_registers_an_account(database_url: str) -> None:
    before = datetime.now(UTC)
    result = sign_up({"name": " Ada Lovelace ", "email": "Ada@EXAMPLE.com", "password": PASSWORD})

    assert isinstance(result, Accepted)
    [stored] = accounts()
    assert stored.id == result.value.id
    assert (stored.name, stored.email) == ("Ada Lovelace", "Ada@example.com")
    created = stored.created_at if stored.created_at.tzinfo else stored.created_at.replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)
    params = extract_parameters(stored.password_hash)
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (Type.ID, 19456, 2, 1)
    assert verify_password(stored.password_hash, PASSWORD)
    assert PASSWORD not in stored.password_hash


def test_twenty_concurrent_signups_of_one_email_create_one_account(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Room for all twenty at once: this is about the database, not about shedding overload.
    monkeypatch.setenv("SIGNUP_MAX_WAITING_HASHES", "32")
    emails = [
        "".join(c.upper() if (i >> (j % 5)) & 1 else c for j, c in enumerate("race@example.com"))
        for i in range(20)
    ]
    assert len({e.lower() for e in emails}) == 1 and len(set(emails)) == 20
    barrier = threading.Barrier(len(emails))
    results: list[object] = [None] * len(emails)

    def race(index: int) -> None:
        barrier.wait()
        results[index] = sign_up(
            {"name": f"Racer {index}", "email": emails[index], "password": f"{PASSWORD} {index}"}
        )

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(emails))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    created = [r for r in results if isinstance(r, Accepted)]
    rejected = [r for r in results if isinstance(r, Rejected)]
    assert len(created) == 1
    assert rejected == [Rejected({"email": EMAIL_TAKEN})] * 19
    assert [a.id for a in accounts()] == [created[0].value.id]


def test_the_database_enforces_case_insensitive_uniqueness(database_url: str) -> None:
    """The unique index itself, not a check in Python, is what refuses the duplicate."""
    with db.session() as session:
        session.add(Account(name="A", email="dup@example.com", password_hash="x"))
        session.commit()
        session.add(Account(name="B", email="DUP@example.com", password_hash="x"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_the_same_submission_sent_again_gets_its_account_back(database_url: str) -> None:
    key = "k" * 32
    fields = {"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "signup_key": key}
    first = sign_up(fields)
    again = sign_up(dict(fields))
    padded = sign_up({**fields, "name": "  Ada "})  # the same name once normalised
    other = sign_up({**fields, "name": "Eve", "signup_key": "e" * 32})
    keyless = sign_up({"name": "Eve", "email": "ada@example.com", "password": PASSWORD})
    assert isinstance(first, Accepted) and isinstance(again, Accepted) and isinstance(padded, Accepted)
    assert again.value.id == padded.value.id == first.value.id
    assert (again.value.name, again.value.email) == (first.value.name, first.value.email)
    assert other == keyless == Rejected({"email": EMAIL_TAKEN})
    assert len(accounts()) == 1


RESEND_KEY = "r" * 32
ORIGINAL = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "password": PASSWORD,
    "signup_key": RESEND_KEY,
}


@pytest.mark.parametrize(
    "changed",
    [
        {"password": "another password entirely 42"},
        {"password": PASSWORD + " "},
        {"name": "Mallory"},
        {"name": "ada lovelace"},
        {"email": "ADA@example.com"},  # the same account, but not what was sent
    ],
    ids=["other-password", "password-plus-space", "other-name", "name-case", "email-case"],
)
def test_a_key_sent_with_other_fields_is_an_ordinary_attempt(
    database_url: str, changed: dict[str, str]
) -> None:
    """Knowing an account's key and address is not enough: everything sent must be what was stored."""
    assert isinstance(sign_up(ORIGINAL), Accepted)
    result = sign_up({**ORIGINAL, **changed})
    assert result == Rejected({"email": EMAIL_TAKEN})
    [stored] = accounts()
    assert stored.name == "Ada Lovelace" and verify_password(stored.password_hash, PASSWORD)


def test_a_key_is_honoured_for_24_hours(database_url: str) -> None:
    created = sign_up(ORIGINAL)
    assert isinstance(created, Accepted)
    for age, honoured in [(timedelta(hours=23, minutes=59), True), (timedelta(hours=24, minutes=1), False)]:
        with db.session() as session:
            account = session.get(Account, created.value.id)
            account.created_at = datetime.now(UTC) - age
            session.add(account)
            session.commit()
        result = sign_up(ORIGINAL)
        assert isinstance(result, Accepted) is honoured, result
    assert result == Rejected({"email": EMAIL_TAKEN})


def test_a_key_sent_again_with_another_address_makes_an_account_without_the_key(database_url: str) -> None:
    """The key is already bound to the first account: the second is created without idempotency."""
    first = sign_up(ORIGINAL)
    second = sign_up({**ORIGINAL, "email": "grace@example.com", "name": "Grace"})
    assert isinstance(first, Accepted) and isinstance(second, Accepted)
    assert second.value.email == "grace@example.com" and second.value.id != first.value.id
    by_email = {a.email: a for a in accounts()}
    # Only a hash of the key is stored.
    assert by_email["ada@example.com"].signup_key_hash == hashlib.sha256(RESEND_KEY.encode()).hexdigest()
    assert all(RESEND_KEY not in str(value) for value in by_email["ada@example.com"].model_dump().values())
    assert by_email["grace@example.com"].signup_key_hash is None
    # Each still answers as before: the first to its re-send, the second to nobody's.
    assert isinstance(sign_up(ORIGINAL), Accepted)
    assert sign_up({**ORIGINAL, "email": "grace@example.com", "name": "Grace"}) == Rejected(
        {"email": EMAIL_TAKEN}
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ada@example.com", "ADA@Example.COM"),
        ("ÉMILE@example.com", "émile@example.com"),
        ("Straße@example.com", "STRASSE@example.com"),
        ("strasse@example.com", "STRAẞE@example.com"),
        ("ﬃ@example.com", "FFI@example.com"),
    ],
)
def test_addresses_equal_under_the_email_key_are_one_account(
    database_url: str, first: str, second: str
) -> None:
    """A taken address is an email error whatever its case; where SQL lower() and Python's case mapping
    disagree (non-ASCII), the stored key decides."""
    assert email_key(first) == email_key(second)
    assert isinstance(sign_up({"name": "One", "email": first, "password": PASSWORD}), Accepted)
    result = sign_up({"name": "Two", "email": second, "password": PASSWORD + " two"})
    assert result == Rejected({"email": EMAIL_TAKEN})
    [stored] = accounts()
    assert (stored.email, stored.email_key) == (first, email_key(first))


def test_an_email_whose_key_is_too_long_is_refused(database_url: str) -> None:
    # U+FDFA is one character that NFKC turns into 18.
    email = "\ufdfa" * 20 + "@example.com"
    result = sign_up({"name": "Long", "email": email, "password": PASSWORD})
    assert result == Rejected({"email": "Email address must be at most 254 characters."})
    assert accounts() == []


@pytest.mark.parametrize("key", ["short", "x" * 65, "bad key with spaces!!", 42])
def test_a_malformed_signup_key_is_a_form_error(database_url: str, key: object) -> None:
    result = sign_up({"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "signup_key": key})
    assert isinstance(result, Rejected) and set(result.errors) == {"form"}
    assert accounts() == []


def test_an_unreachable_database_is_temporarily_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLEX_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    result = sign_up({"name": "Ada", "email": "ada@example.com", "password": PASSWORD})
    assert result == Unavailable(UNAVAILABLE, retry_after=5)


@pytest.mark.parametrize(
    ("failure", "message", "retry_after"),
    [(HashingBusyError(), BUSY, range(1, 6)), (RuntimeError("boom"), SERVER_ERROR, [None])],
    ids=["busy-hashing", "bug"],
)
def test_a_failure_is_answered_as_unavailable(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
    message: str,
    retry_after: list[int | None],
) -> None:
    """Busy hashing is a busy answer, to try again shortly; a bug is logged and is a server error."""

    def failing(_password: str) -> str:
        raise failure

    monkeypatch.setattr(registration, "hash_password", failing)
    result = sign_up({"name": "Ada", "email": "ada@example.com", "password": PASSWORD})
    assert isinstance(result, Unavailable) and result.message == message
    assert result.retry_after in retry_after
    logged = [r for r in caplog.records if r.message == "signup failed" and r.exc_info]
    assert bool(logged) is (message == SERVER_ERROR)


async def test_overload_is_refused_before_any_work_and_costs_no_attempt(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every place held, a signup is Busy before the thread hop: no rate-limit hit, no hash."""
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
        refused = await register(fields, client_address="192.0.2.1")
        assert isinstance(refused, Unavailable) and refused.message == BUSY
        assert limiter_calls == []
        assert accounts() == []
    finally:
        for place in places:
            place.release()
    # One place left: the signup's own place must cover the hash it runs in its thread.
    places = [passwords.reserve_hash_place() for _ in range(passwords.HASH_THREADS - 1)]
    try:
        result = await register(fields, client_address="192.0.2.1")
    finally:
        for place in places:
            place.release()
    assert isinstance(result, Accepted)
    assert limiter_calls == ["hit"]
    assert passwords.hashes_in_flight() == 0
