"""Reflex configuration. The app's settings come from signup_app.settings (the environment)."""

import os
import warnings

import reflex as rx

from signup_app import settings

app_settings = settings.load()

# Reflex's start-up schema check cannot compare the functional email index; the
# committed migration owns it.
warnings.filterwarnings("ignore", message=".*expression-based index")

# A signup's event is a few hundred bytes: refuse (and disconnect) frames over 64 KB
# rather than Reflex's default of 1 MB. Set the variable to change it.
os.environ.setdefault("REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE", str(64 * 1024))

config = rx.Config(
    app_name="signup_app",
    # REFLEX_DB_URL, or the embedded development database.
    db_url=app_settings.database_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # An abandoned tab's state is dropped after 15 minutes without events (REFLEX_REDIS_TOKEN_EXPIRATION).
    redis_token_expiration=15 * 60,
    # The page's own origin is always accepted (signup_app/web/origins.py); these are further
    # origins whose pages may open the websocket and post the signup routes
    # (REFLEX_CORS_ALLOWED_ORIGINS, comma-separated). None by default; never "*".
    cors_allowed_origins=list(app_settings.cors_allowed_origins),
    disable_plugins=[rx.plugins.SitemapPlugin],
)
