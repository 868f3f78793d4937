"""The websocket transport: each declared form's Reflex State, whose submit calls the form's action.

A secret field (the password) arrives as an event argument, is passed to the
action and dropped; it is never assigned to the state, whose vars are persisted
and synced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
import reflex as rx

from signup_app.accounts import Accepted, ActionResult, Unavailable, sessions
from signup_app.accounts.outages import unavailable
from signup_app.accounts.validation import FORM, FieldErrors
from signup_app.web import signing_in
from signup_app.web.client_address import client_address
from signup_app.web.forms.declaration import Form, new_hidden_value
from signup_app.web.forms.live import live_mixin
from signup_app.web.forms.schema import payload_type

# Each form's State class, by form name, and each class's form.
_STATES: dict[str, type[FormState]] = {}
_FORMS: dict[type[FormState], Form] = {}


class FormState(rx.State, mixin=True):
    """What a form's page shows: per-field errors, the pending flag, the accepted name."""

    errors: FieldErrors = {}
    pending: bool = False
    # The accepted record's name, shown in place of the form (Form.success).
    welcome_name: str = ""
    # Bumped on every refused submit, so the page refocuses the first bad field.
    rejections: int = 0
    # A form that signs in (Form.signs_in): the single-use ticket this tab posts to
    # routes.SIGNIN_TICKET for its cookie (see signup_app.web.signing_in). Never a session token.
    signin_ticket: str = ""
    # The socket the ticket was handed to: no other connection is given it (account.HydrateGuard).
    _ticket_sid: str = ""

    def _client_address(self) -> str:
        # Reflex sets "asgi-scope-client" to the socket's peer, overriding any client header of that name,
        # and joins a header's lines with ", ": all X-Forwarded-For lines, in order, as one list.
        headers = self.router.headers.raw_headers
        return client_address(headers.get("asgi-scope-client"), headers.get("x-forwarded-for"))

    def _show(self, result: ActionResult[object]) -> None:
        """Render the action's result as state vars."""
        form = _FORMS[type(self)]
        if isinstance(result, Accepted):
            self.errors = {}
            self.welcome_name = str(result.public.get(form.success.name_key) or "")
            return
        self.errors = {FORM: result.message} if isinstance(result, Unavailable) else dict(result.errors)
        self.rejections += 1

    async def _submit(self, form_data: object) -> AsyncIterator[None]:
        if self.pending or self.welcome_name:
            return
        self.pending = True
        yield
        try:
            form = _FORMS[type(self)]
            # The action validates form_data whatever its shape (None, a list...).
            result = await form.action(form_data, client_address=self._client_address())  # type: ignore[arg-type]
            if isinstance(result, Accepted) and form.signs_in:
                result = await self._hand_ticket(result)
            self._show(result)
        finally:
            self.pending = False

    async def _hand_ticket(self, result: Accepted[object]) -> ActionResult[object]:
        """Give this tab a ticket for its sign-in cookie (an event cannot set one)."""
        tab = self.router.session.client_token
        try:
            self.signin_ticket = await anyio.to_thread.run_sync(
                sessions.issue_ticket, signing_in.account_id(result), tab
            )
            self._ticket_sid = self.router.session.session_id
        except Exception as exc:  # noqa: BLE001  (rendered as the action's own failures are)
            return unavailable("sign-in", exc)
        return result

    def _forget_sign_in(self, connection: str) -> None:
        """Drop the ticket and the welcome unless ``connection`` is the socket they were handed to.

        Called by account.HydrateGuard on every hydration; private, so no client can call it.
        """
        if connection != self._ticket_sid and (self.signin_ticket or self.welcome_name):
            self.welcome_name = ""
            self.signin_ticket = ""
            self._ticket_sid = ""


def _submitter(payload: type) -> Callable[..., AsyncIterator[None]]:
    async def submit(self: FormState, /, form_data: object = None, **_ignored: object) -> AsyncIterator[None]:
        """Run the form's action on the submitted fields.

        Clients can send any payload keys: unknown ones (even "self", hence the
        positional-only marker) are ignored rather than crashing the call.
        """
        async for _ in self._submit(form_data):  # pyright: ignore[reportPrivateUsage]
            yield

    # The form's own payload type, as Reflex reads it to convert the browser's form entries.
    submit.__annotations__ = {"form_data": payload | None, "_ignored": object, "return": AsyncIterator[None]}
    return submit


def _issuer(name: str) -> Callable[[FormState], None]:
    def issue(self: FormState) -> None:
        # A random key, set once per tab: a reload keeps it.
        if not getattr(self, name):
            setattr(self, name, new_hidden_value())

    issue.__name__ = issue.__qualname__ = f"issue_{name}"
    issue.__doc__ = f"Give the tab its {name} when the page loads (once: a reload keeps it)."
    return issue


def form_state(form: Form) -> type[FormState]:
    """The form's State class, made on first call: ``{Name}State`` with a var per hidden field.

    Its ``submit`` handler takes the form's payload type (see payload_type). Each hidden field
    (an idempotency key) also gets an ``issue_{name}`` handler, run on page load.
    """
    if (state := _STATES.get(form.name)) is not None:
        return state
    class_name = "".join(part.capitalize() for part in form.name.split("_")) + "State"
    namespace: dict[str, Any] = {"__module__": __name__, "__qualname__": class_name, "__annotations__": {}}
    namespace["submit"] = _submitter(payload_type(form))
    for spec in form.hidden_fields:
        namespace["__annotations__"][spec.name] = str
        namespace[spec.name] = ""
        namespace[f"issue_{spec.name}"] = _issuer(spec.name)
    state = type(class_name, (FormState, live_mixin(form), rx.State), namespace)
    # Reachable as an attribute of this module, as pickle (the state stores) looks classes up.
    globals()[class_name] = state
    _STATES[form.name] = state
    _FORMS[state] = form
    return state


def on_load_handlers(form: Form) -> list[Any]:
    """The handlers a form's page runs on load: one ``issue_{name}`` per hidden field."""
    state = form_state(form)
    return [getattr(state, f"issue_{spec.name}") for spec in form.hidden_fields]


def sign_in_form_states() -> tuple[type[FormState], ...]:
    """The registered States of the forms that sign in (their tickets: see account.HydrateGuard)."""
    registered = form_states()
    return tuple(state for state, form in _FORMS.items() if form.signs_in and state in registered)


def form_states() -> tuple[type[FormState], ...]:
    """Every form's State made so far and registered with Reflex (a test may register one apart)."""
    registered = rx.State.get_substates()
    return tuple(state for state in _STATES.values() if state in registered)
