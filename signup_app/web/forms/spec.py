"""One element tree per form, rendered two ways: to Reflex components and to HTML.

The tree holds the markup (tags, ids, classes, texts); what changes per visit is
a slot. The Reflex renderer binds each slot to the form's State; the HTML renderer
fills it from a failed submission. Neither renderer knows any form's markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from signup_app.web.forms.declaration import Field, Form

# Key of an error that belongs to the whole form rather than one field.
FORM_ERROR_KEY: Final = "form"


@dataclass(frozen=True, slots=True)
class Value:
    """A field's value: a hidden field's issued value, or a visible field's refill after a failed POST."""

    field: Field


@dataclass(frozen=True, slots=True)
class Error:
    """A field's error message ("" when it has none)."""

    name: str


@dataclass(frozen=True, slots=True)
class Invalid:
    """ "true" when the field has an error, else "false"."""

    name: str


@dataclass(frozen=True, slots=True)
class FirstInvalid:
    """Present (autofocus) on the first field with an error; used where no script moves focus."""

    name: str


@dataclass(frozen=True, slots=True)
class Pending:
    """One of two texts: while the action runs, and otherwise."""

    pending: str
    idle: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """The accepted record's name, shown in the success heading."""


@dataclass(frozen=True, slots=True)
class Element:
    """A tag, its attributes and children; ``when_error`` keeps it only while that error is set."""

    tag: str
    attrs: dict[str, str | Slot] = field(default_factory=dict)
    children: tuple[Node, ...] = ()
    when_error: str | None = None


Slot = Value | Error | Invalid | FirstInvalid | Pending | Accepted
Node = Element | Slot | str


def _field(spec: Field) -> Element:
    if spec.hidden:
        return Element("input", {"type": "hidden", "name": spec.name, "value": Value(spec)})
    described_by = f"{spec.name}-hint {spec.name}-error" if spec.help_text else f"{spec.name}-error"
    hint = (
        (Element("p", {"id": f"{spec.name}-hint", "class": "hint"}, (spec.help_text,)),)
        if spec.help_text
        else ()
    )
    return Element(
        "div",
        {"class": "field"},
        (
            Element("label", {"for": spec.name, "class": "label"}, (spec.label,)),
            Element(
                "input",
                {
                    "id": spec.name,
                    "name": spec.name,
                    "type": spec.input_type,
                    "autocomplete": spec.autocomplete,
                    "value": Value(spec),
                    "aria-invalid": Invalid(spec.name),
                    "aria-describedby": described_by,
                    "class": "input",
                    "autofocus": FirstInvalid(spec.name),
                },
            ),
            *hint,
            Element("p", {"id": f"{spec.name}-error", "class": "field-error"}, (Error(spec.name),)),
        ),
    )


def form_tree(form: Form) -> Element:
    """The <form>: heading, the form's error, each field, the submit button.

    The renderers add the form's ``method``/``action`` and the websocket submit.
    """
    return Element(
        "form",
        {"class": "card", "id": form.dom_id},
        (
            Element("h1", {"class": "title"}, (form.title,)),
            Element("p", {"class": "subtitle"}, (form.subtitle,)),
            Element(
                "p",
                {"id": "form-error", "role": "alert", "class": "form-error"},
                (Error(FORM_ERROR_KEY),),
                when_error=FORM_ERROR_KEY,
            ),
            *(_field(f) for f in form.fields),
            Element(
                "button",
                {"type": "submit", "id": "submit", "class": "button"},
                (Pending(form.pending_label, form.submit_label),),
            ),
        ),
    )


def success_tree(form: Form) -> Element:
    """What replaces the form once the action accepted it."""
    return Element(
        "section",
        {"class": "card", "role": "status"},
        (
            Element(
                "h1",
                {"id": "welcome", "tabindex": "-1", "class": "title"},
                (form.success.heading, Accepted()),
            ),
            Element("p", {"class": "subtitle"}, (form.success.message,)),
        ),
    )
