"""A form's typed payload and its JSON schema, derived from the declaration."""

from __future__ import annotations

from typing import Any, TypedDict

from signup_app.web.forms.declaration import Form


def payload_type(form: Form) -> type:
    """The TypedDict of what the form submits (unchecked: the action validates it)."""
    name = "".join(part.capitalize() for part in form.name.split("_")) + "Form"
    # total=False: a client may leave any field out; the action says which is missing.
    return TypedDict(name, {f.name: str for f in form.fields}, total=False)  # type: ignore[operator]


def schema_name(form: Form) -> str:
    """The form's payload schema's name among the OpenAPI components ("Signup")."""
    return "".join(part.capitalize() for part in form.operation_id.split("_"))


def json_schema(form: Form) -> dict[str, Any]:
    """The JSON schema of the form's JSON body: one string property per field."""
    return {
        "type": "object",
        "required": [f.name for f in form.fields if f.required],
        "additionalProperties": False,
        "properties": {f.name: {"type": "string", **f.schema} for f in form.fields},
    }


def reply_schema(form: Form) -> dict[str, Any]:
    """The JSON schema of what an accepted submit answers."""
    reply = form.success.reply
    return {
        "type": "object",
        "required": list(reply),
        "properties": {key: {"type": json_type} for key, json_type in reply.items()},
    }
