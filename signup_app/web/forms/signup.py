"""The signup form: name, email and password onto the register action."""

from __future__ import annotations

from signup_app.accounts import admit, register
from signup_app.accounts.validation import (
    SIGNUP_KEY,
    check_field,
    email_validator,
    name_validator,
    password_length_validator,
    signup_password_feedback,
)
from signup_app.web import routes
from signup_app.web.forms.declaration import Field, Form, Link, signed_in

SIGNUP = Form(
    name="signup",
    title="Create your account",
    subtitle="It takes less than a minute.",
    submit_label="Create account",
    pending_label="Creating account…",
    fields=(
        Field(
            "name",
            "Name",
            "text",
            "name",
            schema={"minLength": 1, "maxLength": name_validator.max_chars},
        ),
        Field(
            "email",
            "Email",
            "email",
            "email",
            schema={"format": "email", "maxLength": email_validator.max_chars},
        ),
        Field(
            "password",
            "Password",
            "password",
            "new-password",
            help_text=password_length_validator.get_help_text(),
            secret=True,
            meter=True,
            schema={
                "minLength": password_length_validator.min_chars,
                "maxLength": password_length_validator.max_chars,
                "format": "password",
            },
        ),
        Field(
            SIGNUP_KEY,
            "Signup key",
            "hidden",
            hidden=True,
            live=False,
            required=False,
            schema={
                "pattern": "^[A-Za-z0-9_-]{16,64}$",
                "description": (
                    "Optional idempotency key: the same request (same name, email and password)"
                    " sent again within 24 hours returns the same account."
                ),
            },
        ),
    ),
    action=register,
    path=routes.SIGNUP_FORM,
    api_path=routes.SIGNUP_API,
    success=signed_in("Welcome, ", "Your account is ready. Signing you in…", routes.ACCOUNT),
    operation_id="signup",
    summary="Create an account",
    admit=admit,
    check_field=check_field,
    rate_secret=signup_password_feedback,
    link=Link("Already have an account?", "Sign in", routes.SIGNIN),
)
