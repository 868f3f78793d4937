"""The account page rendered on the server: the whole page without JavaScript.

Its markup (ids, classes, forms) is the Reflex page's (signup_app.web.pages.account),
so a browser sees the same page and the same buttons either way.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from signup_app.web import routes
from signup_app.web.forms.html import document


def long_date(moment: datetime) -> str:
    """A date as the page shows it: 1 December 2026."""
    return f"{moment.day} {moment:%B %Y}"


def date_time(moment: datetime) -> str:
    """A moment as the page shows it: 1 December 2026, 16:05 UTC."""
    return f"{long_date(moment)}, {moment:%H:%M} UTC"


def _button_form(action: str, label: str, form_id: str | None = None, **hidden: str) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items()
    )
    id_attr = f' id="{form_id}"' if form_id else ""
    return (
        f'<form{id_attr} method="post" action="{escape(action)}" class="inline-form">'
        f'{inputs}<button type="submit" class="link-button">{escape(label)}</button></form>'
    )


def account_body(
    name: str,
    email: str,
    created: str,
    rows: list[tuple[int, str, str, bool]],
    signout_url: str = routes.SIGNOUT,
) -> str:
    """The account card: details, sessions (id, device, last seen, current) and the sign-out buttons."""
    items = "".join(
        f'<li class="session"><span class="device">{escape(device)}</span>'
        f'<span class="seen">Last seen {escape(seen)}</span>'
        + (
            '<span class="current">This device</span>'
            if current
            else _button_form(signout_url, "Sign out", session=str(session_id))
        )
        + "</li>"
        for session_id, device, seen, current in rows
    )
    return (
        '<section id="account" class="card">'
        f'<h1 class="title">Your account</h1>'
        f'<dl class="details"><dt>Name</dt><dd id="account-name">{escape(name)}</dd>'
        f'<dt>Email</dt><dd id="account-email">{escape(email)}</dd>'
        f'<dt>Member since</dt><dd id="account-created">{escape(created)}</dd></dl>'
        f'<h2 class="section-title">Signed-in devices</h2><ul id="sessions" class="sessions">{items}</ul>'
        f"{_button_form(signout_url, 'Sign out of all other devices', 'signout-others', others='1')}"
        f"{_button_form(signout_url, 'Sign out', 'signout')}"
        "</section>"
    )


def account_page(body: str) -> str:
    """The whole server-rendered page around account_body."""
    return document("Your account · signup_app", body)
