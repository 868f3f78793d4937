"""A form's element tree rendered to Reflex components, its slots bound to the form's State."""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from reflex.vars.base import Var, VarData
from reflex_base.utils.imports import ImportDict

from signup_app.web.forms import live
from signup_app.web.forms.declaration import Form
from signup_app.web.forms.spec import Element, Kind, Node, Slot, form_tree, success_tree
from signup_app.web.transports.websocket import FormState, form_state

# HTML attribute names as Reflex's props spell them.
_PROPS = {
    "class": "class_name",
    "for": "html_for",
    "autocomplete": "auto_complete",
    "tabindex": "tab_index",
}


class Effect(rx.Fragment):
    """A React effect driven by state deltas alone (the server sends no script): see ``effect``."""

    _body: ClassVar[str]
    _deps: ClassVar[tuple[Var[Any], ...]]

    def add_imports(self) -> ImportDict:
        """React's useEffect, for the hook below."""
        return {"react": ["useEffect"]}

    def add_hooks(self) -> list[str | Var[Any]]:
        """Run the body whenever one of the vars changes."""
        deps = ", ".join(str(dep) for dep in self._deps)
        var_data = VarData.merge(*(dep._get_all_var_data() for dep in self._deps))  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]  (Reflex's way to carry a Var's imports)
        return [Var(f"useEffect(() => {{ {self._body} }}, [{deps}]);", _var_data=var_data)]


def effect(name: str, body: str, *deps: Var[Any]) -> rx.Component:
    """A component running ``body`` (JavaScript) in the page whenever one of ``deps`` changes."""
    namespace = {"__module__": __name__, "_body": body, "_deps": deps}
    return type(name, (Effect,), namespace).create()


def focus_after_submit(form: Form, state: type[FormState]) -> rx.Component:
    """Moves focus where the result is: the success heading, or the first field marked invalid."""
    rejections: Var[Any] = state.rejections  # pyright: ignore[reportAssignmentType]  (a Var on the class)
    welcome_name: Var[Any] = state.welcome_name  # pyright: ignore[reportAssignmentType]
    return effect(
        f"{state.__name__}Focus",
        f"if ({welcome_name}) document.getElementById('welcome')?.focus(); "
        f"else if ({rejections} > 0) "
        f"document.querySelector('#{form.dom_id} [aria-invalid=\"true\"]')?.focus();",
        rejections,
        welcome_name,
    )


def ticket_exchange(form: Form, url: str) -> rx.Component:
    """The hidden form posting a sign-in form's ticket to ``url``, submitted as soon as the tab has one.

    A websocket event cannot set an HttpOnly cookie: the server hands the tab a ticket
    (a state delta), and this form carries it, with the tab's token it is bound to, in a
    POST that answers with the cookie and a redirect. Nothing of it lands in the URL or
    in history.
    """
    state = form_state(form)
    ticket: Var[Any] = state.signin_ticket  # pyright: ignore[reportAssignmentType]  (a Var on the class)
    form_id = f"{form.name}-ticket"
    return rx.fragment(
        effect(
            f"{state.__name__}TicketExchange",
            f"if ({ticket}) document.getElementById('{form_id}')?.submit();",
            ticket,
        ),
        rx.el.form(
            rx.el.input(type="hidden", name="ticket", value=ticket),
            rx.el.input(type="hidden", name="tab", value=rx.State.router.session.client_token),
            id=form_id,
            method="post",
            action=url,
            hidden=True,
        ),
    )


