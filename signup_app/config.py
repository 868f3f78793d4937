"""Settings read from the environment."""

from __future__ import annotations

import os

# The embedded development database; production sets REFLEX_DB_URL.
DEFAULT_DATABASE_URL = "sqlite:///signup.db"


def database_url() -> str:
    """The SQLAlchemy URL of the accounts database (Reflex reads the same variable)."""
    return os.environ.get("REFLEX_DB_URL") or DEFAULT_DATABASE_URL
