"""The account page: who is signed in, their signed-in devices, and the sign-out buttons.

Every button is a plain HTML form posting to routes.SIGNOUT, so it works without
JavaScript; with it, signing out another device runs over the websocket instead. The
server fills the <noscript> slot for browsers without JavaScript (transports.session_routes).
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar, Var
from reflex_base.constants import EventTriggers

from signup_app.web import routes
from signup_app.web.account import AccountState, SessionRow
from signup_app.web.forms.component import effect
from signup_app.web.urls import backend_url


def _button_form(label: str, *inputs: rx.Component, **props: Any) -> rx.Component:  # noqa: ANN401  (Reflex props)
    """A one-button form posting to the sign-out route; with ``on_submit``, the websocket takes it instead."""
    form = rx.el.form(
        *inputs,
        rx.el.button(label, type="submit", class_name="link-button"),
        method="post",
        action=backend_url(routes.SIGNOUT),
        class_name="inline-form",
        **props,
    )
    if "on_submit" not in props:
        # Reflex gives every form a submit handler that cancels the browser's own POST; this one
        # must navigate (only the HTTP response can clear the cookie).
        form.event_triggers.pop(EventTriggers.ON_SUBMIT, None)
    return form


def _session(row: ObjectVar[SessionRow]) -> rx.Component:
    return rx.el.li(
        rx.el.span(row["device"], class_name="device"),
        rx.el.span("Last seen ", row["last_seen"], class_name="seen"),
        rx.cond(
            row["current"],
            rx.el.span("This device", class_name="current"),
            _button_form(
                "Sign out",
                rx.el.input(type="hidden", name="session", value=row["id"].to(str)),
                on_submit=AccountState.sign_out_session,
            ),
        ),
        class_name="session",
    )


def _account_card() -> rx.Component:
    state = AccountState
    return rx.el.section(
        rx.el.h1("Your account", class_name="title"),
        rx.el.dl(
            rx.el.dt("Name"),
            rx.el.dd(state.name, id="account-name"),
            rx.el.dt("Email"),
            rx.el.dd(state.email, id="account-email"),
            rx.el.dt("Member since"),
            rx.el.dd(state.created, id="account-created"),
            class_name="details",
        ),
        rx.el.h2("Signed-in devices", class_name="section-title"),
        rx.el.ul(rx.foreach(state.sessions, _session), id="sessions", class_name="sessions"),
        _button_form(
            "Sign out of all other devices",
            rx.el.input(type="hidden", name="others", value="1"),
            id="signout-others",
            on_submit=state.sign_out_others,
        ),
        # No websocket handler: only an HTTP response can clear the cookie.
        _button_form("Sign out", id="signout"),
        id="account",
        class_name="card",
    )


def _signed_out() -> rx.Component:
    return rx.el.section(
        rx.el.h1("You are signed out.", class_name="title"),
        rx.el.p(rx.el.a("Sign in", href=routes.SIGNIN), " to see your account.", class_name="subtitle"),
        id="signed-out",
        role="status",
        class_name="card",
    )


def account_page() -> rx.Component:
    """The whole page: nothing of the account until the cookie is checked, then the card."""
    must_sign_in: Var[Any] = AccountState.must_sign_in  # pyright: ignore[reportAssignmentType]  (a Var on the class)
    return rx.el.main(
        effect(
            "AccountSignIn", f"if ({must_sign_in}) window.location.replace('{routes.SIGNIN}');", must_sign_in
        ),
        rx.el.div("signup_app", class_name="brand"),
        rx.el.noscript(id="account-static"),
        rx.cond(AccountState.signed_in, _account_card(), rx.cond(AccountState.checked, _signed_out())),
        class_name="page",
    )
