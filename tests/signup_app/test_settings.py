"""The settings: every variable typed and validated, defaults as documented, read once."""

from __future__ import annotations

import ipaddress

import pytest

from signup_app import settings
from signup_app.settings import Settings, SettingsError, from_environ

# Each variable: its Settings field, its default, a value to set and what it reads as.
TABLE = {
    "REFLEX_DB_URL": ("database_url", "sqlite:///.data/signup.db", "postgresql+psycopg://app@db/signup", None),
    "REFLEX_REDIS_URL": ("redis_url", None, "rediss://:pw@cache:6380/0", None),
    "SIGNUP_RATE_LIMIT_PER_ADDRESS": ("rate_limit_per_address", "30/hour", "10/hour", None),
    "SIGNUP_RATE_LIMIT_PER_EMAIL": ("rate_limit_per_email", "5/minute", "2 per minute", None),
    "SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": (
        "rate_limit_per_email_global",
        "100/hour",
        "50/hour;500/day",
        None,
    ),
    "SIGNUP_TRUSTED_PROXIES": (
        "trusted_proxies",
        (),
        " 10.0.0.0/8, 127.0.0.1,,2001:db8::1/48 ",
        # host bits dropped
        tuple(map(ipaddress.ip_network, ("10.0.0.0/8", "127.0.0.1/32", "2001:db8::/48"))),
    ),
    "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": ("max_connections_per_address", 20, "7", 7),
    "SIGNUP_IPV6_PREFIX": ("ipv6_prefix", 64, " 56 ", 56),
    # None: 4 per hashing thread, resolved by accounts.passwords
    "SIGNUP_MAX_WAITING_HASHES": ("max_waiting_hashes", None, "0", 0),
    "SIGNUP_BIND_ADDRESS": ("bind_address", "127.0.0.1", "::", None),
    "SIGNUP_ALLOW_INSECURE_REDIS": ("allow_insecure_redis", False, "1", True),
    "REFLEX_CORS_ALLOWED_ORIGINS": (
        "cors_allowed_origins",
        (),
        "https://a.example, https://b.example:8443",
        ("https://a.example", "https://b.example:8443"),
    ),
    "SIGNUP_SESSION_IDLE_DAYS": ("session_idle_days", 7, "2", 2),
    "SIGNUP_SESSION_ABSOLUTE_DAYS": ("session_absolute_days", 30, "90", 90),
    "SIGNUP_SIGNIN_LIMIT_PER_ADDRESS": ("signin_rate_limit_per_address", "60/hour", "20/hour", None),
    "SIGNUP_SIGNIN_LIMIT_PER_ACCOUNT": ("signin_rate_limit_per_account", "10/hour", "3/minute", None),
}


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without any of the app's variables."""
    for name in TABLE:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_variable_is_a_field() -> None:
    assert {str(field.validation_alias) for field in Settings.model_fields.values()} == set(TABLE)


def test_the_defaults_are_the_documented_ones(clean: pytest.MonkeyPatch) -> None:
    loaded = settings.load()
    assert loaded == from_environ({})
    for field, default, _, _ in TABLE.values():
        assert getattr(loaded, field) == default, field


def test_every_variable_is_read_from_the_environment(clean: pytest.MonkeyPatch) -> None:
    values = {name: raw for name, (_, _, raw, _) in TABLE.items()}
    for name, value in values.items():
        clean.setenv(name, value)
    loaded = settings.load()
    assert loaded == from_environ(values)
    for field, _, raw, read in TABLE.values():
        assert getattr(loaded, field) == (raw if read is None else read), field


@pytest.mark.parametrize(
    "name",
    [
        "REFLEX_DB_URL",
        "REFLEX_REDIS_URL",
        "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS",
        "SIGNUP_IPV6_PREFIX",
        "SIGNUP_MAX_WAITING_HASHES",
        "SIGNUP_ALLOW_INSECURE_REDIS",
        "SIGNUP_TRUSTED_PROXIES",
        "REFLEX_CORS_ALLOWED_ORIGINS",
    ],
)
def test_an_empty_variable_means_its_default(name: str) -> None:
    assert from_environ({name: ""}) == from_environ({})


