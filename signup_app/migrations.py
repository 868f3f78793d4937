"""Applying the committed Alembic migrations from Python (tests, the benchmark).

The app never migrates by itself: `make run` and `scripts/serve` run `alembic upgrade head`.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from signup_app import db

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    """The project's Alembic configuration, without touching the caller's logging."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at url to revision, as `make run` does."""
    previous = os.environ.get("REFLEX_DB_URL")
    os.environ["REFLEX_DB_URL"] = url  # alembic/env.py reads the configured database
    try:
        command.upgrade(alembic_config(), revision)
    finally:
        if previous is None:
            del os.environ["REFLEX_DB_URL"]
        else:
            os.environ["REFLEX_DB_URL"] = previous
        db.engine_for(url).dispose()
