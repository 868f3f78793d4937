"""Reflex configuration. Settings come from the environment (REFLEX_* variables)."""

import warnings

import reflex as rx

from signup_app.config import DEFAULT_DATABASE_URL

# Reflex's start-up schema check cannot compare the functional email index; the
# committed migration owns it.
warnings.filterwarnings("ignore", message=".*expression-based index")

config = rx.Config(
    app_name="signup_app",
    # REFLEX_DB_URL overrides this embedded development database.
    db_url=DEFAULT_DATABASE_URL,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # Origins whose pages may open the websocket and post the signup routes
    # (REFLEX_CORS_ALLOWED_ORIGINS, comma-separated, overrides). Never "*".
    cors_allowed_origins=["http://localhost:3000", "http://127.0.0.1:3000"],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
