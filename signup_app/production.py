"""Checks that a production deployment is configured, before it starts.

`python -m signup_app.production` prints every problem and exits 1, or exits 0;
scripts/serve runs it before migrating and starting the workers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def problems(env: Mapping[str, str] = os.environ) -> list[str]:
    """Every missing or unsafe production setting, each naming its variable."""
    found: list[str] = []
    db_url = env.get("REFLEX_DB_URL", "")
    if not db_url:
        found.append("REFLEX_DB_URL is not set: point it at PostgreSQL (postgresql+psycopg://user@host/db).")
    elif not db_url.startswith("postgresql+psycopg://"):
        found.append("REFLEX_DB_URL must be a PostgreSQL URL using psycopg 3 (postgresql+psycopg://...).")
    if not env.get("REFLEX_REDIS_URL"):
        found.append(
            "REFLEX_REDIS_URL is not set: several workers share state and rate limits through Redis."
        )
    origins = [o.strip() for o in env.get("REFLEX_CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    if not origins:
        found.append(
            "REFLEX_CORS_ALLOWED_ORIGINS is not set: list the site's public origin(s), e.g. https://example.com."
        )
    elif "*" in origins:
        found.append("REFLEX_CORS_ALLOWED_ORIGINS must not be '*': any site could then open the websocket.")
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
