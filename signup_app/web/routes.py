"""Every path the app serves, in one place: pages, transports, headers and tests use these."""

from typing import Final

HOME: Final = "/"
SIGNUP_FORM: Final = "/signup"
SIGNUP_API: Final = "/api/signup"
# Sign-in: the page (and its no-JS POST), the JSON route, the ticket exchange, sign-out.
SIGNIN: Final = "/signin"
SIGNIN_API: Final = "/api/sessions"
SIGNIN_TICKET: Final = "/signin/ticket"
SIGNOUT: Final = "/signout"
ACCOUNT: Final = "/account"
OPENAPI: Final = "/api/openapi.json"
