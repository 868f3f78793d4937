"""The committed migrations build exactly the schema the models describe."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from signup_app import db
from signup_app.accounts import Account
from signup_app.migrations import alembic_config, migrate


@pytest.fixture
def config(database_url: str) -> Config:
    """Alembic's configuration for the migrated test database (SQLite, then PostgreSQL)."""
    return alembic_config()


def test_models_need_no_new_migration(config: Config) -> None:
    command.check(config)  # raises if autogenerate finds a difference


def _add(name: str, email: str, **more: str) -> None:
    """One account, inserted through the model as the app does."""
    with db.session() as session:
        session.add(Account(name=name, email=email, password_hash="h", **more))
        session.commit()


def test_downgrade_removes_the_table_and_every_revision_keeps_the_unique_index(config: Config) -> None:
    """Down to nothing and up again through every revision: the address stays unique whatever its case."""
    command.downgrade(config, "base")
    assert "account" not in sa.inspect(db.get_engine()).get_table_names()
    command.upgrade(config, "head")
    assert "account" in sa.inspect(db.get_engine()).get_table_names()
    _add("a", "x@y.z")
    with pytest.raises(IntegrityError):
        _add("b", "X@Y.Z")


def _insert_at_0002(rows: list[tuple[str, str, str | None, datetime]]) -> None:
    insert = "INSERT INTO account (name, email, password_hash, signup_key, created_at) VALUES "
    with db.get_engine().begin() as conn:
        for name, email, key, created in rows:
            row = {"name": name, "email": email, "key": key, "created": created}
            conn.execute(sa.text(f"{insert}(:name, :email, 'h', :key, :created)"), row)


def _columns() -> set[str]:
    return {column["name"] for column in sa.inspect(db.get_engine()).get_columns("account")}


def test_rows_at_0002_are_migrated(config: Config) -> None:
    command.downgrade(config, "0002")
    now = datetime.now(UTC)
    fresh, shared, stale = "f" * 32, "s" * 32, "o" * 32
    _insert_at_0002(
        [
            ("Fresh", "Fresh@Example.com", fresh, now - timedelta(hours=1)),
            ("Stale", "stale@example.com", stale, now - timedelta(hours=25)),
            ("First", "first@example.com", shared, now - timedelta(hours=2)),
            ("Second", "second@example.com", shared, now - timedelta(hours=1)),
            ("Émile", "ÉMILE@example.com", None, now),
            ("Ligature", "ﬃ@example.com", None, now),
        ]
    )
    # More rows than one batch of the migration, so that the batching is exercised.
    _insert_at_0002([(f"Bulk {i}", f"Bulk{i}@Example.com", None, now) for i in range(1, 1101)])

    command.upgrade(config, "head")

    assert "signup_key" not in _columns()
    with db.session() as session:
        rows = {a.name: a for a in session.exec(select(Account))}
    assert len(rows) == 1106
    assert {name: rows[name].email_key for name in ("Fresh", "Émile", "Ligature")} == {
        "Fresh": "fresh@example.com",
        "Émile": "émile@example.com",
        "Ligature": "ffi@example.com",
    }
    assert all(rows[f"Bulk {i}"].email_key == f"bulk{i}@example.com" for i in range(1, 1101))
    assert rows["Fresh"].email == "Fresh@Example.com"
    # Only a hash is kept, and only of keys that can still be honoured (once each).
    assert rows["Fresh"].signup_key_hash == hashlib.sha256(fresh.encode()).hexdigest()
    assert rows["First"].signup_key_hash == hashlib.sha256(shared.encode()).hexdigest()
    assert rows["Second"].signup_key_hash is None
    assert rows["Stale"].signup_key_hash is None
    # The new unique index refuses what lower() let through.
    for email in ("émile@example.com", "FFI@example.com"):
        with pytest.raises(IntegrityError):
            _add("Dup", email)


def test_colliding_rows_stop_the_upgrade_unchanged(config: Config) -> None:
    command.downgrade(config, "0002")
    now = datetime.now(UTC)
    _insert_at_0002([("Upper", "STRASSE@example.com", None, now), ("Sharp", "Straße@example.com", None, now)])

    with pytest.raises(RuntimeError, match=r"same email key \(ids\) \[\[1, 2\]\]"):
        command.upgrade(config, "head")

    with db.get_engine().connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0002"
        assert conn.execute(sa.text("SELECT count(*) FROM account")).scalar_one() == 2
    assert "signup_key" in _columns() and "email_key" not in _columns()


def test_downgrade_to_0002_keeps_the_accounts(config: Config) -> None:
    _add("Kept", "Kept@example.com", signup_key_hash="0" * 64)
    command.downgrade(config, "0002")
    assert {"signup_key"} <= _columns() and not {"email_key", "signup_key_hash"} & _columns()
    with db.get_engine().begin() as conn:
        assert conn.execute(sa.text("SELECT name, signup_key FROM account")).all() == [("Kept", None)]
    # The lower(email) index is back.
    with pytest.raises(IntegrityError):
        _insert_at_0002([("Dup", "KEPT@example.com", None, datetime.now(UTC))])
    command.upgrade(config, "head")
    with db.session() as session:
        assert [a.email_key for a in session.exec(select(Account))] == ["kept@example.com"]


def test_migrate_leaves_the_environment_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = f"sqlite:///{tmp_path / 'configured.db'}"
    monkeypatch.setenv("REFLEX_DB_URL", configured)
    before = dict(os.environ)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    migrate(other)
    assert dict(os.environ) == before
    assert sa.inspect(db.engine_for(other)).has_table("account")
    assert not (tmp_path / "configured.db").exists()  # the configured database was not touched
    db.engine_for(other).dispose()
