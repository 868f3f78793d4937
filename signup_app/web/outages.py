"""What a client sees when a service the app needs (Redis, the database) is down."""

from __future__ import annotations

import logging

from reflex.app import default_backend_exception_handler
from reflex.event import EventSpec
from reflex_components_sonner.toast import toast

from signup_app.accounts.outages import UNAVAILABLE, is_outage

logger = logging.getLogger(__name__)


def backend_exception_handler(exception: Exception) -> EventSpec:
    """Reflex's handler for an event that failed outside the action (e.g. Redis holding the state).

    An outage gets a clear "temporarily unavailable" notice; anything else Reflex's default.
    """
    if is_outage(exception):
        logger.warning("event failed, a service is unavailable: %s", type(exception).__name__)
        return toast(
            UNAVAILABLE, level="error", fallback_to_alert=True, id="unavailable", position="top-center"
        )
    return default_backend_exception_handler(exception)
