"""The server-rendered signup page used without JavaScript."""

from __future__ import annotations

from signup_app.web.pages.signup_html import signup_form_page, welcome_page


def test_errors_are_shown_and_the_first_bad_field_is_focused() -> None:
    html = signup_form_page("/signup", {"email": "Bad email.", "password": "Too short."}, {"name": "Ada"})
    assert '<p id="email-error" class="field-error">Bad email.</p>' in html
    assert 'id="email" name="email" type="email" autocomplete="email" value="" aria-invalid="true"' in html
    assert html.count(" autofocus") == 1 and 'aria-describedby="email-error" class="input" autofocus' in html
    assert 'value="Ada" aria-invalid="false"' in html


def test_values_are_escaped_and_the_password_is_never_echoed() -> None:
    html = signup_form_page(
        "/signup", {"name": "<b>x</b>"}, {"name": '"><script>', "password": "Sentinel secret"}
    )
    assert "<script>" not in html and "<b>x</b>" not in html
    assert "Sentinel" not in html
    assert 'method="post" action="/signup"' in html


def test_welcome_page_escapes_the_name() -> None:
    assert "Welcome, &lt;i&gt;Ada&lt;/i&gt;" in welcome_page("<i>Ada</i>")
    assert ">Welcome<" in welcome_page(None)
