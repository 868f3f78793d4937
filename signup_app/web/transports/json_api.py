"""The JSON transport: a declared form's POST route for scripts and other clients, and the OpenAPI document.

A thin door onto the form's action: the same validation, the same messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from signup_app.accounts import Accepted, ActionResult, Rejected, Throttled
from signup_app.accounts.validation import FORM
from signup_app.web import routes as paths
from signup_app.web import signing_in
from signup_app.web.forms.declaration import Form
from signup_app.web.forms.schema import json_schema, reply_schema, schema_name
from signup_app.web.transports import http

MAX_BODY_BYTES = 16 * 1024

NOT_JSON = "Send the fields as application/json."
TOO_LARGE = f"The request body must be at most {MAX_BODY_BYTES // 1024} KB."
BAD_JSON = "The request body is not valid JSON."
TOO_DEEP = "The request body is nested too deeply. Send one JSON object of text fields."


def _errors(status: int, errors: dict[str, str], retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"errors": errors}, status_code=status, headers=headers)


async def render(
    form: Form, result: ActionResult[object], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The action's result as a response: 201 with what was made, or the errors.

    A form that signs in sets the sign-in cookie on its 201 (``headers``: the request's).
    """
    if isinstance(result, Accepted) and form.signs_in:
        try:
            return await signing_in.signed_in(  # type: ignore[return-value]
                result, headers or {}, JSONResponse(dict(result.public), status_code=201)
            )
        except signing_in.SessionUnavailableError as exc:
            result = exc.result
    if isinstance(result, Accepted):
        return JSONResponse(dict(result.public), status_code=201)
    if isinstance(result, Rejected):
        return _errors(422, result.errors)
    if isinstance(result, Throttled):
        return _errors(429, result.errors, result.retry_after)
    return _errors(503 if result.retry_after is not None else 500, {FORM: result.message}, result.retry_after)


def routes(form: Form) -> list[Route]:
    """The form's JSON route."""

    async def submit(request: Request) -> JSONResponse:
        if request.method != "POST":
            return JSONResponse({"errors": {FORM: "Use POST."}}, status_code=405, headers={"Allow": "POST"})
        if http.is_cross_site(request):
            return _errors(403, {FORM: http.CROSS_SITE})
        if http.media_type(request) != "application/json":
            return _errors(415, {FORM: NOT_JSON})
        # An address over its limit is refused before its body is read or parsed.
        if (
            form.admit is not None
            and (refused := await form.admit(http.request_address(request))) is not None
        ):
            return await render(form, refused)
        try:
            body = await http.read_body(request, MAX_BODY_BYTES)
        except http.BodyTooLargeError:
            return _errors(413, {FORM: TOO_LARGE})
        try:
            attrs = json.loads(body)
        except ValueError:  # invalid JSON, invalid UTF-8, or an integer over Python's digit limit
            return _errors(400, {FORM: BAD_JSON})
        except RecursionError:  # arrays or objects nested past the interpreter's recursion limit
            return _errors(400, {FORM: TOO_DEEP})
        result = await form.action(attrs, client_address=http.request_address(request))
        return await render(form, result, request.headers)

    submit.__doc__ = f"Run the {form.name} form's action on a JSON body."
    return [Route(form.api_path, submit, methods=http.ALL_METHODS)]


_SESSION_COOKIE = {
    "description": (
        "The sign-in cookie: a new session's token, HttpOnly, SameSite=Lax, Path=/"
        " (in production also Secure, named __Host-session). Send it back to be signed in."
    ),
    "schema": {"type": "string"},
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
    }


def _operation(form: Form) -> dict[str, Any]:
    name = schema_name(form)
    return {
        "post": {
            "operationId": form.operation_id,
            "summary": form.summary,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            },
            "responses": {
                "201": {
                    "description": "The action was accepted.",
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}Accepted"}}
                    },
                    **({"headers": {"Set-Cookie": _SESSION_COOKIE}} if form.signs_in else {}),
                },
                "400": _error_response("The body is not valid JSON, or is nested too deeply."),
                "403": _error_response("The request came from another site."),
                "413": _error_response(f"The body is over {MAX_BODY_BYTES} bytes."),
                "415": _error_response("The body is not application/json."),
                "422": _error_response("The submission was refused: errors says why, by field."),
                "429": _error_response("Too many attempts from this address, or at this email from it."),
                "503": _error_response("The service is busy or unavailable; see Retry-After."),
            },
        }
    }


def openapi_document(forms: Iterable[Form]) -> dict[str, Any]:
    """The OpenAPI document of the forms' JSON routes."""
    forms = tuple(forms)
    schemas: dict[str, Any] = {}
    for form in forms:
        schemas[schema_name(form)] = json_schema(form)
        schemas[f"{schema_name(form)}Accepted"] = reply_schema(form)
    schemas["Errors"] = {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "object",
                "description": 'Field name (or "form") to message.',
                "additionalProperties": {"type": "string"},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "signup_app", "version": "1.0.0"},
        "paths": {form.api_path: _operation(form) for form in forms},
        "components": {"schemas": schemas},
    }


def openapi_route(forms: Iterable[Form]) -> Route:
    """The route serving the forms' OpenAPI document."""
    document = openapi_document(forms)

    async def openapi(_request: Request) -> JSONResponse:
        """The OpenAPI document of the JSON routes."""
        return JSONResponse(document)

    return Route(paths.OPENAPI, openapi, methods=["GET"])
