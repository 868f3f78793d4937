"""The signup page: a form whose submit calls the register_account action."""

from __future__ import annotations

import reflex as rx
from reflex.vars.base import Var, VarData

from signup_app.accounts.validation import FORM, help_texts
from signup_app.web.transports import form_post
from signup_app.web.transports.websocket import SignupState

_HELP = help_texts()


class FocusAfterSubmit(rx.Fragment):
    """Moves focus where the result is: the welcome heading, or the first field marked invalid.

    Driven by state deltas alone (welcome_name, rejections); the server sends no script.
    """

    def add_imports(self) -> dict:
        return {"react": ["useEffect"]}

    def add_hooks(self) -> list[str | Var]:
        rejections, welcome_name = SignupState.rejections, SignupState.welcome_name
        return [
            Var(
                "useEffect(() => { "
                f"if ({welcome_name}) document.getElementById('welcome')?.focus(); "
                f"else if ({rejections} > 0) "
                "document.querySelector('#signup-form [aria-invalid=\"true\"]')?.focus(); "
                f"}}, [{rejections}, {welcome_name}]);",
                _var_data=VarData.merge(rejections._get_all_var_data(), welcome_name._get_all_var_data()),
            )
        ]


class SubmitButton(rx.el.Button):
    """A submit button that works with JavaScript off and waits for hydration with it on.

    The prerendered HTML has it enabled, so a browser without JavaScript can post
    the form. Once React has mounted (jsMounted), it stays disabled until the
    websocket has hydrated the page, and while the action runs.
    """

    def add_imports(self) -> dict:
        return {"react": ["useEffect", "useState"]}

    def add_hooks(self) -> list[str | Var]:
        return [
            "const [jsMounted, setJsMounted] = useState(false);",
            "useEffect(() => setJsMounted(true), []);",
        ]

    @classmethod
    def create(cls, *children: object, busy: Var[bool], **props: object) -> rx.Component:
        waiting = ~SignupState.is_hydrated | busy
        props["disabled"] = Var(f"(jsMounted && {waiting})", _var_data=waiting._get_all_var_data()).to(bool)
        return super().create(*children, **props)


def _field(
    name: str, label: str, input_type: str, autocomplete: str, hint: str | None = None
) -> rx.Component:
    error = SignupState.errors.get(name, "")
    invalid = error != ""
    described_by = f"{name}-hint {name}-error" if hint else f"{name}-error"
    return rx.el.div(
        rx.el.label(label, html_for=name, class_name="label"),
        rx.el.input(
            id=name,
            name=name,
            type=input_type,
            auto_complete=autocomplete,
            aria_invalid=rx.cond(invalid, "true", "false"),
            aria_describedby=described_by,
            class_name="input",
        ),
        rx.el.p(hint, id=f"{name}-hint", class_name="hint") if hint else rx.fragment(),
        rx.el.p(error, id=f"{name}-error", class_name="field-error"),
        class_name="field",
    )


def form_action() -> str:
    """Where the browser posts the form when JavaScript is off: the backend's form route.

    Relative when one port serves both (production); the backend's URL otherwise (dev).
    """
    config = rx.config.get_config()
    if config.frontend_port == config.backend_port:
        return form_post.PATH
    return config.api_url.rstrip("/") + form_post.PATH


def signup_form() -> rx.Component:
    """The form: the websocket handler with JavaScript, a plain POST to the form route without."""
    form_error = SignupState.errors.get(FORM, "")
    return rx.el.form(
        rx.el.h1("Create your account", class_name="title"),
        rx.el.p("It takes less than a minute.", class_name="subtitle"),
        rx.cond(
            form_error != "", rx.el.p(form_error, id="form-error", role="alert", class_name="form-error")
        ),
        _field("name", "Name", "text", "name"),
        _field("email", "Email", "email", "email"),
        _field("password", "Password", "password", "new-password", hint=_HELP["password"]),
        rx.el.input(type="hidden", name="signup_key", value=SignupState.signup_key),
        SubmitButton.create(
            rx.cond(SignupState.pending, "Creating account…", "Create account"),
            busy=SignupState.pending,
            type="submit",
            id="submit",
            aria_busy=rx.cond(SignupState.pending, "true", "false"),
            class_name="button",
        ),
        id="signup-form",
        method="post",
        action=form_action(),
        no_validate=True,
        on_submit=SignupState.submit,
        class_name="card",
    )


def welcome() -> rx.Component:
    """Shown in place of the form once the account exists."""
    return rx.el.section(
        rx.el.h1("Welcome, ", SignupState.welcome_name, id="welcome", tab_index=-1, class_name="title"),
        rx.el.p("Your account is ready.", class_name="subtitle"),
        class_name="card",
        role="status",
    )


def signup_page() -> rx.Component:
    """The whole page."""
    return rx.el.main(
        FocusAfterSubmit.create(),
        rx.el.div("signup_app", class_name="brand"),
        rx.cond(SignupState.welcome_name != "", welcome(), signup_form()),
        class_name="page",
    )
