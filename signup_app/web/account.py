"""The account page's State: who is signed in, their sessions, and signing other sessions out.

Reflex's tab token is an identifier, never a credential: everything here is decided by
the sign-in cookie of the socket the event arrived on (signing_in.connection_viewer),
checked against the database at each privileged event. A tab's saved state that does
not belong to the connection's session is wiped before any event runs, hydration
included (HydrateGuard), so a stolen tab token reads no account data.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypedDict

import anyio.to_thread
import reflex as rx
from reflex.state import BaseState, State, StateUpdate

from signup_app.accounts import sessions
from signup_app.web import revocation, signing_in
from signup_app.web.pages.account_html import date_time, long_date
from signup_app.web.transports.websocket import sign_in_form_states

if TYPE_CHECKING:
    from reflex.app import App
    from reflex_base.event import Event

logger = logging.getLogger(__name__)


class SessionRow(TypedDict):
    """One sign-in session as the account page lists it."""

    id: int
    device: str
    last_seen: str
    current: bool


class AccountState(rx.State):
    """What the account page shows; empty until the connection's cookie is checked."""

    # The cookie was checked for this view: until then the page shows nothing of the account.
    checked: bool = False
    signed_in: bool = False
    name: str = ""
    email: str = ""
    created: str = ""
    sessions: list[SessionRow] = []
    # Set when the page loads without a valid session: the page then goes to the sign-in page
    # (a full navigation: a redirect event during the page's hydration would leave it unhydrated).
    must_sign_in: bool = False
    # Which session and account the shown data belongs to (ids, not credentials).
    _session_id: int = 0
    _account_id: int = 0

    def _sign_out_view(self) -> None:
        self.signed_in = False
        self.checked = True
        self.name = self.email = self.created = ""
        self.sessions = []
        self._session_id = self._account_id = 0

    async def _viewer(self) -> sessions.Viewer | None:
        """The viewer of this event's connection, checked now; the view is wiped when there is none."""
        viewer = await signing_in.connection_viewer(self.router.session.session_id)
        if viewer is None or (self._session_id and viewer.session_id != self._session_id):
            self._sign_out_view()
            return None
        return viewer

    async def _show(self, viewer: sessions.Viewer) -> None:
        account = await anyio.to_thread.run_sync(sessions.account, viewer.account_id)
        active = await anyio.to_thread.run_sync(sessions.active_sessions, viewer.account_id)
        if account is None:  # deleted meanwhile
            self._sign_out_view()
            return
        self.name, self.email, self.created = account.name, account.email, long_date(account.created_at)
        self.sessions = [
            SessionRow(
                id=row.id,
                device=row.device,
                last_seen=date_time(row.last_seen_at),
                current=row.id == viewer.session_id,
            )
            for row in active
        ]
        self._session_id, self._account_id = viewer.session_id, viewer.account_id
        self.signed_in = self.checked = True

    @rx.event
    async def load(self) -> None:
        """On page load: show the account of the connection's sign-in, or go to the sign-in page."""
        self._session_id = 0
        viewer = await self._viewer()
        if viewer is None:
            self.must_sign_in = True
            return
        await self._show(viewer)
        await revocation.watch(viewer.session_id, self.router.session.client_token)

    @rx.event
    async def sign_out_session(self, form_data: dict[str, Any]) -> Any:  # noqa: ANN401
        """Sign out one other session of this account (its tabs are signed out at once)."""
        viewer = await self._viewer()
        if viewer is None:
            self.must_sign_in = True
            return None
        try:
            session_id = int(str(form_data.get("session", "")))
        except ValueError:
            return None
        if session_id != viewer.session_id:  # this device signs out with the Sign out button
            revoked = await anyio.to_thread.run_sync(
                lambda: sessions.revoke(session_id, account_id=viewer.account_id)
            )
            await revocation.announce(revoked, skip=self.router.session.client_token)
        await self._show(viewer)
        return None

    @rx.event
    async def sign_out_others(self, _form_data: dict[str, Any] | None = None) -> Any:  # noqa: ANN401
        """Sign out every other session of this account."""
        viewer = await self._viewer()
        if viewer is None:
            self.must_sign_in = True
            return None
        revoked = await anyio.to_thread.run_sync(sessions.revoke_others, viewer.account_id, viewer.session_id)
        await revocation.announce(revoked, skip=self.router.session.client_token)
        await self._show(viewer)
        return None


def sign_out_revoked(state: BaseState, revoked: frozenset[int]) -> None:
    """Wipe a tab's account view if it shows one of the revoked sessions (revocation's callback)."""
    if isinstance(state, AccountState) and state._session_id in revoked:  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
        state._sign_out_view()  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]


# The events that open a connection's view of its state: each is checked first.
_HYDRATE = frozenset({f"{State.get_full_name()}.hydrate", f"{State.get_full_name()}.hydrate_and_load"})


class HydrateGuard(rx.Middleware):
    """Before a tab's state is sent to a new connection, wipe what the connection may not see.

    That is an account view its cookie does not match, and any sign-in ticket (with the welcome).
    """

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:  # noqa: ARG002  (Reflex's signature)
        """Let the event through, after wiping a saved account view the connection's cookie does not match."""
        if event.name not in _HYDRATE:
            return None
        # A new connection never receives an earlier one's sign-in ticket or welcome: with the tab
        # token alone, a ticket would be redeemable (it is bound to that token). The connection
        # it was handed to keeps it (a hydration there is no new reader).
        sid = state.router.session.session_id
        for form_state in sign_in_form_states():
            form = await state.get_state(form_state)
            form._forget_sign_in(sid)  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
        account = await state.get_state(AccountState)
        # A new view of the page: an earlier view's "go and sign in" must not send this one away.
        account.must_sign_in = False
        if account._session_id == 0:  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
            return None
        viewer = await signing_in.connection_viewer(sid)
        if viewer is None or viewer.session_id != account._session_id:  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
            account._sign_out_view()  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
        return None
