"""Every path the app serves, in one place: pages, transports, headers and tests use these."""

from typing import Final

HOME: Final = "/"
SIGNUP_FORM: Final = "/signup"
SIGNUP_WELCOME: Final = "/signup/welcome"
SIGNUP_API: Final = "/api/signup"
OPENAPI: Final = "/api/openapi.json"
