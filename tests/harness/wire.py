"""What a running server did (its accounts, log, state files), its HTTP form pages, the app in-process."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.types import ASGIApp

from signup_app.accounts.models import Account
from signup_app.accounts.validation import email_key
from signup_app.web import routes
from tests.harness.client import SIGNUP_STATE, WireClient
from tests.harness.data import signup_fields
from tests.harness.server import AppServer, Served

ClientFactory = Callable[[], Awaitable[WireClient]]


@dataclass
class Accounts:
    """Read access to the server's accounts table."""

    engine: Engine

    @classmethod
    @contextmanager
    def of(cls, db_url: str) -> Iterator[Accounts]:
        """The accounts table of db_url, its engine disposed afterwards."""
        engine = sa.create_engine(db_url)
        try:
            yield cls(engine)
        finally:
            engine.dispose()

    def count(self) -> int:
        with Session(self.engine) as session:
            return session.exec(select(sa.func.count()).select_from(Account)).one()

    def all(self) -> list[Account]:
        """Every account, in the order they were created."""
        with Session(self.engine) as session:
            return list(session.exec(select(Account).order_by(Account.id)).all())

    def with_email(self, email: str) -> list[Account]:
        """The accounts whose email matches under the email key (as the unique index compares)."""
        with Session(self.engine) as session:
            query = select(Account).where(Account.email_key == email_key(email.strip()))
            return list(session.exec(query).all())


@dataclass
class LogWindow:
    """The server's log from the moment the window was opened."""

    server: AppServer
    offset: int

    def text(self) -> str:
        return self.server.log_text()[self.offset :]

    def compact(self) -> str:
        """The text without whitespace: Rich wraps long log lines at 80 columns."""
        return "".join(self.text().split())


def state_file(folder: Path, token: str, state_name: str = SIGNUP_STATE) -> Path:
    """The pickle the disk state manager writes for one state of one tab."""
    # reflex.istate.manager.disk: md5 of BaseStateToken's key "<token>_<state full name>".
    return folder / f"{hashlib.md5(f'{token}_{state_name}'.encode()).hexdigest()}.pkl"  # noqa: S324


def files_modified_since(folder: Path, since: float) -> list[Path]:
    """Files in folder whose modification time is at or after `since`."""
    return [path for path in folder.glob("*") if path.is_file() and path.stat().st_mtime >= since]


# The ids of the form page's message elements, and the error key each one shows.
ERROR_ELEMENT_IDS = {f"{key}-error": key for key in ("name", "email", "password", "form")}


class _ErrorTexts(HTMLParser):
    """Collects the text of the elements whose id is one of ERROR_ELEMENT_IDS (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, error key or None), innermost last

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element_id = dict(attrs).get("id") or ""
        key = ERROR_ELEMENT_IDS.get(element_id)
        if key is not None:
            assert key not in self.texts, f"two elements with id {element_id!r}"
            self.texts[key] = ""
        if tag not in {"input", "meta", "br", "img", "hr", "link"}:  # void elements never close
            self._open.append((tag, key))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _tag, key in reversed(self._open):
            if key is not None:
                self.texts[key] += data
                break


def page_error_texts(html: str) -> dict[str, str]:
    """Every message element of a form page and its text, empty ones included."""
    parser = _ErrorTexts()
    parser.feed(html)
    parser.close()
    return parser.texts


def page_errors(html: str) -> dict[str, str]:
    """The {field or "form": message} errors a form page shows (its non-empty message elements)."""
    return {key: text for key, text in page_error_texts(html).items() if text}


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def browser_headers(app_server: Served) -> dict[str, str]:
    """What a browser sends with a form POST from the server's own page."""
    return {"Origin": app_server.url, "Sec-Fetch-Site": "same-origin", "Content-Type": FORM_CONTENT_TYPE}


async def post_form(
    http: httpx.AsyncClient, app_server: Served, fields: dict[str, str], path: str = "/signup"
) -> httpx.Response:
    """A form POST as the browser sends it: urlencoded, typed even when there is no field."""
    return await http.post(path, content=urlencode(fields), headers=browser_headers(app_server))


async def get_account(http: httpx.AsyncClient, created: httpx.Response) -> httpx.Response:
    """The account page a signup's 303 points to, sent the cookie it set (Secure: httpx sends it over https only)."""
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in created.cookies.jar)
    return await http.get(created.headers["location"], headers={"Cookie": cookies})


FORM_PATH = routes.SIGNUP_FORM
JSON_PATH = routes.SIGNUP_API
ACCOUNT_PATH = routes.ACCOUNT
LIMIT = 16 * 1024
EVIL = "https://evil.example"
JSON_TYPE = "application/json"


def valid_fields(tag: str = "http") -> dict[str, str]:
    """A new, valid signup from "Route Tester"."""
    return signup_fields(tag, name="Route Tester")


def json_errors(response: httpx.Response) -> dict[str, str]:
    """The {field or "form": message} errors of a JSON answer (which must hold nothing else)."""
    assert response.headers["content-type"] == JSON_TYPE, response.headers
    body = response.json()
    assert set(body) == {"errors"}, body
    return body["errors"]


def form_page_errors(response: httpx.Response) -> dict[str, str]:
    """The errors a form page shows (the answer must be the form page)."""
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert {"name", "email", "password"} <= set(page_error_texts(response.text)), "not the form page"
    return page_errors(response.text)


def own_origins(app_server: Served) -> list[str]:
    """The origins the app accepts as its own: its address, and the same port as localhost."""
    return [app_server.url, f"http://localhost:{app_server.port}"]


async def chunks(size: int, chunk: int = 1024) -> AsyncIterator[bytes]:
    """A streamed body of `size` bytes: httpx sends it chunked, without Content-Length."""
    for sent in range(0, size, chunk):
        yield b" " * min(chunk, size - sent)


# Any port but the development frontend's (3000): tests send that origin as a foreign one.
PORT = 8000


def http_app() -> ASGIApp:
    """The HTTP routes wrapped, innermost first, by the middleware the app lists after them."""
    from signup_app.signup_app import app  # the whole app: its states and routes registered

    inner, *wrappers = app.api_transformer  # type: ignore[misc]
    if not isinstance(inner, Starlette):
        raise TypeError(f"the app's first api_transformer is not its routes: {inner!r}")
    # A fresh Starlette on the same routes: Reflex mounts its own app into the one it was given.
    asgi: ASGIApp = Starlette(routes=list(inner.routes))
    for wrap in wrappers:
        asgi = wrap(asgi)
    return asgi


@dataclass(frozen=True)
class InProcessApp:
    """Where the in-process app answers (the address httpx sends as Host) and its database."""

    db_url: str
    port: int = PORT

    @property
    def url(self) -> str:
        """The base URL requests go to."""
        return f"http://127.0.0.1:{self.port}"
