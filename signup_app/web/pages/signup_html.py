"""The signup page rendered on the server, for browsers without JavaScript.

It mirrors the markup of signup_app.web.pages.signup (same ids, labels, classes and
messages) so a failed no-JS submit looks like the page the user came from.
"""

from __future__ import annotations

import functools
from html import escape
from pathlib import Path

from signup_app.accounts.validation import FORM, FieldErrors, help_texts

_STYLESHEET = Path(__file__).resolve().parents[3] / "assets" / "signup.css"
_FIELDS = (
    ("name", "Name", "text", "name"),
    ("email", "Email", "email", "email"),
    ("password", "Password", "password", "new-password"),
)


@functools.cache
def _css() -> str:
    return _STYLESHEET.read_text()


def inline_stylesheet() -> str:
    """The CSS each page inlines (its hash is in the pages' Content-Security-Policy)."""
    return _css()


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_css()}</style></head>"
        f'<body><main class="page"><div class="brand">signup_app</div>{body}</main></body></html>'
    )


def signup_form_page(action: str, errors: FieldErrors, values: dict[str, str], signup_key: str = "") -> str:
    """The form with each field's error under it; name and email refilled, never the password."""
    hints = help_texts()
    first_invalid = next((name for name, *_ in _FIELDS if name in errors), None)
    parts = [
        f'<form class="card" id="signup-form" method="post" action="{escape(action)}" novalidate>',
        '<h1 class="title">Create your account</h1>',
        '<p class="subtitle">It takes less than a minute.</p>',
    ]
    if FORM in errors:
        parts.append(f'<p id="form-error" role="alert" class="form-error">{escape(errors[FORM])}</p>')
    for name, label, input_type, autocomplete in _FIELDS:
        error = errors.get(name, "")
        hint = hints[name] if name == "password" else ""
        described_by = f"{name}-hint {name}-error" if hint else f"{name}-error"
        value = "" if name == "password" else values.get(name, "")
        parts.append(
            '<div class="field">'
            f'<label for="{name}" class="label">{label}</label>'
            f'<input id="{name}" name="{name}" type="{input_type}" autocomplete="{autocomplete}"'
            f' value="{escape(value)}" aria-invalid="{"true" if error else "false"}"'
            f' aria-describedby="{described_by}" class="input"{" autofocus" if name == first_invalid else ""}>'
            + (f'<p id="{name}-hint" class="hint">{escape(hint)}</p>' if hint else "")
            + f'<p id="{name}-error" class="field-error">{escape(error)}</p></div>'
        )
    parts.append(f'<input type="hidden" name="signup_key" value="{escape(signup_key)}">')
    parts.append('<button type="submit" id="submit" class="button">Create account</button></form>')
    return _document("Create your account · signup_app", "".join(parts))


def welcome_page(name: str | None) -> str:
    """The confirmation shown after a no-JS signup."""
    heading = f"Welcome, {escape(name)}" if name else "Welcome"
    return _document(
        "Welcome · signup_app",
        f'<section class="card" role="status"><h1 id="welcome" class="title">{heading}</h1>'
        '<p class="subtitle">Your account is ready.</p></section>',
    )
