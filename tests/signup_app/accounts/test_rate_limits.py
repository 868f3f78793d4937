"""Rate limits on register: refused attempts cost no hash, and Redis shares the counts."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Mapping

import anyio
import pytest
import redis

from signup_app.accounts import Accepted, Rejected, Throttled, register
from signup_app.accounts import registration as registration_module
from signup_app.accounts.rate_limits import signup_limiter
from signup_app.accounts.registration import EMAIL_TAKEN, SignupResult
from tests.harness.data import unique_email
from tests.harness.services import unavailable


def sign_up(fields: Mapping[str, object], client_address: str | None = None) -> SignupResult:
    """The action, run to its end from synchronous test code."""
    return anyio.run(functools.partial(register, fields, client_address=client_address))


PASSWORD = "copper kettle rain ladder"
TOO_MANY = re.compile(r"^Too many attempts, try again in [1-9]\d* seconds\.$")


@pytest.fixture
def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = registration_module.hash_password

    def counting(password: str) -> str:
        calls.append("hash")
        return real(password)

    monkeypatch.setattr(registration_module, "hash_password", counting)
    return calls


def form(email: str | None = None) -> dict[str, str]:
    return {"name": "Flood", "email": email or unique_email("f"), "password": PASSWORD}


def test_address_limit_refuses_before_any_hash(
    database_url: str, monkeypatch: pytest.MonkeyPatch, count_hashes: list[str]
) -> None:
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_ADDRESS", "3/minute")
    address = f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    results = [sign_up(form(), client_address=address) for _ in range(50)]

    assert [isinstance(r, Accepted) for r in results[:3]] == [True] * 3
    refused = results[3:]
    assert all(isinstance(r, Throttled) and set(r.errors) == {"form"} for r in refused)
    assert all(TOO_MANY.match(r.errors["form"]) and r.retry_after for r in refused)  # type: ignore[union-attr]
    assert len(count_hashes) == 3


def test_email_limit_counts_every_form_of_the_address(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL", "2/minute")
    tag = uuid.uuid4().hex[:8]
    email = f"straße-{tag}@example.com"
    first = sign_up(form(email), client_address="192.0.2.1")
    second = sign_up(form(f"STRASSE-{tag}@example.com"), client_address="192.0.2.1")
    third = sign_up(form(email.title()), client_address="192.0.2.1")
    assert isinstance(first, Accepted)
    assert isinstance(second, Rejected) and "email" in second.errors
    assert isinstance(third, Throttled) and TOO_MANY.match(third.errors["form"])


def test_attempts_without_an_address_count_as_one_address(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No per-address limit without an address; per email, all such attempts count together."""
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_ADDRESS", "1/hour")
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL", "2/minute")
    assert isinstance(sign_up(form()), Accepted)
    assert isinstance(sign_up(form()), Accepted)
    email = unique_email("victim")
    assert isinstance(sign_up(form(email)), Accepted)
    assert isinstance(sign_up(form(email)), Rejected)
    third = sign_up(form(email))
    assert isinstance(third, Throttled) and TOO_MANY.match(third.errors["form"])
    # Attempts made from an address are not counted with them.
    address = f"192.0.2.9-{uuid.uuid4().hex[:6]}"
    assert sign_up(form(email), client_address=address) == Rejected({"email": EMAIL_TAKEN})


def use_machine_redis(monkeypatch: pytest.MonkeyPatch) -> str:
    """REFLEX_REDIS_URL set to the machine's Redis, once it answers; its URL."""
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    monkeypatch.setenv("REFLEX_REDIS_URL", url)
    return url


