"""The sign-in routes in-process: sign-in on both HTTP transports, the ticket exchange, sign-out, /account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import anyio.to_thread
import httpx
import pytest

from signup_app.accounts import sessions
from signup_app.accounts.signin import INCORRECT
from signup_app.web import routes
from signup_app.web.transports.session_routes import EXPIRED
from tests.harness.data import strong_password, unique_email
from tests.harness.wire import EVIL, InProcessApp, browser_headers, post_form

COOKIE = "__Host-session"  # production: Secure, host-only
PASSWORD = strong_password()


def set_cookie(response: httpx.Response) -> SimpleCookie:
    """The response's Set-Cookie headers, parsed."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def cookie_header(response: httpx.Response) -> dict[str, str]:
    """A Cookie header carrying the session cookie the response set."""
    return {"Cookie": f"{COOKIE}={set_cookie(response)[COOKIE].value}"}


@pytest.fixture
async def signed_up(http: httpx.AsyncClient, app_server: InProcessApp) -> tuple[str, httpx.Response]:
    """A new account, made by the no-JS form POST; its email and the answer (303 with the cookie)."""
    email = unique_email("signin")
    created = await post_form(http, app_server, {"name": "Ada", "email": email, "password": PASSWORD})
    return email, created


def test_signup_signs_in_with_an_httponly_host_cookie(signed_up: tuple[str, httpx.Response]) -> None:
    created = signed_up[1]
    assert (created.status_code, created.headers["location"]) == (303, routes.ACCOUNT)
    assert list(set_cookie(created)) == [COOKIE]  # the one cookie: the session's
    morsel = set_cookie(created)[COOKIE]
    assert len(morsel.value) == 43
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "lax" and morsel["path"] == "/"
    assert not morsel["domain"]
    assert int(morsel["max-age"]) == 30 * 86400


