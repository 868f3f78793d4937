"""The committed migrations build exactly the schema the models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from signup_app import db
from tests.conftest import ROOT


def test_models_need_no_new_migration(database_url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    command.check(config)  # raises if autogenerate finds a difference


def test_downgrade_removes_the_table(database_url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    command.downgrade(config, "base")
    assert "account" not in sa.inspect(db.get_engine()).get_table_names()
    command.upgrade(config, "head")
    assert "account" in sa.inspect(db.get_engine()).get_table_names()
