"""The app's settings: one typed object, read from the environment once.

`load()` reads and validates every variable the app uses and caches the result;
the app's parts receive that object (or values from it) instead of reading the
environment themselves. A bad value stops the app with a message naming its variable.
Tests that change the environment call `reset()` (or install their own with `use()`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlsplit

import limits
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The embedded development database; production sets REFLEX_DB_URL. In a hidden folder: `reflex
# run` restarts the backend whenever a file at the project's top level changes, which a database
# file does at every write.
DEFAULT_DATABASE_URL = "sqlite:///.data/signup.db"
# Where scripts/serve binds: the app speaks plain HTTP and belongs behind a TLS proxy.
DEFAULT_BIND_ADDRESS = "127.0.0.1"
REDIS_SCHEMES = ("redis", "rediss", "unix")


def _items(value: str) -> list[str]:
    """The entries of a comma-separated variable, stripped, empty ones dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _whole_number(name: str, value: object, low: int, high: int | None = None) -> object:
    """A whole number from a variable's text, or a ValueError naming the variable and the bounds."""
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    if stripped.isascii() and stripped.isdigit():
        number = int(stripped)
        if number >= low and (high is None or number <= high):
            return number
    bounds = f"between {low} and {high}" if high is not None else f"{low} or more"
    raise ValueError(f"{name} must be a whole number {bounds}, not {value!r}.")


class Settings(BaseSettings):
    """Every setting the app reads, under its environment variable's name (see README, Security).

    Attributes:
        database_url: The SQLAlchemy URL of the accounts database (REFLEX_DB_URL; Reflex reads it too).
        redis_url: Redis for Reflex state and shared rate limits (REFLEX_REDIS_URL), if configured.
        rate_limit_per_address: Signup attempts per client address, in `limits` notation.
        rate_limit_per_email: Attempts per target email from one client address.
        rate_limit_per_email_global: Attempts per target email from all addresses together; above
            what one address may send in an hour, so no single address can lock the owner out.
        trusted_proxies: Peers whose X-Forwarded-For is believed.
        max_connections_per_address: Simultaneous websocket connections from one client address.
        ipv6_prefix: Leading bits of an IPv6 client address that the limits and the cap count by.
        max_waiting_hashes: Hashes that may wait for a thread; None means 4 per hashing thread.
        bind_address: The interface scripts/serve binds to.
        allow_insecure_redis: Accept a Redis URL with neither a password nor TLS (production check).
        cors_allowed_origins: Further origins whose pages may drive the signup (Reflex reads it too).
        session_idle_days: A sign-in session unused this long ends.
        session_absolute_days: A sign-in session ends this long after it began, used or not.
        signin_rate_limit_per_address: Sign-in attempts per client address.
        signin_rate_limit_per_account: Failed-or-not sign-in attempts at one account from one address;
            per address, so nobody elsewhere can lock the owner out.
    """

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="REFLEX_DB_URL")
    redis_url: str | None = Field(None, validation_alias="REFLEX_REDIS_URL")
    rate_limit_per_address: str = Field("30/hour", validation_alias="SIGNUP_RATE_LIMIT_PER_ADDRESS")
    rate_limit_per_email: str = Field("5/minute", validation_alias="SIGNUP_RATE_LIMIT_PER_EMAIL")
    rate_limit_per_email_global: str = Field(
        "100/hour", validation_alias="SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL"
    )
    trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = Field(
        (), validation_alias="SIGNUP_TRUSTED_PROXIES"
    )
    max_connections_per_address: int = Field(20, ge=1, validation_alias="SIGNUP_MAX_CONNECTIONS_PER_ADDRESS")
    ipv6_prefix: int = Field(64, ge=0, le=128, validation_alias="SIGNUP_IPV6_PREFIX")
    max_waiting_hashes: int | None = Field(None, ge=0, validation_alias="SIGNUP_MAX_WAITING_HASHES")
    bind_address: str = Field(DEFAULT_BIND_ADDRESS, validation_alias="SIGNUP_BIND_ADDRESS")
    allow_insecure_redis: bool = Field(default=False, validation_alias="SIGNUP_ALLOW_INSECURE_REDIS")
    cors_allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="REFLEX_CORS_ALLOWED_ORIGINS"
    )
    session_idle_days: int = Field(7, ge=1, validation_alias="SIGNUP_SESSION_IDLE_DAYS")
    session_absolute_days: int = Field(30, ge=1, validation_alias="SIGNUP_SESSION_ABSOLUTE_DAYS")
    signin_rate_limit_per_address: str = Field("60/hour", validation_alias="SIGNUP_SIGNIN_LIMIT_PER_ADDRESS")
    signin_rate_limit_per_account: str = Field("10/hour", validation_alias="SIGNUP_SIGNIN_LIMIT_PER_ACCOUNT")

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        return value or DEFAULT_DATABASE_URL  # set but empty: the development database, as Reflex does

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if not value:
            return None
        if isinstance(value, str):
            try:
                parts = urlsplit(value)
                scheme = parts.scheme
                parts.port  # noqa: B018  (raises on a malformed port)
            except ValueError:
                raise ValueError("REFLEX_REDIS_URL is not a URL (redis://, rediss:// or unix://).") from None
            if scheme not in REDIS_SCHEMES:
                raise ValueError("REFLEX_REDIS_URL must be a redis://, rediss:// or unix:// URL.")
        return value

    @field_validator(
        "rate_limit_per_address",
        "rate_limit_per_email",
        "rate_limit_per_email_global",
        "signin_rate_limit_per_address",
        "signin_rate_limit_per_account",
        mode="before",
    )
    @classmethod
    def _rate_limit(cls, value: object, info: ValidationInfo) -> object:
        name = cls.model_fields[info.field_name or ""].validation_alias
        try:
            limits.parse_many(value)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            raise ValueError(
                f"{name} is not a rate limit in `limits` notation (e.g. 5/minute), not {value!r}."
            ) from None
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        networks: list[Network] = []
        bad: list[str] = []
        for proxy in _items(value):
            try:
                networks.append(ipaddress.ip_network(proxy, strict=False))
            except ValueError:
                bad.append(f"SIGNUP_TRUSTED_PROXIES: {proxy!r} is not an IP address or CIDR network.")
        if bad:
            raise ValueError("\n".join(bad))
        return tuple(networks)

    @field_validator("max_connections_per_address", mode="before")
    @classmethod
    def _max_connections(cls, value: object) -> object:
        if value == "":
            return 20
        return _whole_number("SIGNUP_MAX_CONNECTIONS_PER_ADDRESS", value, 1)

    @field_validator("session_idle_days", "session_absolute_days", mode="before")
    @classmethod
    def _days(cls, value: object, info: ValidationInfo) -> object:
        name = str(cls.model_fields[info.field_name or ""].validation_alias)
        default = cls.model_fields[info.field_name or ""].default
        return default if value == "" else _whole_number(name, value, 1, 3650)

    @field_validator("ipv6_prefix", mode="before")
    @classmethod
    def _ipv6_prefix(cls, value: object) -> object:
        if value == "":
            return 64
        return _whole_number("SIGNUP_IPV6_PREFIX", value, 0, 128)

    @field_validator("max_waiting_hashes", mode="before")
    @classmethod
    def _max_waiting_hashes(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return _whole_number("SIGNUP_MAX_WAITING_HASHES", value, 0)

    @field_validator("bind_address", mode="before")
    @classmethod
    def _bind_address(cls, value: object) -> object:
        try:
            ipaddress.ip_address(str(value).strip())
        except ValueError:
            raise ValueError(
                f"SIGNUP_BIND_ADDRESS must be an IP address (e.g. 127.0.0.1 or 0.0.0.0), not {value!r}."
            ) from None
        return str(value).strip()

    @field_validator("allow_insecure_redis", mode="before")
    @classmethod
    def _allow_insecure_redis(cls, value: object) -> object:
        if isinstance(value, bool):
            return value
        if value not in ("", "0", "1"):
            raise ValueError(f"SIGNUP_ALLOW_INSECURE_REDIS must be 1 or 0, not {value!r}.")
        return value == "1"

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _cors_allowed_origins(cls, value: object) -> object:
        return tuple(_items(value)) if isinstance(value, str) else value


class SettingsError(ValueError):
    """One or more settings are invalid.

    Attributes:
        problems: One message per problem, each starting with (or naming) its variable.
        variables: The names of the invalid variables.
    """

    def __init__(self, error: ValidationError) -> None:
        self.problems = _problems(error)
        self.variables = frozenset(str(detail["loc"][0]) for detail in error.errors() if detail["loc"])
        super().__init__("\n".join(self.problems))


def _problems(error: ValidationError) -> list[str]:
    """One message per problem: a validator's own (naming its variable), or pydantic's, prefixed by the name."""
    found: list[str] = []
    for detail in error.errors():
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, ValueError):
            found.extend(str(cause).splitlines())
        else:  # pydantic's own check (a type): name the variable it was given as
            name = ".".join(str(part) for part in detail["loc"])
            found.append(f"{name}: {detail['msg']}.")
    return found


