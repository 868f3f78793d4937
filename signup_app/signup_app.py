"""The Reflex app: the signup, sign-in and account pages, their websocket handlers, and the HTTP routes."""

import functools
import threading

import reflex as rx
from reflex.utils.exec import is_prod_mode
from starlette.applications import Starlette

import signup_app.accounts.models  # noqa: F401  # pyright: ignore[reportUnusedImport]  (registers the Account table)
from signup_app import settings
from signup_app.accounts import passwords
from signup_app.web import hostile_events, log_redaction, origins, revocation, routes
from signup_app.web.account import AccountState, HydrateGuard, sign_out_revoked
from signup_app.web.connection_cap import ConnectionCap
from signup_app.web.correlation import CorrelationId
from signup_app.web.forms.signin import SIGNIN
from signup_app.web.forms.signup import SIGNUP
from signup_app.web.handler_allowlist import AllowlistMiddleware
from signup_app.web.outages import backend_exception_handler
from signup_app.web.pages.account import account_page
from signup_app.web.pages.signin import signin_page
from signup_app.web.pages.signup import signup_page
from signup_app.web.security_headers import SecurityHeaders
from signup_app.web.transports import form_post, json_api, session_routes
from signup_app.web.transports.websocket import on_load_handlers

# Every declared form: each gets its HTTP routes here, its State and page in signup_app.web.pages.
FORMS = (SIGNUP, SIGNIN)

log_redaction.install()
# Off the import's path: the dummy hash an unknown email is checked against (accounts.signin).
threading.Thread(target=passwords.prepare_dummy_hash, name="dummy-hash", daemon=True).start()

# Read once, here: a bad setting stops the app at start, naming its variable.
config = settings.load()
if is_prod_mode() and "*" in config.cors_allowed_origins:
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
                *session_routes.session_routes(SIGNIN),
            ]
        ),
        functools.partial(ConnectionCap, config=config),
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
app.add_middleware(HydrateGuard())
hostile_events.install(app)
revocation.install(app, AccountState, sign_out_revoked)
app.add_page(
    signup_page,
    route=routes.HOME,
    title=f"{SIGNUP.title} · signup_app",
    on_load=on_load_handlers(SIGNUP),
)
app.add_page(
    signin_page,
    route=routes.SIGNIN,
    title=f"{SIGNIN.title} · signup_app",
    on_load=on_load_handlers(SIGNIN),
)
app.add_page(account_page, route=routes.ACCOUNT, title="Your account · signup_app", on_load=AccountState.load)