@pytest.fixture(params=["memory", "redis"])
def limit_storage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The limits' storage: in memory, or the machine's Redis (as with REFLEX_REDIS_URL set)."""
    if request.param == "redis":
        use_machine_redis(monkeypatch)
    else:
        monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    return request.param


def test_an_attacker_cannot_lock_the_owner_out(
    sqlite_url: str, limit_storage: str, monkeypatch: pytest.MonkeyPatch, count_hashes: list[str]
) -> None:
    """One address uses up its attempts at the victim's email; the victim, elsewhere, signs up."""
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_url)
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL", "3/minute")
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL", "10/minute")
    victim = unique_email("victim")
    attacker = f"203.0.113.{uuid.uuid4().int % 250}"
    bad_password = {"name": "Attacker", "email": victim, "password": "short"}
    attempts = [sign_up(bad_password, client_address=attacker) for _ in range(50)]

    assert all(set(r.errors) == {"password"} for r in attempts[:3])  # type: ignore[union-attr]
    assert all(isinstance(r, Throttled) and TOO_MANY.match(r.errors.get("form", "")) for r in attempts[3:])
    created = sign_up(
        {"name": "Victim", "email": victim.upper(), "password": PASSWORD}, client_address="198.51.100.20"
    )
    assert isinstance(created, Accepted), created
    assert created.value.name == "Victim"
    assert len(count_hashes) == 1


def test_the_global_ceiling_holds_across_addresses(
    sqlite_url: str, limit_storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_url)
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL", "3/minute")
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL", "10/minute")
    victim = unique_email("victim")
    results = [
        sign_up({"name": "Many", "email": victim, "password": "short"}, client_address=f"192.0.2.{i}")
        for i in range(1, 21)
    ]
    limited = [r for r in results if isinstance(r, Throttled) and TOO_MANY.match(r.errors.get("form", ""))]
    assert len(limited) == 10
    assert results[10:] == limited


def test_an_address_over_its_email_limit_uses_none_of_the_ceiling(
    limit_storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL", "2/minute")
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL", "5/minute")
    limiter = signup_limiter()
    victim = unique_email("victim")
    assert [limiter.hit_email(victim, "192.0.2.1") is None for _ in range(100)] == [True, True] + [False] * 98
    # Five from all addresses: two used by the first, three left for others.
    assert [limiter.hit_email(victim, f"192.0.2.{i}") is None for i in range(2, 6)] == [True] * 3 + [False]


def test_checking_an_address_counts_nothing(limit_storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_ADDRESS", "2/minute")
    limiter = signup_limiter()
    address = f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    assert all(limiter.address_wait(address) is None for _ in range(20))
    assert [limiter.hit_address(address) for _ in range(2)] == [None, None]
    wait = limiter.address_wait(address)
    assert wait is not None and 1 <= wait <= 60
    assert limiter.hit_address(address) is not None


def test_redis_storage_shares_counts_between_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    url = use_machine_redis(monkeypatch)
    monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_EMAIL", "2/minute")
    email = unique_email("shared")
    limiter = signup_limiter()
    assert limiter.hit_email(email, "192.0.2.1") is None
    # A second worker is another process; here, a limiter built on a fresh storage connection.
    other = type(limiter)(
        type(limiter.limiter)(type(limiter.limiter.storage)(url)),
        limiter.per_address,
        limiter.per_email,
        limiter.per_email_global,
    )
    assert other.hit_email(email, "192.0.2.1") is None
    assert limiter.hit_email(email, "192.0.2.1") is not None


def test_threads_starting_together_share_one_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first signups after a start run in parallel threads: they must all count in one place."""
    import threading

    from signup_app.accounts import rate_limits

    for attempt in range(20):
        monkeypatch.setenv("SIGNUP_RATE_LIMIT_PER_ADDRESS", f"1/minute;{attempt + 2}/hour")  # a fresh limiter
        barrier = threading.Barrier(6)
        passed: list[bool] = []

        def hit(barrier: threading.Barrier = barrier, passed: list[bool] = passed) -> None:
            barrier.wait()
            passed.append(rate_limits.signup_limiter().hit_address("192.0.2.77") is None)

        threads = [threading.Thread(target=hit) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert passed.count(True) == 1, f"start {attempt}: {passed.count(True)} attempts got through"
