"""How a form is declared: its fields, its texts, its action and its paths, in one place.

Everything else about a form (the Reflex component, the no-JS page, the payload
type, the JSON schema, the State and the routes) is derived from a ``Form``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from signup_app.accounts.results import ActionResult, Throttled, Unavailable
from signup_app.accounts.validation import PasswordFeedback


def new_hidden_value() -> str:
    """A fresh value for a hidden field (a form's idempotency key): 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


# One field's value in, the message the submit would give out (None when it would accept it).
FieldCheck = Callable[[str, object], str | None]
# A secret as typed and the form's other fields in, the strength meter's feedback out.
SecretRating = Callable[[str, Mapping[str, object]], PasswordFeedback]


class Action(Protocol):
    """An action's one async entry point: the submitted fields in, one result out."""

    def __call__(
        self, fields: Mapping[str, object], /, *, client_address: str | None = None
    ) -> Awaitable[ActionResult[object]]:
        """Run the action on the submitted fields, for a client address when one is known."""
        ...


class Admit(Protocol):
    """A check of the client address alone, made before a JSON body is read; None admits it."""

    def __call__(self, client_address: str, /) -> Awaitable[Throttled | Unavailable | None]:
        """Refuse the address (Throttled or Unavailable), or admit it (None)."""
        ...


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a form.

    Attributes:
        name: The input's name and id, and the key of its value and error.
        label: The visible label.
        input_type: The HTML input type.
        autocomplete: The HTML autocomplete token.
        help_text: A hint shown under the input ("" for none).
        secret: Never echoed back, never kept in state (a password).
        hidden: A hidden input whose value the server issues (an idempotency key).
        live: Validated on the server as the user leaves the field.
        meter: Shows a strength meter while typing.
        schema: JSON-schema keywords of the value (type string is implied).
        required: Whether the JSON schema lists it as required.
    """

    name: str
    label: str
    input_type: str = "text"
    autocomplete: str = "off"
    help_text: str = ""
    secret: bool = False
    hidden: bool = False
    live: bool = True
    meter: bool = False
    schema: Mapping[str, object] = field(default_factory=dict)
    required: bool = True


@dataclass(frozen=True, slots=True)
class Success:
    """What replaces the form once the action accepted it.

    Attributes:
        heading: The heading's text, followed by the accepted ``name_key`` value.
        message: The line under it.
        name_key: Which key of ``Accepted.public`` the heading names.
        path: The no-JS confirmation page a successful POST is redirected to.
        reply: The JSON reply's keys and their JSON types (``Accepted.public``).
        signs_in: Acceptance signs the user in (see ``signed_in``): ``Accepted.public["id"]`` is the
            account's id, and the transports start a sign-in session (the cookie).
    """

    heading: str
    message: str
    name_key: str
    path: str
    reply: Mapping[str, str] = field(default_factory=dict)
    signs_in: bool = False


def signed_in(heading: str, message: str, account_page: str) -> Success:
    """The success of a form that signs in: the account page, the account in the JSON reply."""
    return Success(
        heading,
        message,
        name_key="name",
        path=account_page,
        reply={"id": "integer", "name": "string", "email": "string"},
        signs_in=True,
    )


@dataclass(frozen=True, slots=True)
class Link:
    """A line under the form pointing to a related page ("Already have an account? Sign in")."""

    text: str
    label: str
    path: str


@dataclass(frozen=True, slots=True)
class Form:
    """A form, declared once.

    Attributes:
        name: A short identifier ("signup"): the form's id is ``{name}-form``.
        title: The page's heading.
        subtitle: The line under it.
        submit_label: The button's label.
        pending_label: The button's label while the action runs.
        fields: The inputs, in page order.
        action: The entry point every transport calls.
        path: Where the no-JS form posts.
        api_path: Where JSON clients post.
        success: What is shown once accepted.
        operation_id: The OpenAPI operationId and the payload schema's name stem.
        summary: The OpenAPI summary.
        admit: An optional address check the JSON route makes before reading the body.
        check_field: Checks one field as the submit would, for the ``live`` fields (None: no live checks).
        rate_secret: Rates the ``meter`` field while it is typed (None: no meter).
        link: A line under the form linking a related page (None: none).
        page: The path of the page showing the form (a GET of ``path`` is sent there; when the
            two are one path, GET is left to the page).
    """

    name: str
    title: str
    subtitle: str
    submit_label: str
    pending_label: str
    fields: tuple[Field, ...]
    action: Action
    path: str
    api_path: str
    success: Success
    operation_id: str
    summary: str
    admit: Admit | None = None
    check_field: FieldCheck | None = None
    rate_secret: SecretRating | None = None
    link: Link | None = None
    page: str = "/"

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"form {self.name!r} declares a field twice: {names}")

    @property
    def signs_in(self) -> bool:
        """Whether an accepted submit signs the user in (its success is ``signed_in``)."""
        return self.success.signs_in

    @property
    def dom_id(self) -> str:
        """The id of the <form> element."""
        return f"{self.name}-form"

    @property
    def visible_fields(self) -> tuple[Field, ...]:
        """The fields the user fills in."""
        return tuple(f for f in self.fields if not f.hidden)

    @property
    def hidden_fields(self) -> tuple[Field, ...]:
        """The fields the server issues."""
        return tuple(f for f in self.fields if f.hidden)

    def field(self, name: str) -> Field:
        """The field called ``name``; KeyError if the form has none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)
