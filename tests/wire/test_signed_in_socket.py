"""The websocket and sign-in, against a production server: the cookie decides, never the tab token."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
import sqlalchemy as sa

from signup_app.accounts.signin import INCORRECT
from signup_app.web import routes
from signup_app.web.account import AccountState
from signup_app.web.pages.signin import SigninState
from tests.harness.client import WireClient, form, state_vars
from tests.harness.data import sentinel_core, sentinel_password, strong_password, unique_email
from tests.harness.server import AppServer
from tests.harness.wire import LogWindow, files_modified_since

pytestmark = pytest.mark.wire

ACCOUNT_STATE = AccountState.get_full_name()
LOAD = f"{ACCOUNT_STATE}.load"
SIGN_OUT_OTHERS = f"{ACCOUNT_STATE}.sign_out_others"
COOKIE = "__Host-session"


async def new_session(http: httpx.AsyncClient, email: str | None = None) -> tuple[str, str]:
    """A signed-in session (a new account, or a sign-in to ``email``): its email and cookie token."""
    if email is None:
        email = unique_email("socket")
        answer = await http.post(
            routes.SIGNUP_API, json={"name": "Sam Socket", "email": email, "password": PASSWORD}
        )
    else:
        answer = await http.post(routes.SIGNIN_API, json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    jar: SimpleCookie = SimpleCookie()
    jar.load(answer.headers["set-cookie"])
    return email, jar[COOKIE].value


PASSWORD = strong_password()


def account_view(client: WireClient) -> dict[str, object]:
    """The account state's vars as the tab has received them, folded in order."""
    view: dict[str, object] = {}
    for message in client.messages:
        view |= state_vars(message, ACCOUNT_STATE) or {}
    return view


async def load(client: WireClient) -> None:
    """Run the account page's on-load handler and wait for its answer."""
    start = len(client.messages)
    await client.emit(LOAD, {})
    await client.wait_for(lambda m: state_vars(m, ACCOUNT_STATE) is not None or bool(m.get("events")), start)
    await client.barrier()


async def test_the_cookie_shows_the_account_and_a_stolen_tab_token_shows_nothing(
    app_server: AppServer, http: httpx.AsyncClient, server_log: LogWindow, states_dir: object
) -> None:
    started = time.time()
    email, token = await new_session(http)
    cookie = {"Cookie": f"{COOKIE}={token}"}
    async with WireClient(app_server.url, headers=cookie) as owner:
        await load(owner)
        view = account_view(owner)
        assert (view["signed_in"], view["email"], view["name"]) == (True, email, "Sam Socket")
        stolen = owner.token

    # The page reconnecting (its hydrate has no payload), with the cookie: still signed in.
    async with WireClient(app_server.url, token=stolen, reconnect=True, headers=cookie) as again:
        await load(again)
        assert account_view(again)["email"] == email

    # Another connection presenting the tab token without the cookie: the saved view is wiped first.
    async with WireClient(app_server.url, token=stolen) as thief:
        assert email not in " ".join(thief.frames)
        await load(thief)
        assert account_view(thief)["must_sign_in"] is True  # the page goes to the sign-in page
        await thief.emit(SIGN_OUT_OTHERS, {})
        await thief.barrier()
        assert email not in " ".join(thief.frames)
        assert account_view(thief).get("signed_in") in (False, None)

    # The token is in no frame, no saved state and no log line.
    assert all(token not in frame for frame in owner.frames + thief.frames)
    for path in files_modified_since(states_dir, started - 0.05):  # type: ignore[arg-type]
        assert token.encode() not in path.read_bytes(), path
    assert token not in server_log.text()


@pytest.mark.parametrize("ended", ["revoked", "expired"])
async def test_an_ended_session_reads_nothing_over_the_socket(
    app_server: AppServer, http: httpx.AsyncClient, ended: str
) -> None:
    email, token = await new_session(http)
    if ended == "revoked":
        headers = {"Cookie": f"{COOKIE}={token}", "Origin": app_server.url}
        assert (await http.post(routes.SIGNOUT, headers=headers)).status_code == 303
    else:
        engine = sa.create_engine(app_server.db_url)
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE sign_in_session SET idle_expires_at = :past"),
                {"past": datetime.now(UTC) - timedelta(seconds=1)},
            )
        engine.dispose()
    async with WireClient(app_server.url, headers={"Cookie": f"{COOKIE}={token}"}) as tab:
        await load(tab)
        assert account_view(tab)["must_sign_in"] is True
        assert email not in " ".join(tab.frames)


async def test_privileged_events_check_the_session_each_time(
    app_server: AppServer, http: httpx.AsyncClient
) -> None:
    email, token = await new_session(http)
    _, other = await new_session(http, email)
    async with WireClient(app_server.url, headers={"Cookie": f"{COOKIE}={token}"}) as tab:
        await load(tab)
        assert len(account_view(tab)["sessions"]) == 2  # type: ignore[arg-type]
        # Revoked elsewhere while the tab is open: the push signs the tab out at once ...
        start = len(tab.messages)
        headers = {"Cookie": f"{COOKIE}={token}", "Origin": app_server.url}
        assert (await http.post(routes.SIGNOUT, headers=headers)).status_code == 303
        await tab.wait_for(lambda m: (state_vars(m, ACCOUNT_STATE) or {}).get("signed_in") is False, start)
        # ... and the tab's next privileged event finds no session: nothing else is signed out.
        await tab.emit(SIGN_OUT_OTHERS, {})
        await tab.barrier()
    page = await http.get(routes.ACCOUNT, headers={"Cookie": f"{COOKIE}={other}"})
    assert page.status_code == 200


async def test_the_sign_in_password_is_in_no_frame_log_or_state_file(
    app_server: AppServer, http: httpx.AsyncClient, server_log: LogWindow, states_dir: object
) -> None:
    started = time.time()
    password = sentinel_password()
    email = unique_email("signin-sentinel")
    created = await http.post(routes.SIGNUP_API, json={"name": "Sam", "email": email, "password": password})
    assert created.status_code == 201
    signin_state = SigninState.get_full_name()

    async def submit(tab: WireClient, typed: str) -> dict[str, object]:
        start = len(tab.messages)
        await tab.emit(f"{signin_state}.submit", {"form_data": form(email=email, password=typed)})
        message = await tab.wait_for(
            lambda m: (state_vars(m, signin_state) or {}).get("pending") is False, start
        )
        return state_vars(message, signin_state) or {}

    async with WireClient(app_server.url) as tab:
        assert (await submit(tab, password + "x"))["errors"] == {"form": INCORRECT}
        accepted = await submit(tab, password)
        ticket = str(accepted["signin_ticket"])
        assert len(ticket) == 43
        await tab.barrier()
    # Whoever connects with the tab's token next gets neither its ticket nor its welcome.
    async with WireClient(app_server.url, token=tab.token) as thief:
        assert ticket not in " ".join(thief.frames)
        assert '"welcome_name_rx_state_":"Sam"' not in " ".join(thief.frames)
    assert (
        await http.post(routes.SIGNIN_API, json={"email": email, "password": password + "x"})
    ).status_code == 422
    no_js = await http.post(
        routes.SIGNIN, data={"email": email, "password": password}, headers={"Origin": app_server.url}
    )
    assert no_js.status_code == 303

    core = sentinel_core(password)
    assert all(core not in frame for frame in tab.frames)
    assert core not in server_log.text()
    for path in files_modified_since(states_dir, started - 0.05):  # type: ignore[arg-type]
        assert core.encode() not in path.read_bytes(), path
