"""One element tree per form, rendered two ways: to Reflex components and to HTML.

The tree holds the markup (tags, ids, classes, texts); what changes per visit is
a slot. The Reflex renderer binds each slot to the form's State; the HTML renderer
fills it from a failed submission. Neither renderer knows any form's markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from signup_app.accounts.validation import FORM
from signup_app.web.forms.declaration import Field, Form, Link


class Kind(Enum):
    """What fills a slot."""

    VALUE = "value"  # a hidden field's issued value, or a visible field's refill after a failed POST
    ERROR = "error"  # a field's (or the form's) error message, "" when none
    INVALID = "invalid"  # "true" when the field has an error, else "false"
    FIRST_INVALID = "first_invalid"  # autofocus on the first field with an error (no-JS page only)
    SUBMIT_LABEL = "submit_label"  # the button's label, or its pending label while the action runs
    ACCEPTED = "accepted"  # the accepted record's name, in the success heading


@dataclass(frozen=True, slots=True)
class Slot:
    """A place in the tree filled per rendering; ``name`` is the field it belongs to, if any."""

    kind: Kind
    name: str = ""


@dataclass(frozen=True, slots=True)
class Element:
    """A tag, its attributes and children; ``when_error`` keeps it only while that error is set."""

    tag: str
    attrs: dict[str, str | Slot] = field(default_factory=dict)
    children: tuple[Node, ...] = ()
    when_error: str | None = None


Node = Element | Slot | str


def _field(spec: Field) -> Element:
    if spec.hidden:
        return Element("input", {"type": "hidden", "name": spec.name, "value": Slot(Kind.VALUE, spec.name)})
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
                    "value": Slot(Kind.VALUE, spec.name),
                    "aria-invalid": Slot(Kind.INVALID, spec.name),
                    "aria-describedby": described_by,
                    "class": "input",
                    "autofocus": Slot(Kind.FIRST_INVALID, spec.name),
                },
            ),
            *hint,
            Element(
                "p", {"id": f"{spec.name}-error", "class": "field-error"}, (Slot(Kind.ERROR, spec.name),)
            ),
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
                (Slot(Kind.ERROR, FORM),),
                when_error=FORM,
            ),
            *(_field(f) for f in form.fields),
            Element(
                "button",
                {"type": "submit", "id": "submit", "class": "button"},
                (Slot(Kind.SUBMIT_LABEL),),
            ),
            *((_link(form.link),) if form.link is not None else ()),
        ),
    )


def _link(link: Link) -> Element:
    return Element(
        "p", {"class": "alternative"}, (f"{link.text} ", Element("a", {"href": link.path}, (link.label,)))
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
                (form.success.heading, Slot(Kind.ACCEPTED)),
            ),
            Element("p", {"class": "subtitle"}, (form.success.message,)),
        ),
    )
