"""Engines and sessions for the accounts database."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from signup_app import settings

# How long a SQLite writer waits for another writer's lock before failing.
_SQLITE_BUSY_TIMEOUT_S = 30
# Longest wait for a PostgreSQL connection, new or from the pool.
_WAIT_S = 3


@functools.cache
def engine_for(url: str) -> Engine:
    """One pooled engine per database URL, made on first use."""
    if url.startswith("sqlite"):
        database = sqlalchemy.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)  # the default's .data/
        engine = sqlalchemy.create_engine(
            url,
            connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            hide_parameters=True,  # SQL parameters (the hash) never reach a log or traceback
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sqlalchemy.create_engine(
        url,
        pool_pre_ping=True,  # a connection dropped by a database restart is replaced, not used
        pool_timeout=_WAIT_S,
        hide_parameters=True,
        # An unreachable database fails the signup within seconds ("temporarily unavailable").
        connect_args={"connect_timeout": _WAIT_S} if url.startswith("postgresql") else {},
    )


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets readers run beside the single writer.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(config: settings.Settings | None = None) -> Engine:
    """The engine of the configured database (config, or the loaded settings)."""
    return engine_for((config or settings.load()).database_url)


def session(config: settings.Settings | None = None) -> Session:
    """A new session on the configured database (config, or the loaded settings)."""
    return Session(get_engine(config), expire_on_commit=False)
