"""Live validation of a declared form: checks as fields are left, a strength meter while typing.

Each field is checked on the server as the user leaves it; the secret field gets a
strength meter, rated on the server while it is typed. The form's own checks run
(``Form.check_field``, ``Form.rate_secret``), so a live message is the one the
submit would give. Values travel only as event arguments and are dropped: a
password never reaches the state, only its score and zxcvbn's fixed texts do.
Nothing here looks anything up, so no live check tells whether an address is
registered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import reflex as rx
from reflex.state import BaseState
from reflex.vars.base import Var

from signup_app.web.forms.declaration import Field, Form

logger = logging.getLogger(__name__)

# The meter rates the password once the user pauses typing this long: one event per pause.
METER_DEBOUNCE_MS: Final = 300
# No field accepts more than 4 x 254 characters; a longer value is cut before any work on it
# (the validators' own early length check still refuses it with the submit's message).
_MAX_VALUE_CHARS: Final = 1024
# What the meter says for each zxcvbn score.
SCORE_LABELS: Final = ("Very weak", "Weak", "Fair", "Good", "Strong")
# The handlers live_mixin gives a form's State: the page calls them, so they are on the allowlist.
HANDLERS: Final = ("check_field", "rate_password")

# zxcvbn takes up to ~80 ms of CPU on a 72-character password. Ratings run on one thread of
# their own: a flood of meter events slows only the meter, never the event loop or a signup.
_RATING_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strength-meter")
# Beyond this many ratings queued or running, a new one is skipped (the meter keeps its last
# reading) rather than holding its tab's state lock in a long queue.
MAX_QUEUED_RATINGS = 8


class _Ratings:
    """Ratings queued or running in this process (touched on the event loop only)."""

    in_flight = 0


def _text(value: object) -> str | None:
    """A value as the page sends it (a str, cut to a bounded length), or None for anything else."""
    return value[:_MAX_VALUE_CHARS] if isinstance(value, str) else None


def live_mixin(form: Form) -> type[rx.State]:
    """The state members that give ``form`` its live checks, as a mixin for the form's State.

    The State using it must have an ``errors`` dict var (field -> message): a blur
    check writes there, so the message appears where the submit's would.

    Args:
        form: The declaration; its ``live`` fields are checked with ``form.check_field``,
            its ``meter`` field rated with ``form.rate_secret``.

    Returns:
        A Reflex state mixin with the meter's vars and the ``check_field`` and
        ``rate_password`` handlers.

    Raises:
        ValueError: The form declares more than one meter field.
    """
    check, rate = form.check_field, form.rate_secret
    live_names = frozenset(f.name for f in form.visible_fields if f.live) if check else frozenset()
    meter_fields = [f for f in form.visible_fields if f.meter] if rate else []
    if len(meter_fields) > 1:
        raise ValueError(f"form {form.name!r} declares more than one meter field: {meter_fields}")
    context_names = tuple(f.name for f in form.visible_fields if not f.secret)

    class LiveChecks(rx.State, mixin=True):
        """The strength meter's reading (never the password) and the live-check handlers."""

        # -1 until something is typed: the meter stays empty.
        meter_score: int = -1
        meter_warning: str = ""
        meter_suggestions: list[str] = []
        meter_strong: bool = False

        @rx.event
        def check_field(self, field: str, value: str) -> None:
            """Check one field as the user leaves it; show or clear its message.

            An empty field keeps whatever it showed: leaving a field not yet filled in
            is no mistake, and a submit's "Enter your ..." stays until it is filled.
            """
            text = _text(value)
            # Reflex does not enforce annotations: a client may send any type.
            if check is None or not isinstance(field, str) or field not in live_names:  # pyright: ignore[reportUnnecessaryIsInstance]
                return
            if text is None or not text.strip():
                return
            self._show_check(field, check(field, text))

        def _show_check(self, field: str, message: str | None) -> None:
            """Show a field's message, or clear it (None)."""
            errors: dict[str, str] = dict(self.errors)  # type: ignore[attr-defined]
            if message is None:
                errors.pop(field, None)
            else:
                errors[field] = message
            self.errors = errors  # type: ignore[attr-defined]

        @rx.event
        async def rate_password(self, value: str, fields: dict[str, str]) -> None:
            """Rate the secret field as typed against the other fields; keep only the verdict."""
            text = _text(value)
            if rate is None or not meter_fields or text is None or not isinstance(fields, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
                return
            if not text:
                self.meter_score, self.meter_warning, self.meter_suggestions = -1, "", []
                self.meter_strong = False
                return
            if _Ratings.in_flight >= MAX_QUEUED_RATINGS:
                return
            context = {name: _text(fields.get(name)) for name in context_names}
            _Ratings.in_flight += 1
            try:
                loop = asyncio.get_running_loop()
                feedback = await loop.run_in_executor(_RATING_POOL, rate, text, context)
            except Exception as exc:  # noqa: BLE001  (any failure leaves the meter as it was)
                # The exception's text could quote the password: only its type is logged.
                logger.warning("strength rating failed: %s", type(exc).__name__)
                return
            finally:
                _Ratings.in_flight -= 1
            self.meter_score = feedback.score
            self.meter_warning = feedback.warning
            self.meter_suggestions = list(feedback.suggestions)
            self.meter_strong = feedback.strong_enough
            # A message from an earlier blur or submit goes once the typed value passes the same
            # check; typing never adds one (that waits for the field to be left).
            field = meter_fields[0].name
            if check is not None and field in self.errors and check(field, text) is None:  # type: ignore[attr-defined]
                self._show_check(field, None)

    LiveChecks.__name__ = LiveChecks.__qualname__ = f"{form.name.capitalize()}LiveChecks"
    return LiveChecks


def _live_field(form: Form, tag: str, element_id: object) -> Field | None:
    """The visible field whose <input> this element is, if it is one."""
    if tag != "input" or not isinstance(element_id, str):
        return None
    return next((f for f in form.visible_fields if f.name == element_id), None)


def render_props(form: Form, state: type[BaseState], tag: str, element_id: object) -> dict[str, Any]:
    """The live event props of an element of ``form``'s tree: none unless it is a field's input."""
    field = _live_field(form, tag, element_id)
    return input_events(form, field, state) if field else {}


def render_after(form: Form, state: type[BaseState], tag: str, element_id: object) -> rx.Component | None:
    """What follows an element of ``form``'s tree: the strength meter after the meter field's input."""
    field = _live_field(form, tag, element_id)
    if field is None or not field.meter or form.rate_secret is None:
        return None
    return strength_meter(field, state)


def _fields_var(form: Form) -> Var[Any]:
    """The form's non-secret fields as typed, read from the page when the event fires."""
    entries = ", ".join(
        f"{json.dumps(f.name)}: document.getElementById({json.dumps(f.name)})?.value ?? ''"
        for f in form.visible_fields
        if not f.secret
    )
    return Var(f"({{{entries}}})").to(dict)


def input_events(form: Form, field: Field, state: type[BaseState]) -> dict[str, Any]:
    """The event props a field's <input> gets: a check on blur, the meter on typing (debounced).

    Args:
        form: The declaration.
        field: One of its visible fields.
        state: The form's State class (with ``live_mixin(form)``).

    Returns:
        ``on_blur`` / ``on_change`` props, or none for a field without live checks.
    """
    # Made at run time (live_mixin): its handlers are not known statically.
    live: Any = state
    props: dict[str, Any] = {}
    if field.live and form.check_field is not None:
        props["on_blur"] = lambda value: live.check_field(field.name, value)
    if field.meter and form.rate_secret is not None:
        others = _fields_var(form)
        props["on_change"] = lambda value: live.rate_password(value, others).debounce(METER_DEBOUNCE_MS)
    return props


def strength_meter(field: Field, state: type[BaseState]) -> rx.Component:
    """The meter under a secret field: a bar, a spoken verdict and zxcvbn's suggestions.

    Empty until something is typed (and so in the prerendered page, where no
    script runs). The verdict is a polite live region: screen readers read it
    once the user pauses.

    Args:
        field: The field with ``meter=True``.
        state: The form's State class (with ``live_mixin``).

    Returns:
        The meter's component.
    """
    # Made at run time (live_mixin): its vars are not known statically.
    live: Any = state
    score = live.meter_score
    label = rx.match(score, *((i, text) for i, text in enumerate(SCORE_LABELS)), "")
    verdict = rx.cond(score >= 0, rx.el.span("Strength: ", label, "."), rx.fragment())
    return rx.el.div(
        rx.el.meter(
            id=f"{field.name}-meter",
            min=0,
            max=4,
            low=2,
            high=3,
            optimum=4,
            value=rx.cond(score >= 0, score, 0),
            aria_label=f"{field.label} strength",
            hidden=score < 0,
            class_name="meter-bar",
        ),
        rx.el.p(
            verdict,
            rx.cond(live.meter_warning != "", rx.el.span(" ", live.meter_warning), rx.fragment()),
            id=f"{field.name}-strength",
            aria_live="polite",
            class_name="meter-text",
        ),
        rx.el.ul(
            rx.foreach(live.meter_suggestions, rx.el.li),
            id=f"{field.name}-suggestions",
            class_name="meter-suggestions",
        ),
        class_name="meter",
        data_strong=rx.cond(live.meter_strong, "true", "false"),
    )
