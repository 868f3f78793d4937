"""The Reflex app: the signup page, its websocket handler, and the HTTP routes onto the same action."""

import reflex as rx
from reflex.utils.exec import is_prod_mode
from starlette.applications import Starlette

from signup_app.accounts import models  # noqa: F401  (registers the Account table)
from signup_app.web import hostile_events, log_redaction, origins, routes
from signup_app.web.connection_cap import ConnectionCap
from signup_app.web.correlation import CorrelationId
from signup_app.web.forms.signup import SIGNUP
from signup_app.web.handler_allowlist import AllowlistMiddleware
from signup_app.web.outages import backend_exception_handler
from signup_app.web.pages.signup import SignupState, signup_page
from signup_app.web.security_headers import SecurityHeaders
from signup_app.web.transports import form_post, json_api

# Every declared form: each gets its HTTP routes here, its State and page in signup_app.web.pages.
FORMS = (SIGNUP,)

log_redaction.install()

if is_prod_mode() and "*" in rx.config.get_config().cors_allowed_origins:
    # Reflex's default: any site could open the websocket and drive the form.
    raise SystemExit(
        "signup_app: refusing to start: REFLEX_CORS_ALLOWED_ORIGINS must not be '*' in production."
    )

app = rx.App(
    backend_exception_handler=backend_exception_handler,
    stylesheets=["/signup.css"],
    # The HTTP doors onto the same action; they match before Reflex's own routes.
    # SecurityHeaders last: the outermost, so every HTTP response (pages, files, routes) passes it.
    api_transformer=[
        Starlette(
            routes=[
                *(route for form in FORMS for route in (*form_post.routes(form), *json_api.routes(form))),
                json_api.openapi_route(FORMS),
            ]
        ),
        ConnectionCap,
        CorrelationId,
        SecurityHeaders,
    ],
)
if app.sio is None:
    raise RuntimeError("signup_app: Reflex created no Socket.IO server to guard.")
# The handshake's Origin is judged as the HTTP routes judge it: the page's own origin, plus
# REFLEX_CORS_ALLOWED_ORIGINS (Reflex passes only the latter, which alone would refuse the page).
app.sio.eio.cors_allowed_origins = origins.websocket_origin_allowed
app.add_middleware(AllowlistMiddleware())
hostile_events.install(app)
app.add_page(
    signup_page,
    route=routes.HOME,
    title=f"{SIGNUP.title} · signup_app",
    on_load=SignupState.issue_signup_key,
)
