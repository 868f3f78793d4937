"""Alembic environment: migrates the database named by REFLEX_DB_URL."""

from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

from signup_app import db, settings
from signup_app.accounts import models  # noqa: F401  (registers the tables)

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata
# signup_app.migrations passes the URL as a Config attribute; `alembic upgrade` uses the settings'.
url = config.attributes.get("database_url") or settings.load().database_url


def run_migrations_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over a connection to the configured database."""
    with db.engine_for(url).connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
