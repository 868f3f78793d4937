"""The JSON transport: POST /api/signup, for scripts and other clients.

A thin door onto register_account: the same validation, the same messages.
"""

from __future__ import annotations

import json
import logging

from limits.errors import StorageError
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from signup_app.accounts import Registered
from signup_app.accounts.rate_limits import signup_limiter, too_many_attempts
from signup_app.accounts.registration import (
    SERVER_ERROR,
    UNAVAILABLE,
    TemporarilyUnavailable,
    register_account_in_thread,
)
from signup_app.accounts.validation import FIELDS, FORM
from signup_app.web.transports.http import (
    ALL_METHODS,
    CROSS_SITE,
    BodyTooLarge,
    is_cross_site,
    media_type,
    read_body,
    request_address,
)

logger = logging.getLogger(__name__)

PATH = "/api/signup"
OPENAPI_PATH = "/api/openapi.json"
MAX_BODY_BYTES = 16 * 1024

NOT_JSON = "Send the fields as application/json."
TOO_LARGE = f"The request body must be at most {MAX_BODY_BYTES // 1024} KB."
BAD_JSON = "The request body is not valid JSON."
TOO_DEEP = "The request body is nested too deeply. Send one JSON object of text fields."


def _errors(status: int, errors: dict[str, str]) -> JSONResponse:
    return JSONResponse({"errors": errors}, status_code=status)


async def signup(request: Request) -> JSONResponse:
    """Create an account from a JSON body {"name", "email", "password"}."""
    if request.method != "POST":
        return JSONResponse({"errors": {FORM: "Use POST."}}, status_code=405, headers={"Allow": "POST"})
    if is_cross_site(request):
        return _errors(403, {FORM: CROSS_SITE})
    if media_type(request) != "application/json":
        return _errors(415, {FORM: NOT_JSON})
    # An address over its limit is refused before its body is read or parsed. This only
    # looks at the count; register_account counts the attempt.
    try:
        wait = await run_in_threadpool(signup_limiter().address_wait, request_address(request))
    except (RedisError, StorageError) as exc:
        logger.warning("signup unavailable: %s", type(exc).__name__)
        return JSONResponse({"errors": {FORM: UNAVAILABLE}}, status_code=503, headers={"Retry-After": "5"})
    if wait is not None:
        return JSONResponse(
            {"errors": {FORM: too_many_attempts(wait)}}, status_code=429, headers={"Retry-After": str(wait)}
        )
    try:
        body = await read_body(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        return _errors(413, {FORM: TOO_LARGE})
    try:
        attrs = json.loads(body)
    except ValueError:  # invalid JSON, invalid UTF-8, or an integer over Python's digit limit
        return _errors(400, {FORM: BAD_JSON})
    except RecursionError:  # arrays or objects nested past the interpreter's recursion limit
        return _errors(400, {FORM: TOO_DEEP})

    try:
        result = await register_account_in_thread(attrs, client_address=request_address(request))
    except TemporarilyUnavailable as exc:
        logger.log(exc.log_level, "signup unavailable: %s", exc)
        return JSONResponse(
            {"errors": {FORM: exc.message}}, status_code=503, headers={"Retry-After": str(exc.retry_after)}
        )
    except Exception:
        logger.exception("signup failed")
        return _errors(500, {FORM: SERVER_ERROR})
    if isinstance(result, Registered):
        account = result.account
        return JSONResponse({"id": account.id, "name": account.name, "email": account.email}, status_code=201)
    if result.retry_after is not None:
        return JSONResponse(
            {"errors": result.errors}, status_code=429, headers={"Retry-After": str(result.retry_after)}
        )
    return _errors(422, result.errors)


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
    }


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "signup_app", "version": "1.0.0"},
    "paths": {
        PATH: {
            "post": {
                "operationId": "signup",
                "summary": "Create an account",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Signup"}}},
                },
                "responses": {
                    "201": {
                        "description": "The account was created.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Account"}}},
                    },
                    "400": _error_response("The body is not valid JSON, or is nested too deeply."),
                    "403": _error_response("The request came from another site."),
                    "413": _error_response(f"The body is over {MAX_BODY_BYTES} bytes."),
                    "415": _error_response("The body is not application/json."),
                    "422": _error_response("A field is invalid, or the email address is taken."),
                    "429": _error_response("Too many attempts from this address or for this email."),
                    "503": _error_response("The service is busy or unavailable; see Retry-After."),
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Signup": {
                "type": "object",
                "required": list(FIELDS),
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "email": {"type": "string", "format": "email", "maxLength": 254},
                    "password": {"type": "string", "minLength": 15, "maxLength": 128, "format": "password"},
                    "signup_key": {
                        "type": "string",
                        "pattern": "^[A-Za-z0-9_-]{16,64}$",
                        "description": (
                            "Optional idempotency key: the same request (same name, email and password)"
                            " sent again within 24 hours returns the same account."
                        ),
                    },
                },
            },
            "Account": {
                "type": "object",
                "required": ["id", "name", "email"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                },
            },
            "Errors": {
                "type": "object",
                "required": ["errors"],
                "properties": {
                    "errors": {
                        "type": "object",
                        "description": 'Field name (or "form") to message.',
                        "additionalProperties": {"type": "string"},
                    }
                },
            },
        }
    },
}


async def openapi(_request: Request) -> JSONResponse:
    """The OpenAPI document of the JSON route."""
    return JSONResponse(OPENAPI)


routes = [Route(PATH, signup, methods=ALL_METHODS), Route(OPENAPI_PATH, openapi, methods=["GET"])]