async def test_json_signup_and_sign_in_set_the_cookie(http: httpx.AsyncClient) -> None:
    email = unique_email("json")
    created = await http.post(routes.SIGNUP_API, json={"name": "Ada", "email": email, "password": PASSWORD})
    assert created.status_code == 201 and COOKIE in set_cookie(created)
    signed_in = await http.post(routes.SIGNIN_API, json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 201
    assert signed_in.json() == {"id": created.json()["id"], "name": "Ada", "email": email}
    assert set_cookie(signed_in)[COOKIE].value != set_cookie(created)[COOKIE].value  # a new token each time
    document = (await http.get(routes.OPENAPI)).json()
    for path in (routes.SIGNUP_API, routes.SIGNIN_API):
        assert "Set-Cookie" in document["paths"][path]["post"]["responses"]["201"]["headers"]


@pytest.mark.parametrize("fields", [{"password": "wrong " * 4}, {"email": "nobody@example.com"}])
async def test_every_failed_sign_in_says_the_same_on_both_routes(
    http: httpx.AsyncClient,
    app_server: InProcessApp,
    signed_up: tuple[str, httpx.Response],
    fields: dict[str, str],
) -> None:
    attempt = {"email": signed_up[0], "password": PASSWORD} | fields
    as_json = await http.post(routes.SIGNIN_API, json=attempt)
    assert (as_json.status_code, as_json.json()) == (422, {"errors": {"form": INCORRECT}})
    as_form = await post_form(http, app_server, attempt, path=routes.SIGNIN)
    assert as_form.status_code == 422 and INCORRECT in as_form.text
    assert "set-cookie" not in as_json.headers and "set-cookie" not in as_form.headers
    assert attempt["password"] not in as_form.text


async def test_form_sign_in_goes_to_the_account_page_and_ends_the_earlier_session(
    http: httpx.AsyncClient, app_server: InProcessApp, signed_up: tuple[str, httpx.Response]
) -> None:
    earlier = cookie_header(signed_up[1])
    fields = {"email": signed_up[0], "password": PASSWORD}
    answer = await http.post(
        routes.SIGNIN, content=urlencode(fields), headers=browser_headers(app_server) | earlier
    )
    assert (answer.status_code, answer.headers["location"]) == (303, routes.ACCOUNT)
    # Other cookies on the host, however odd their values, do not hide the session's.
    neighbours = 'consent={"ads":false}; theme=dark mode; '
    page = await http.get(routes.ACCOUNT, headers={"Cookie": neighbours + cookie_header(answer)["Cookie"]})
    assert page.status_code == 200 and signed_up[0] in page.text
    assert page.headers["cache-control"] == "no-store"
    assert (await http.get(routes.ACCOUNT, headers=earlier)).status_code == 303  # replaced, so ended


@pytest.mark.parametrize("cookie", [None, f"{COOKIE}={'x' * 43}", f"{COOKIE}=short"])
async def test_account_without_a_valid_session_redirects_to_sign_in(
    http: httpx.AsyncClient, cookie: str | None
) -> None:
    answer = await http.get(routes.ACCOUNT, headers={"Cookie": cookie} if cookie else {})
    assert (answer.status_code, answer.headers["location"]) == (303, routes.SIGNIN)


async def test_sign_out_revokes_the_session_and_clears_the_cookie_for_this_site_only(
    http: httpx.AsyncClient, app_server: InProcessApp, signed_up: tuple[str, httpx.Response]
) -> None:
    cookie, headers = cookie_header(signed_up[1]), browser_headers(app_server)
    foreign = await http.post(routes.SIGNOUT, content="", headers=headers | cookie | {"Origin": EVIL})
    assert foreign.status_code == 403
    assert (await http.get(routes.SIGNOUT, headers=cookie)).status_code == 405
    assert (await http.get(routes.ACCOUNT, headers=cookie)).status_code == 200  # still signed in
    answer = await http.post(routes.SIGNOUT, content="", headers=headers | cookie)
    assert (answer.status_code, answer.headers["location"]) == (303, routes.SIGNIN)
    cleared = set_cookie(answer)[COOKIE]
    assert cleared.value == "" and cleared["max-age"] == "0"
    assert (await http.get(routes.ACCOUNT, headers=cookie)).status_code == 303  # revoked, not only forgotten


async def test_signing_out_other_devices_keeps_this_one(
    http: httpx.AsyncClient, app_server: InProcessApp, signed_up: tuple[str, httpx.Response]
) -> None:
    email, created = signed_up
    other = await http.post(routes.SIGNIN_API, json={"email": email, "password": PASSWORD})
    third = await http.post(routes.SIGNIN_API, json={"email": email, "password": PASSWORD})
    here = cookie_header(created)
    third_id = (await anyio.to_thread.run_sync(sessions.resolve, set_cookie(third)[COOKIE].value)).session_id  # type: ignore[union-attr]
    one = await http.post(
        routes.SIGNOUT, content=f"session={third_id}", headers=browser_headers(app_server) | here
    )
    assert (one.status_code, one.headers["location"]) == (303, routes.ACCOUNT)
    assert (await http.get(routes.ACCOUNT, headers=cookie_header(third))).status_code == 303
    assert (await http.get(routes.ACCOUNT, headers=cookie_header(other))).status_code == 200
    rest = await http.post(routes.SIGNOUT, content="others=1", headers=browser_headers(app_server) | here)
    assert rest.status_code == 303
    assert (await http.get(routes.ACCOUNT, headers=cookie_header(other))).status_code == 303
    assert (await http.get(routes.ACCOUNT, headers=here)).status_code == 200


async def test_an_expired_session_is_refused(
    http: httpx.AsyncClient, signed_up: tuple[str, httpx.Response], monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = cookie_header(signed_up[1])
    assert (await http.get(routes.ACCOUNT, headers=cookie)).status_code == 200
    later = datetime.now(UTC) + timedelta(days=31)
    monkeypatch.setattr(sessions, "_now", lambda: later)
    answer = await http.get(routes.ACCOUNT, headers=cookie)
    assert answer.status_code == 303 and set_cookie(answer)[COOKIE].value == ""


@pytest.fixture
def ticket(signed_up: tuple[str, httpx.Response]) -> str:
    """A ticket issued to tab "tab-1" for the account (as the websocket hands one out)."""
    viewer = sessions.resolve(set_cookie(signed_up[1])[COOKIE].value)
    assert viewer is not None
    return sessions.issue_ticket(viewer.account_id, "tab-1")


async def test_a_ticket_is_exchanged_once_from_its_own_site_for_a_cookie(
    http: httpx.AsyncClient, app_server: InProcessApp, ticket: str
) -> None:
    """From another site it is refused untouched; from another tab, see accounts/test_sessions.py."""
    body, headers = f"ticket={ticket}&tab=tab-1", browser_headers(app_server)
    foreign = await http.post(routes.SIGNIN_TICKET, content=body, headers=headers | {"Origin": EVIL})
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    first = await http.post(routes.SIGNIN_TICKET, content=body, headers=headers)
    assert (first.status_code, first.headers["location"]) == (303, routes.ACCOUNT)
    assert set_cookie(first)[COOKIE]["httponly"]
    again = await http.post(routes.SIGNIN_TICKET, content=body, headers=headers)
    assert again.status_code == 400 and EXPIRED in again.text and "set-cookie" not in again.headers