def from_environ(environ: Mapping[str, str]) -> Settings:
    """Settings from a mapping of variables (the process environment, or a test's own).

    Raises:
        SettingsError: Any variable is invalid; every problem is listed.
    """
    # Every field is given, a missing variable as its default: the process environment plays no part.
    given = {
        str(field.validation_alias): environ.get(str(field.validation_alias), field.default)
        for field in Settings.model_fields.values()
    }
    try:
        return Settings.model_validate(given)  # given as BaseSettings.__init__'s keyword arguments
    except ValidationError as error:
        raise SettingsError(error) from None


_installed: Settings | None = None


@functools.cache
def _from_process_environment() -> Settings:
    try:
        return Settings()  # pyright: ignore[reportCallIssue]  (every field comes from the environment)
    except ValidationError as error:
        raise SettingsError(error) from None


def load() -> Settings:
    """The process's settings, read from the environment on first use and then kept.

    Raises:
        SettingsError: Any variable is invalid; every problem is listed, each naming its variable.
    """
    return _installed if _installed is not None else _from_process_environment()


def use(settings: Settings | None) -> None:
    """Make load() return these settings (None: read the environment again on next use)."""
    global _installed  # noqa: PLW0603  (the one process-wide override)
    _installed = settings
    _from_process_environment.cache_clear()


def reset() -> None:
    """Forget the loaded settings: the next load() reads the environment again."""
    use(None)
