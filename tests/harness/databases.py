"""Migrated databases to run the app on: a SQLite file, or a throwaway PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import sqlalchemy as sa

from signup_app import db
from signup_app.migrations import migrate

POSTGRES_ADMIN_URL = os.environ.get("SIGNUP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class DatabaseUnavailableError(Exception):
    """The database server cannot be reached."""


def sqlite_database(folder: Path) -> str:
    """A migrated SQLite file in folder, as a database URL."""
    url = f"sqlite:///{folder / 'accounts.db'}"
    migrate(url)
    return url


def sqlalchemy_url(libpq_url: str) -> str:
    """A libpq URL in SQLAlchemy's form, with the psycopg 3 driver."""
    return libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextlib.contextmanager
def throwaway_postgres(
    admin_url: str = POSTGRES_ADMIN_URL,
    *,
    migrated: bool = True,
    prefix: str = "signup_test",
    template: str | None = None,
) -> Iterator[str]:
    """A new database on the server of admin_url (migrated unless told), dropped afterwards.

    With template (a database name), a copy of that database instead, which is much faster
    than migrating: the template must have no open connection.

    Raises:
        DatabaseUnavailableError: The server does not answer.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(str(exc).strip()) from exc
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        url = f"{sqlalchemy_url(admin_url.rsplit('/', 1)[0])}/{name}"
        try:
            if migrated and template is None:
                migrate(url)
                db.engine_for(url).dispose()
            yield url
        finally:
            db.engine_for(url).dispose()
            with contextlib.suppress(psycopg.Error):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_accounts(url: str) -> int:
    """How many accounts the database holds."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM account")).scalar_one()
    finally:
        engine.dispose()
