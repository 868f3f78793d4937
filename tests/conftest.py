"""Shared fixtures: migrated temporary databases and a running production server."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from signup_app import settings
from tests.harness.server import AppServer, start_app_server
from tests.harness.services import UNLIMITED, sqlite_database, throwaway_database


@pytest.fixture(autouse=True)
def _settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app reads its settings once; a test's setenv and delenv make it read them again."""
    for name in ("setenv", "delenv"):
        change = getattr(monkeypatch, name)

        def change_and_reset(*args: object, _change: Callable[..., None] = change, **kwargs: object) -> None:
            _change(*args, **kwargs)
            settings.reset()

        setattr(monkeypatch, name, change_and_reset)
    for name, value in UNLIMITED.items():  # generous rate limits, unless a test sets its own
        monkeypatch.setenv(name, value)
    yield
    settings.reset()


@pytest.fixture(scope="session")
def _migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated file each test's database copies: a copy takes milliseconds, a migration seconds."""
    folder = tmp_path_factory.mktemp("sqlite_template")
    sqlite_database(folder)
    return folder / "accounts.db"


@pytest.fixture(scope="session")
def _migrated_postgresql_name() -> Iterator[str]:
    with throwaway_database(prefix="signup_template") as url:
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def sqlite_url(tmp_path: Path, _migrated_sqlite_file: Path) -> str:
    """A migrated SQLite file."""
    shutil.copyfile(_migrated_sqlite_file, tmp_path / "accounts.db")
    return f"sqlite:///{tmp_path / 'accounts.db'}"


@pytest.fixture
def postgresql_url(_migrated_postgresql_name: str) -> Iterator[str]:
    """A migrated, throwaway PostgreSQL database on the machine's server."""
    with throwaway_database(template=_migrated_postgresql_name) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL, as the configured database."""
    url = request.getfixturevalue(f"{request.param}_url")
    monkeypatch.setenv("REFLEX_DB_URL", url)
    return url


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One production server for the session, on its own migrated SQLite database."""
    folder = tmp_path_factory.mktemp("app_server")
    server = start_app_server(sqlite_database(folder), folder / "server.log", extra_env=UNLIMITED)
    try:
        yield server
    finally:
        server.stop()