BAD = {
    "REFLEX_REDIS_URL": ["http://cache:6379", "redis://cache:port"],
    "SIGNUP_RATE_LIMIT_PER_ADDRESS": ["", "5/fortnight", "lots"],
    "SIGNUP_RATE_LIMIT_PER_EMAIL": ["five a minute"],
    "SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": ["100/eon"],
    "SIGNUP_TRUSTED_PROXIES": ["proxy.internal", "10.0.0.0/33"],
    "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": ["0", "many", "-3", "2.5"],
    "SIGNUP_IPV6_PREFIX": ["/64", "129", "-1"],
    "SIGNUP_MAX_WAITING_HASHES": ["-1", "lots", "1.5", "\u0661"],
    "SIGNUP_BIND_ADDRESS": ["", "localhost", "all"],
    "SIGNUP_SESSION_IDLE_DAYS": ["0", "a week", "3651"],
    "SIGNUP_SESSION_ABSOLUTE_DAYS": ["-1"],
    "SIGNUP_SIGNIN_LIMIT_PER_ADDRESS": ["many"],
    "SIGNUP_SIGNIN_LIMIT_PER_ACCOUNT": ["10/fortnight"],
    "SIGNUP_ALLOW_INSECURE_REDIS": ["yes", "true"],
}


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, values in BAD.items() for value in values]
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_environ({name: value})
    [problem] = raised.value.problems
    assert problem.startswith(name), problem
    assert repr(value) in problem or name == "REFLEX_REDIS_URL", problem  # a Redis URL may hold a password
    assert raised.value.variables == {name}


def test_load_refuses_a_bad_environment_naming_every_variable(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("SIGNUP_IPV6_PREFIX", "wide")
    clean.setenv("SIGNUP_TRUSTED_PROXIES", "10.0.0.1, nowhere, elsewhere")
    with pytest.raises(SettingsError) as raised:
        settings.load()
    assert raised.value.problems == [
        "SIGNUP_TRUSTED_PROXIES: 'nowhere' is not an IP address or CIDR network.",
        "SIGNUP_TRUSTED_PROXIES: 'elsewhere' is not an IP address or CIDR network.",
        "SIGNUP_IPV6_PREFIX must be a whole number between 0 and 128, not 'wide'.",
    ]
    assert isinstance(raised.value, ValueError)


def test_a_redis_password_is_not_repeated_in_the_error() -> None:
    with pytest.raises(SettingsError) as raised:
        from_environ({"REFLEX_REDIS_URL": "http://:hunter2@cache"})
    assert "hunter2" not in str(raised.value)


def test_the_environment_is_read_once_until_reset(clean: pytest.MonkeyPatch) -> None:
    first = settings.load()
    assert settings.load() is first
    with pytest.MonkeyPatch.context() as raw:  # a change the cache is not told about
        raw.setenv("SIGNUP_IPV6_PREFIX", "48")
        assert settings.load().ipv6_prefix == 64
        settings.reset()
        assert settings.load().ipv6_prefix == 48
    settings.reset()
    assert settings.load().ipv6_prefix == 64


def test_use_installs_settings_until_cleared(clean: pytest.MonkeyPatch) -> None:
    chosen = from_environ({"SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "3"})
    settings.use(chosen)
    try:
        assert settings.load() is chosen
    finally:
        settings.use(None)
    assert settings.load().max_connections_per_address == 20


def test_settings_are_immutable() -> None:
    loaded = from_environ({})
    with pytest.raises(ValueError, match="frozen"):
        loaded.ipv6_prefix = 8  # type: ignore[misc]


def test_a_given_mapping_ignores_the_process_environment_and_other_variables(
    clean: pytest.MonkeyPatch,
) -> None:
    clean.setenv("SIGNUP_IPV6_PREFIX", "not a number")
    clean.setenv("SIGNUP_MAX_CONNECTIONS_PER_ADDRESS", "3")
    assert from_environ({"PATH": "/bin", "SIGNUP_UNKNOWN": "x", "reflex_db_url": "x"}) == from_environ({})
    assert from_environ({}).ipv6_prefix == 64
    assert from_environ({}).max_connections_per_address == 20
    assert from_environ({"SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "4"}).max_connections_per_address == 4


def test_values_given_in_python_are_checked_too() -> None:
    with pytest.raises(SettingsError, match="SIGNUP_MAX_CONNECTIONS_PER_ADDRESS"):
        from_environ({"SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": 0})  # type: ignore[dict-item]
    with pytest.raises(SettingsError, match="SIGNUP_IPV6_PREFIX"):
        from_environ({"SIGNUP_IPV6_PREFIX": 129})  # type: ignore[dict-item]
