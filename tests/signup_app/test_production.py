"""The production settings check names every missing or unsafe setting."""

from __future__ import annotations

import pytest

from signup_app.production import problems

GOOD = {"REFLEX_DB_URL": "postgresql+psycopg://app@db/signup", "REFLEX_REDIS_URL": "rediss://cache:6379/0"}


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"GRANIAN_WORKERS": "4"},
        {"REFLEX_CORS_ALLOWED_ORIGINS": "https://signup.example.com"},
        {"REFLEX_CORS_ALLOWED_ORIGINS": "https://signup.example.com, https://www.example.com:8443/"},
        {"REFLEX_REDIS_URL": "redis://:s3cret@cache:6379/0"},
        {"REFLEX_REDIS_URL": "redis://app:s3cret@cache:6379/0"},
        {"REFLEX_REDIS_URL": "redis://127.0.0.1:6379", "SIGNUP_ALLOW_INSECURE_REDIS": "1"},
        {"SIGNUP_RATE_LIMIT_PER_EMAIL": "10/hour", "SIGNUP_RATE_LIMIT_PER_ADDRESS": "30 per hour"},
        {"SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": "100/hour;1000/day"},
        {"SIGNUP_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1, 2001:db8::/48, ::1"},
        {"SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "50", "SIGNUP_IPV6_PREFIX": "56"},
        {"SIGNUP_BIND_ADDRESS": "0.0.0.0"},  # noqa: S104  (a deliberate choice, accepted)
        {"SIGNUP_BIND_ADDRESS": "::"},
    ],
)
def test_a_complete_configuration_passes(settings: dict[str, str]) -> None:
    assert problems(GOOD | settings) == []


BAD: dict[str, dict[str, str | None]] = {
    "no database": {"REFLEX_DB_URL": ""},
    "sqlite": {"REFLEX_DB_URL": "sqlite:///x.db"},
    "no Redis": {"REFLEX_REDIS_URL": None},
    "Redis without password or TLS": {"REFLEX_REDIS_URL": "redis://cache:6379/0"},
    "Redis, user but no password": {"REFLEX_REDIS_URL": "redis://app@cache:6379/0"},
    "Redis, insecure not allowed": {
        "REFLEX_REDIS_URL": "redis://cache:6379/0",
        "SIGNUP_ALLOW_INSECURE_REDIS": "0",
    },
    "not a Redis URL": {"REFLEX_REDIS_URL": "http://cache:6379"},
    "insecure flag junk": {"SIGNUP_ALLOW_INSECURE_REDIS": "yes"},
    "any origin": {"REFLEX_CORS_ALLOWED_ORIGINS": "https://a.example, *"},
    "http origin": {"REFLEX_CORS_ALLOWED_ORIGINS": "http://a.example"},
    "origin with a path": {"REFLEX_CORS_ALLOWED_ORIGINS": "https://a.example/x"},
    "origin without a host": {"REFLEX_CORS_ALLOWED_ORIGINS": "https://"},
    "origin with a bad port": {"REFLEX_CORS_ALLOWED_ORIGINS": "https://a:x"},
    "a bare host": {"REFLEX_CORS_ALLOWED_ORIGINS": "signup.example.com"},
    "limit junk": {"SIGNUP_RATE_LIMIT_PER_EMAIL": "five a minute"},
    "limit unit": {"SIGNUP_RATE_LIMIT_PER_ADDRESS": "5/fortnight"},
    "limit empty": {"SIGNUP_RATE_LIMIT_PER_ADDRESS": ""},
    "limit zero": {"SIGNUP_RATE_LIMIT_PER_ADDRESS": "0/minute"},
    "any limit variable": {"SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": "100/eon"},
    "proxy junk": {"SIGNUP_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"},
    "proxy bad prefix": {"SIGNUP_TRUSTED_PROXIES": "10.0.0.0/33"},
    "connections junk": {"SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "many"},
    "connections zero": {"SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "0"},
    "IPv6 prefix junk": {"SIGNUP_IPV6_PREFIX": "/64"},
    "IPv6 prefix too wide": {"SIGNUP_IPV6_PREFIX": "8"},
    "IPv6 prefix too long": {"SIGNUP_IPV6_PREFIX": "129"},
    "waiting hashes junk": {"SIGNUP_MAX_WAITING_HASHES": "-1"},
    "bind to a name": {"SIGNUP_BIND_ADDRESS": "localhost"},
    "bind empty": {"SIGNUP_BIND_ADDRESS": ""},
    "one worker": {"GRANIAN_WORKERS": "1"},
}


@pytest.mark.parametrize("change", BAD.values(), ids=BAD.keys())
def test_each_problem_names_its_variable(change: dict[str, str | None]) -> None:
    """The problem names the first variable changed."""
    variable = next(iter(change))
    env = {k: v for k, v in (GOOD | change).items() if v is not None}
    [problem] = problems(env)
    assert problem.startswith(variable), problem


def test_every_problem_is_reported_at_once() -> None:
    assert len(problems({})) == 2
    env = {
        "REFLEX_REDIS_URL": "redis://cache",
        "SIGNUP_TRUSTED_PROXIES": "x",
        "SIGNUP_RATE_LIMIT_PER_EMAIL": "x",
    }
    assert len(problems(env)) == 4
