"""The websocket transport: the Reflex event handler the signup form submits to.

The password arrives as an event argument, is passed to register_account and
dropped; it is never assigned to the state, whose vars are persisted and synced.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from typing import TypedDict

import reflex as rx

from signup_app.accounts import Registered
from signup_app.accounts.registration import SERVER_ERROR, TemporarilyUnavailable, register_account_in_thread
from signup_app.accounts.validation import FORM, FieldErrors
from signup_app.web.client_address import client_address

logger = logging.getLogger(__name__)


class SignupForm(TypedDict, total=False):
    """The fields the signup form submits (unchecked: the action validates them)."""

    name: str
    email: str
    password: str
    signup_key: str


class SignupState(rx.State):
    """What the signup page shows: per-field errors, the pending flag, the welcome."""

    errors: FieldErrors = {}
    pending: bool = False
    welcome_name: str = ""
    # Bumped on every rejected submit, so the page refocuses the first bad field.
    rejections: int = 0
    # This tab's idempotency key, sent with the form: a submission re-sent after a
    # dropped connection gets the account it created rather than "already registered".
    signup_key: str = ""

    @rx.event
    def issue_signup_key(self) -> None:
        """Give the tab its key when the page loads (once: a reload keeps it)."""
        if not self.signup_key:
            self.signup_key = secrets.token_urlsafe(24)

    def _client_address(self) -> str:
        # Reflex sets "asgi-scope-client" to the socket's peer, overriding any client header of that name,
        # and joins a header's lines with ", ": all X-Forwarded-For lines, in order, as one list.
        headers = self.router.headers.raw_headers
        return client_address(headers.get("asgi-scope-client"), headers.get("x-forwarded-for"))

    @rx.event
    async def submit(self, /, form_data: SignupForm | None = None, **_ignored: object) -> AsyncIterator[None]:
        """Create the account from the submitted form.

        Clients can send any payload keys: unknown ones (even "self", hence the
        positional-only marker) are ignored rather than crashing the call.
        """
        if self.pending or self.welcome_name:
            return
        self.pending = True
        yield
        try:
            # Hashing and I/O run in a thread: other clients' events keep flowing.
            result = await register_account_in_thread(form_data, client_address=self._client_address())
        except TemporarilyUnavailable as exc:
            logger.log(exc.log_level, "signup unavailable: %s", exc)
            self.errors = {FORM: exc.message}
            self.rejections += 1
        except Exception:
            logger.exception("signup failed")
            self.errors = {FORM: SERVER_ERROR}
            self.rejections += 1
        else:
            if isinstance(result, Registered):
                self.errors = {}
                self.welcome_name = result.account.name
            else:
                self.errors = result.errors
                self.rejections += 1
        finally:
            self.pending = False
