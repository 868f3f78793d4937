"""The server-rendered signup page used without JavaScript."""

from __future__ import annotations

from signup_app.web.forms.html import form_page
from signup_app.web.forms.signup import SIGNUP


def test_errors_are_shown_and_the_first_bad_field_is_focused() -> None:
    html = form_page(SIGNUP, {"email": "Bad email.", "password": "Too short."}, {"name": "Ada"}, {})
    assert '<p id="email-error" class="field-error">Bad email.</p>' in html
    assert 'id="email" name="email" type="email" autocomplete="email" value="" aria-invalid="true"' in html
    assert html.count(" autofocus") == 1 and 'aria-describedby="email-error" class="input" autofocus' in html
    assert 'value="Ada" aria-invalid="false"' in html


def test_values_are_escaped_and_the_password_is_never_echoed() -> None:
    html = form_page(SIGNUP, {"name": "<b>x</b>"}, {"name": '"><script>', "password": "Sentinel secret"}, {})
    assert "<script>" not in html and "<b>x</b>" not in html
    assert "Sentinel" not in html
    assert 'method="post" action="/signup"' in html


def test_the_form_error_is_shown_only_when_there_is_one() -> None:
    assert 'id="form-error"' not in form_page(SIGNUP, {}, {}, {})
    html = form_page(SIGNUP, {"form": "Down <now>."}, {}, {})
    assert '<p id="form-error" role="alert" class="form-error">Down &lt;now&gt;.</p>' in html


def test_hidden_fields_carry_the_issued_value() -> None:
    html = form_page(SIGNUP, {}, {"signup_key": "from-the-client"}, {"signup_key": "k" * 32})
    assert f'<input type="hidden" name="signup_key" value="{"k" * 32}">' in html
    assert "from-the-client" not in html
