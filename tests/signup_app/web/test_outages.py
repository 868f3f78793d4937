"""An event that fails because a service is down tells the user so; other failures keep Reflex's notice."""

from __future__ import annotations

import redis
from limits.errors import StorageError
from sqlalchemy.exc import OperationalError

from signup_app.accounts.outages import is_outage
from signup_app.accounts.registration import UNAVAILABLE
from signup_app.web.outages import backend_exception_handler


def raised_from(exc: BaseException, cause: BaseException) -> BaseException:
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def test_outages_are_recognised_through_the_cause_chain() -> None:
    assert is_outage(redis.exceptions.ConnectionError("down"))
    assert is_outage(OperationalError("SELECT 1", {}, Exception("refused")))
    assert is_outage(StorageError(RuntimeError("redis down")))
    assert is_outage(raised_from(RuntimeError("state fetch failed"), redis.exceptions.TimeoutError()))
    assert not is_outage(ValueError("bug"))


def test_the_handler_answers_an_outage_with_the_unavailable_message() -> None:
    spec = backend_exception_handler(redis.exceptions.ConnectionError("down"))
    assert UNAVAILABLE in str(spec)
    other = backend_exception_handler(ValueError("bug"))
    assert UNAVAILABLE not in str(other)
