"""The sign-in form: email and password onto the sign_in action."""

from __future__ import annotations

from signup_app.accounts import sign_in
from signup_app.accounts.signin import admit_signin, check_signin_field
from signup_app.accounts.validation import email_validator, password_length_validator
from signup_app.web import routes
from signup_app.web.forms.declaration import Field, Form, Link, signed_in

SIGNIN = Form(
    name="signin",
    fields=(
        Field(
            "email",
            "Email",
            "email",
            "username",
            schema={"maxLength": email_validator.max_chars},
        ),
        Field(
            "password",
            "Password",
            "password",
            "current-password",
            secret=True,
            live=False,  # nothing to check but presence: the password stays in the browser until submit
            schema={"maxLength": 4 * password_length_validator.max_chars, "format": "password"},
        ),
    ),
    title="Sign in",
    subtitle="Welcome back.",
    submit_label="Sign in",
    pending_label="Signing in…",
    action=sign_in,
    admit=admit_signin,
    check_field=check_signin_field,
    success=signed_in("Welcome back, ", "Signing you in…", routes.ACCOUNT),
    # The page and the no-JS POST share /signin: a GET there is the page's.
    page=routes.SIGNIN,
    path=routes.SIGNIN,
    api_path=routes.SIGNIN_API,
    operation_id="signIn",
    summary="Sign in (sets the sign-in cookie)",
    link=Link("New here?", "Create an account", routes.HOME),
)
