"""Checks that a production deployment is configured, before it starts.

`python -m signup_app.production` prints every problem and exits 1, or exits 0;
scripts/serve runs it before migrating and starting the workers.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

import limits

# scripts/serve binds here unless SIGNUP_BIND_ADDRESS says otherwise: the app speaks plain HTTP
# and belongs behind a TLS proxy, so it is not offered on other interfaces by default.
DEFAULT_BIND_ADDRESS = "127.0.0.1"
# An IPv6 prefix shorter than this would count a whole provider's customers as one client.
MIN_IPV6_PREFIX = 32


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


def _integer_problem(env: Mapping[str, str], name: str, low: int, high: int | None = None) -> str | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    stripped = value.strip()
    if not stripped.isdigit() or int(stripped) < low or (high is not None and int(stripped) > high):
        bounds = f"between {low} and {high}" if high is not None else f"{low} or more"
        return f"{name} must be a whole number {bounds}, not {value!r}."
    return None


def _redis_problem(url: str, env: Mapping[str, str]) -> str | None:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "REFLEX_REDIS_URL is not a URL (redis://, rediss:// or unix://)."
    if parts.scheme not in ("redis", "rediss", "unix"):
        return "REFLEX_REDIS_URL must be a redis://, rediss:// or unix:// URL."
    if parts.scheme == "rediss" or password or env.get("SIGNUP_ALLOW_INSECURE_REDIS") == "1":
        return None
    return (
        "REFLEX_REDIS_URL has neither a password nor TLS: use rediss:// or redis://:password@host, "
        "or set SIGNUP_ALLOW_INSECURE_REDIS=1 for a Redis only this host can reach."
    )


def problems(env: Mapping[str, str] = os.environ) -> list[str]:
    """Every missing or unsafe production setting, each naming its variable."""
    found: list[str] = []
    db_url = env.get("REFLEX_DB_URL", "")
    if not db_url:
        found.append("REFLEX_DB_URL is not set: point it at PostgreSQL (postgresql+psycopg://user@host/db).")
    elif not db_url.startswith("postgresql+psycopg://"):
        found.append("REFLEX_DB_URL must be a PostgreSQL URL using psycopg 3 (postgresql+psycopg://...).")
    redis_url = env.get("REFLEX_REDIS_URL")
    if not redis_url:
        found.append(
            "REFLEX_REDIS_URL is not set: several workers share state and rate limits through Redis."
        )
    elif problem := _redis_problem(redis_url, env):
        found.append(problem)
    # Optional: the page's own origin is always accepted; these are further ones.
    origins = [o.strip() for o in env.get("REFLEX_CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    for origin in origins:
        if problem := _origin_problem(origin):
            found.append(f"REFLEX_CORS_ALLOWED_ORIGINS: {problem}")
    for name in sorted(n for n in env if n.startswith("SIGNUP_RATE_LIMIT_")):
        try:
            items = limits.parse_many(env[name])
        except ValueError:
            found.append(
                f"{name} is not a rate limit in `limits` notation (e.g. 5/minute), not {env[name]!r}."
            )
            continue
        if any(item.amount < 1 for item in items):
            found.append(f"{name} allows no attempt at all ({env[name]!r}): every signup would be refused.")
    for proxy in (p.strip() for p in env.get("SIGNUP_TRUSTED_PROXIES", "").split(",")):
        if not proxy:
            continue
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            found.append(f"SIGNUP_TRUSTED_PROXIES: {proxy!r} is not an IP address or CIDR network.")
    for problem in (
        _integer_problem(env, "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS", 1),
        _integer_problem(env, "SIGNUP_IPV6_PREFIX", MIN_IPV6_PREFIX, 128),
        _integer_problem(env, "SIGNUP_MAX_WAITING_HASHES", 0),
    ):
        if problem:
            found.append(problem)
    bind = env.get("SIGNUP_BIND_ADDRESS")
    if bind is not None:
        try:
            ipaddress.ip_address(bind.strip())
        except ValueError:
            found.append(
                f"SIGNUP_BIND_ADDRESS must be an IP address (e.g. 127.0.0.1 or 0.0.0.0), not {bind!r}."
            )
    insecure = env.get("SIGNUP_ALLOW_INSECURE_REDIS")
    if insecure not in (None, "", "0", "1"):
        found.append(f"SIGNUP_ALLOW_INSECURE_REDIS must be 1 or 0, not {insecure!r}.")
    workers = env.get("GRANIAN_WORKERS")
    if workers is not None and (not workers.isdigit() or int(workers) < 2):
        found.append("GRANIAN_WORKERS must be 2 or more in production.")
    return found


def main() -> int:
    """Print the problems; the exit status says whether there were any."""
    found = problems()
    for problem in found:
        print(f"signup_app: refusing to start: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
