"""The Reflex app: the signup page and its event handler."""

import reflex as rx

from signup_app import log_redaction
from signup_app.accounts import models  # noqa: F401  (registers the Account table)
from signup_app.pages.signup import signup_page

log_redaction.install()

app = rx.App(stylesheets=["/signup.css"])
app.add_page(signup_page, route="/", title="Create your account · signup_app")
