"""The committed migrations build exactly the schema the models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from signup_app import db
from signup_app.migrations import alembic_config


def test_models_need_no_new_migration(database_url: str) -> None:
    config = alembic_config()
    command.check(config)  # raises if autogenerate finds a difference


def test_downgrade_removes_the_table(database_url: str) -> None:
    config = alembic_config()
    command.downgrade(config, "base")
    assert "account" not in sa.inspect(db.get_engine()).get_table_names()
    command.upgrade(config, "head")
    assert "account" in sa.inspect(db.get_engine()).get_table_names()


def test_every_revision_keeps_the_case_insensitive_unique_index(database_url: str) -> None:
    """Down to base and up again: the unique index on lower(email) survives each step."""
    from sqlalchemy.exc import IntegrityError

    config = alembic_config()
    command.downgrade(config, "0001")
    command.upgrade(config, "head")
    with db.get_engine().begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO account (name, email, password_hash, created_at) VALUES ('a', 'x@y.z', 'h', CURRENT_TIMESTAMP)"
            )
        )
    try:
        with db.get_engine().begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO account (name, email, password_hash, created_at) VALUES ('b', 'X@Y.Z', 'h', CURRENT_TIMESTAMP)"
                )
            )
    except IntegrityError:
        return
    raise AssertionError("a second account with the same email in another case was accepted")
