"""Checks that a production deployment is configured, before it starts.

`python -m signup_app.production` prints every problem and exits 1, or exits 0;
scripts/serve runs it before migrating and starting the workers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

import limits

from signup_app.settings import DEFAULT_BIND_ADDRESS, Settings, SettingsError, from_environ

__all__ = ["DEFAULT_BIND_ADDRESS", "MIN_IPV6_PREFIX", "main", "problems"]

# An IPv6 prefix shorter than this would count a whole provider's customers as one client.
MIN_IPV6_PREFIX = 32
# Production shares state through Redis between several workers.
MIN_WORKERS = 2


def _origin_problem(origin: str) -> str | None:
    """Why one REFLEX_CORS_ALLOWED_ORIGINS entry is unsafe or malformed, if it is."""
    if origin == "*":
        return "must not be '*': any site could then open the websocket."
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return f"{origin!r} is not an origin."
    if parts.scheme != "https":
        return f"{origin!r} is not https: list only https://host[:port] origins."
    if not parts.hostname or parts.username or parts.password or parts.path not in ("", "/"):
        return f"{origin!r} is not an origin (https://host[:port], nothing more)."
    if parts.query or parts.fragment:
        return f"{origin!r} is not an origin (https://host[:port], nothing more)."
    return None


def _redis_problem(settings: Settings) -> str | None:
    """Why the (well-formed) REFLEX_REDIS_URL is unsafe in production, if it is."""
    if settings.redis_url is None:
        return "REFLEX_REDIS_URL is not set: several workers share state and rate limits through Redis."
    parts = urlsplit(settings.redis_url)
    if parts.scheme == "rediss" or parts.password or settings.allow_insecure_redis:
        return None
    return (
        "REFLEX_REDIS_URL has neither a password nor TLS: use rediss:// or redis://:password@host, "
        "or set SIGNUP_ALLOW_INSECURE_REDIS=1 for a Redis only this host can reach."
    )


def _production_problems(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """The rules a valid configuration must also meet in production."""
    found: list[str] = []
    if not env.get("REFLEX_DB_URL"):
        found.append("REFLEX_DB_URL is not set: point it at PostgreSQL (postgresql+psycopg://user@host/db).")
    elif not settings.database_url.startswith("postgresql+psycopg://"):
        found.append("REFLEX_DB_URL must be a PostgreSQL URL using psycopg 3 (postgresql+psycopg://...).")
    if problem := _redis_problem(settings):
        found.append(problem)
    # Optional: the page's own origin is always accepted; these are further ones.
    found.extend(
        f"REFLEX_CORS_ALLOWED_ORIGINS: {problem}"
        for origin in settings.cors_allowed_origins
        if (problem := _origin_problem(origin))
    )
    for name, value in (
        ("SIGNUP_RATE_LIMIT_PER_ADDRESS", settings.rate_limit_per_address),
        ("SIGNUP_RATE_LIMIT_PER_EMAIL", settings.rate_limit_per_email),
        ("SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL", settings.rate_limit_per_email_global),
    ):
        if any(item.amount < 1 for item in limits.parse_many(value)):
            found.append(f"{name} allows no attempt at all ({value!r}): every signup would be refused.")
    if settings.ipv6_prefix < MIN_IPV6_PREFIX:
        found.append(
            f"SIGNUP_IPV6_PREFIX must be a whole number between {MIN_IPV6_PREFIX} and 128, "
            f"not {str(settings.ipv6_prefix)!r}."
        )
    workers = env.get("GRANIAN_WORKERS")
    if workers is not None and (not workers.isdigit() or int(workers) < MIN_WORKERS):
        found.append("GRANIAN_WORKERS must be 2 or more in production.")
    return found


def problems(env: Mapping[str, str] = os.environ) -> list[str]:
    """Every missing or unsafe production setting, each naming its variable.

    The settings' own validation runs first; the production rules then run on the
    valid settings (without the invalid variables, which are reported once).
    """
    try:
        return _production_problems(from_environ(env), env)
    except SettingsError as error:
        valid = {name: value for name, value in env.items() if name not in error.variables}
        further = _production_problems(from_environ(valid), valid)
        return error.problems + [p for p in further if not p.startswith(tuple(error.variables))]


def main() -> int:
    """Print the problems; the exit status says whether there were any."""
    found = problems()
    for problem in found:
        print(f"signup_app: refusing to start: {problem}", file=sys.stderr)  # noqa: T201  (the check's output)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
