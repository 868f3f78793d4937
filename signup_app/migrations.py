"""Applying the committed Alembic migrations from Python (tests, the benchmark).

The app never migrates by itself: `make run` and `scripts/serve` run `alembic upgrade head`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from signup_app import db

ROOT = Path(__file__).resolve().parent.parent


# The Config attribute alembic/env.py takes the database URL from (else the loaded settings').
DATABASE_URL_ATTRIBUTE = "database_url"


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic configuration, without touching the caller's logging.

    Args:
        url: The database to migrate; None: the settings' REFLEX_DB_URL.
    """
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    if url is not None:
        config.attributes[DATABASE_URL_ATTRIBUTE] = url
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at url to revision, as `make run` does."""
    try:
        command.upgrade(alembic_config(url), revision)
    finally:
        db.engine_for(url).dispose()
