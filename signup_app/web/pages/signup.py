"""The signup page: the signup form's declaration rendered as a Reflex page."""

from __future__ import annotations

import reflex as rx

from signup_app.web import routes
from signup_app.web.forms.component import form_page
from signup_app.web.forms.signup import SIGNUP
from signup_app.web.transports.websocket import form_state
from signup_app.web.urls import backend_url

SignupState = form_state(SIGNUP)


def form_action(path: str = SIGNUP.path) -> str:
    """Where the browser posts a form when JavaScript is off: the backend's form route."""
    return backend_url(path)


def signup_page() -> rx.Component:
    """The whole page."""
    return form_page(SIGNUP, form_action(), form_action(routes.SIGNIN_TICKET))
