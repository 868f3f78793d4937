"""The sign-in page: the sign-in form's declaration rendered as a Reflex page."""

from __future__ import annotations

import reflex as rx

from signup_app.web import routes
from signup_app.web.forms.component import form_page
from signup_app.web.forms.signin import SIGNIN
from signup_app.web.transports.websocket import form_state
from signup_app.web.urls import backend_url

SigninState = form_state(SIGNIN)


def signin_page() -> rx.Component:
    """The whole page."""
    return form_page(SIGNIN, backend_url(SIGNIN.path), backend_url(routes.SIGNIN_TICKET))