class SubmitButton(rx.el.Button):
    """A submit button that works with JavaScript off and waits for hydration with it on.

    The prerendered HTML has it enabled, so a browser without JavaScript can post
    the form. Once React has mounted (jsMounted), it stays disabled until the
    websocket has hydrated the page, and while the action runs.
    """

    def add_imports(self) -> ImportDict:
        """React's useEffect and useState, for the hooks below."""
        return {"react": ["useEffect", "useState"]}

    def add_hooks(self) -> list[str | Var[Any]]:
        """Track whether React has mounted (jsMounted)."""
        return [
            "const [jsMounted, setJsMounted] = useState(false);",
            "useEffect(() => setJsMounted(true), []);",
        ]

    @classmethod
    def create(cls, *children: Any, state: type[FormState], **props: Any) -> rx.Component:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        """The button, disabled while the page hydrates and while the form's action runs."""
        hydrated: Var[Any] = state.is_hydrated  # pyright: ignore[reportAssignmentType]  (a Var on the class)
        pending: Var[Any] = state.pending  # pyright: ignore[reportAssignmentType]
        waiting = ~hydrated | pending
        var_data = waiting._get_all_var_data()  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
        props["disabled"] = Var(f"(jsMounted && {waiting})", _var_data=var_data).to(bool)
        props["aria_busy"] = rx.cond(state.pending, "true", "false")
        return super().create(*children, **props)


def _error(state: type[FormState], name: str) -> Var[str]:
    return state.errors.get(name, "")  # type: ignore[return-value]


def _slot(slot: Slot, form: Form, state: type[FormState]) -> Any:
    name = slot.name
    match slot.kind:
        case Kind.VALUE:
            # Hidden fields carry the State's value; visible inputs stay the browser's own.
            return getattr(state, name) if form.field(name).hidden else None
        case Kind.ERROR:
            return _error(state, name)
        case Kind.INVALID:
            return rx.cond(_error(state, name) != "", "true", "false")
        case Kind.FIRST_INVALID:
            return None  # focus_after_submit moves focus instead
        case Kind.SUBMIT_LABEL:
            return rx.cond(state.pending, form.pending_label, form.submit_label)
        case Kind.ACCEPTED:
            return state.welcome_name


def _render(node: Node, form: Form, state: type[FormState], **extra: Any) -> Any:
    if isinstance(node, str):
        return node
    if not isinstance(node, Element):
        return _slot(node, form, state)
    props: dict[str, Any] = {}
    for name, value in node.attrs.items():
        prop = value if isinstance(value, str) else _slot(value, form, state)
        if prop is not None:
            key = _PROPS.get(name, name.replace("-", "_"))
            props[key] = int(prop) if key == "tab_index" else prop  # type: ignore[arg-type]
    children = [_render(child, form, state) for child in node.children]
    props |= extra | live.render_props(form, state, node.tag, props.get("id"))
    if node.tag == "button":
        component = SubmitButton.create(*children, state=state, **props)
    else:
        component = getattr(rx.el, node.tag)(*children, **props)
    if (after := live.render_after(form, state, node.tag, props.get("id"))) is not None:
        component = rx.fragment(component, after)
    if node.when_error is not None:
        return rx.cond(_error(state, node.when_error) != "", component)
    return component


def form_component(form: Form, action_url: str) -> rx.Component:
    """The form: the websocket handler with JavaScript, a plain POST to ``action_url`` without."""
    state = form_state(form)
    return _render(  # type: ignore[return-value]
        form_tree(form),
        form,
        state,
        method="post",
        action=action_url,
        no_validate=True,
        on_submit=state.event_handlers["submit"],
    )


def form_page(form: Form, action_url: str, ticket_url: str | None = None) -> rx.Component:
    """The whole page: the form, replaced by the success view once accepted.

    A form that signs in also gets the hidden ticket exchange, posting to ``ticket_url``.
    """
    state = form_state(form)
    return rx.el.main(
        focus_after_submit(form, state),
        rx.el.div("signup_app", class_name="brand"),
        rx.cond(
            state.welcome_name != "",
            _render(success_tree(form), form, state),
            form_component(form, action_url),
        ),
        *([ticket_exchange(form, ticket_url)] if form.signs_in and ticket_url else []),
        class_name="page",
    )
