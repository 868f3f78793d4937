"""sign_in against real databases: one message for every refusal, one cost for every address."""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Mapping

import anyio
import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlmodel import select

from signup_app import db
from signup_app.accounts import Accepted, Account, Rejected, Throttled, rate_limits, register, sign_in
from signup_app.accounts.signin import ENTER_EMAIL, ENTER_PASSWORD, INCORRECT, SignInResult

PASSWORD = "copper kettle rain ladder"


def attempt(fields: Mapping[str, object], client_address: str | None = "198.51.100.7") -> SignInResult:
    return anyio.run(functools.partial(sign_in, fields, client_address=client_address))


@pytest.fixture(autouse=True)
def _fresh_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    # In-memory counters live as long as their limiter: each test starts from none.
    monkeypatch.setattr(rate_limits, "_limiters", {})
    monkeypatch.setenv("SIGNUP_SIGNIN_LIMIT_PER_ADDRESS", "100000/minute")
    monkeypatch.setenv("SIGNUP_SIGNIN_LIMIT_PER_ACCOUNT", "100000/minute")


@pytest.fixture
def ada(database_url: str) -> Account:
    result = anyio.run(register, {"name": "Ada", "email": "ada@example.com", "password": PASSWORD})
    assert isinstance(result, Accepted)
    return result.value


def test_right_password_signs_in_whatever_the_address_case(ada: Account) -> None:
    result = attempt({"email": " ADA@Example.com ", "password": PASSWORD})
    assert isinstance(result, Accepted)
    assert result.value.id == ada.id
    assert dict(result.public) == {"id": ada.id, "name": "Ada", "email": "ada@example.com"}


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "ada@example.com", "password": PASSWORD + "!"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"email": "not an address", "password": PASSWORD},
        {"email": "ada@example.com", "password": "x" * 10_000},
    ],
    ids=["wrong-password", "unknown-email", "invalid-email", "oversized-password"],
)
def test_every_refusal_says_the_same(ada: Account, fields: dict[str, str]) -> None:
    assert attempt(fields) == Rejected({"form": INCORRECT})


def test_empty_fields_are_named_and_unexpected_ones_refused(database_url: str) -> None:
    assert attempt({"email": "", "password": None}) == Rejected(
        {"email": ENTER_EMAIL, "password": ENTER_PASSWORD}
    )
    assert isinstance(refused := attempt({"email": "a@b.c", "password": "x", "admin": "1"}), Rejected)
    assert "Unexpected field: admin" in refused.errors["form"]
    assert isinstance(attempt(["not", "a", "form"]), Rejected)  # type: ignore[arg-type]


def test_unknown_email_costs_what_a_wrong_password_costs(ada: Account) -> None:
    """Over 200 tries each, the medians differ by less than 2 ms.

    The tries alternate in the order ABBA, so a drift in the machine's speed weighs on both alike.
    """
    times: dict[str, list[float]] = {"unknown": [], "wrong": []}
    for i in range(100):
        for kind in ("unknown", "wrong", "wrong", "unknown"):
            email = f"nobody{i}@example.com" if kind == "unknown" else "ada@example.com"
            started = time.perf_counter()
            assert attempt({"email": email, "password": PASSWORD + "?"}, None) == Rejected(
                {"form": INCORRECT}
            )
            times[kind].append(time.perf_counter() - started)
    unknown, wrong = (statistics.median(times[kind]) * 1000 for kind in ("unknown", "wrong"))
    assert abs(unknown - wrong) < 2, (
        f"median of 200 tries: unknown email {unknown:.2f} ms, wrong password {wrong:.2f} ms"
    )


def test_hash_with_older_parameters_is_upgraded(ada: Account) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with db.session() as session:
        row = session.get(Account, ada.id)
        assert row is not None
        row.password_hash = old
        session.add(row)
        session.commit()
    assert isinstance(attempt({"email": "ada@example.com", "password": PASSWORD}), Accepted)
    with db.session() as session:
        upgraded = session.exec(select(Account.password_hash).where(Account.id == ada.id)).one()
    assert upgraded != old
    assert (extract_parameters(upgraded).time_cost, extract_parameters(upgraded).memory_cost) == (2, 19456)
    assert isinstance(attempt({"email": "ada@example.com", "password": PASSWORD}), Accepted)


def test_failures_are_limited_per_account_and_address_without_locking_out_the_owner(
    ada: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGNUP_SIGNIN_LIMIT_PER_ACCOUNT", "3/hour")
    wrong = {"email": "ada@example.com", "password": "wrong wrong wrong wrong"}
    for _ in range(3):
        assert attempt(wrong, "203.0.113.9") == Rejected({"form": INCORRECT})
    assert isinstance(throttled := attempt(wrong, "203.0.113.9"), Throttled)
    assert throttled.retry_after > 0
    # The owner, elsewhere, is not locked out by the attacker's failures.
    assert isinstance(attempt({"email": "ada@example.com", "password": PASSWORD}, "198.51.100.20"), Accepted)


def test_attempts_are_limited_per_address(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNUP_SIGNIN_LIMIT_PER_ADDRESS", "2/hour")
    for i in range(2):
        assert isinstance(
            attempt({"email": f"u{i}@example.com", "password": PASSWORD}, "192.0.2.1"), Rejected
        )
    assert isinstance(attempt({"email": "u9@example.com", "password": PASSWORD}, "192.0.2.1"), Throttled)
