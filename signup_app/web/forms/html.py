"""A form's pages rendered on the server, for browsers without JavaScript.

They come from the same element tree as the Reflex page (signup_app.web.forms.spec),
so a failed no-JS submit looks like the page the user came from.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from html import escape
from pathlib import Path

from signup_app.web.forms.declaration import Form
from signup_app.web.forms.spec import Element, Kind, Node, Slot, form_tree, success_tree

_STYLESHEET = Path(__file__).resolve().parents[3] / "assets" / "signup.css"
_VOID = frozenset({"input"})


@functools.cache
def inline_stylesheet() -> str:
    """The CSS each page inlines (its hash is in the pages' Content-Security-Policy)."""
    return _STYLESHEET.read_text()


class _Fill:
    """The slot values of one rendering."""

    def __init__(
        self,
        form: Form,
        errors: Mapping[str, str],
        values: Mapping[str, str],
        accepted: str | None = None,
    ) -> None:
        self.form = form
        self.errors = errors
        self.values = values
        self.accepted = accepted
        self.first_invalid = next((f.name for f in form.visible_fields if f.name in errors), None)

    def slot(self, slot: Slot) -> str | None:
        """The slot's text, or None to leave it (or the attribute) out."""
        name = slot.name
        match slot.kind:
            case Kind.VALUE:
                return "" if self.form.field(name).secret else self.values.get(name, "")
            case Kind.ERROR:
                return self.errors.get(name, "")
            case Kind.INVALID:
                return "true" if name in self.errors else "false"
            case Kind.FIRST_INVALID:
                return "" if name == self.first_invalid else None
            case Kind.SUBMIT_LABEL:
                return self.form.submit_label
            case Kind.ACCEPTED:
                return self.accepted


def _render(node: Node, fill: _Fill) -> str:
    if isinstance(node, str):
        return escape(node)
    if not isinstance(node, Element):
        return escape(fill.slot(node) or "")
    if node.when_error is not None and node.when_error not in fill.errors:
        return ""
    attrs = []
    for name, value in node.attrs.items():
        text = value if isinstance(value, str) else fill.slot(value)
        if text is None:
            continue
        boolean = isinstance(value, Slot) and value.kind is Kind.FIRST_INVALID
        attrs.append(f" {name}" if boolean else f' {name}="{escape(text)}"')
    opening = f"<{node.tag}{''.join(attrs)}>"
    if node.tag in _VOID:
        return opening
    return f"{opening}{''.join(_render(child, fill) for child in node.children)}</{node.tag}>"


def document(title: str, body: str) -> str:
    """A whole server-rendered page: the brand, then ``body``, with the inline stylesheet."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{inline_stylesheet()}</style></head>"
        f'<body><main class="page"><div class="brand">signup_app</div>{body}</main></body></html>'
    )


def form_page(
    form: Form, errors: Mapping[str, str], values: Mapping[str, str], hidden: Mapping[str, str]
) -> str:
    """The form with each field's error under it, refilled except for secret fields.

    Args:
        form: The declared form.
        errors: Field name (or "form") to message.
        values: What the user submitted.
        hidden: The values the server issues for the hidden fields.
    """
    tree = form_tree(form)
    attrs = {**tree.attrs, "method": "post", "action": form.path, "novalidate": ""}
    page = Element(tree.tag, attrs, tree.children)
    fill = _Fill(form, errors, {**values, **hidden})
    return document(f"{form.title} · signup_app", _render(page, fill))


def success_page(form: Form, name: str | None) -> str:
    """The confirmation a successful no-JS submit is redirected to."""
    tree = success_tree(form)
    heading, *rest = tree.children
    if not isinstance(heading, Element):
        raise TypeError("a success page starts with its heading element")
    if not name:  # no name to show: the heading's lead-in alone ("Welcome")
        heading = Element(heading.tag, heading.attrs, (form.success.heading.rstrip(", "),))
    body = _render(Element(tree.tag, tree.attrs, (heading, *rest)), _Fill(form, {}, {}, accepted=name))
    return document(f"{form.success.heading.rstrip(', ')} · signup_app", body)
