"""register_account: the only way an account is created.

Every transport (the websocket event handler, the form POST, the JSON API and
the tests' fixtures) calls this one function with the submitted fields.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass

import anyio.to_thread
import sqlalchemy as sa
from limits.errors import StorageError
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import select

from signup_app import db
from signup_app.accounts.models import Account
from signup_app.accounts.passwords import HashingBusy, hash_password, reserve_hash_place
from signup_app.accounts.rate_limits import signup_limiter, too_many_attempts
from signup_app.accounts.validation import (
    FORM,
    SIGNUP_KEY,
    FieldErrors,
    SignupInput,
    check_fields,
    check_strength,
)

logger = logging.getLogger(__name__)

EMAIL_TAKEN = "An account with this email address already exists."
# Shown by every transport when the action fails for a reason that is not the user's.
SERVER_ERROR = "Something went wrong on our side. Please try again."
# Shown when the database or Redis cannot be reached; nothing was written.
UNAVAILABLE = "The service is temporarily unavailable, please try again."


# Shown when more signups are hashing or waiting to hash than the server takes at once.
BUSY = "The service is busy right now. Please try again in a few seconds."


class TemporarilyUnavailable(Exception):
    """The database or the rate-limit store could not be reached; nothing was written.

    Transports show ``message`` and send ``retry_after`` (seconds) where the protocol has it.
    """

    message = UNAVAILABLE
    retry_after = 5
    log_level = logging.WARNING


class Busy(TemporarilyUnavailable):
    """Too many signups are hashing or waiting to hash: refused at once, before any other work."""

    message = BUSY
    # passwords.py logs when shedding starts; one line per refused signup would flood the log.
    log_level = logging.DEBUG

    def __init__(self) -> None:
        super().__init__("busy")
        # Spread over a few seconds, so refused clients do not all come back at the same moment.
        self.retry_after = random.randint(2, 5)  # noqa: S311 (not a secret)


@dataclass(frozen=True, slots=True)
class Registered:
    """The account was created."""

    account: Account


@dataclass(frozen=True, slots=True)
class Rejected:
    """Nothing was created; ``errors`` maps each bad field (or "form") to its message.

    ``retry_after`` is set, in seconds, when the attempt was refused by a rate limit.
    """

    errors: FieldErrors
    retry_after: int | None = None


RegistrationResult = Registered | Rejected


async def register_account_in_thread(
    attrs: Mapping[str, object], *, client_address: str | None = None
) -> RegistrationResult:
    """register_account on a worker thread, for the transports' async handlers.

    A place among the hashes is taken before the hop, so that overload is refused at once
    (Busy, costing no rate-limit hit) instead of queueing in the thread pool's backlog.
    """
    try:
        place = reserve_hash_place()
    except HashingBusy as exc:
        raise Busy from exc
    started = False

    def run() -> RegistrationResult:
        nonlocal started
        started = True
        with place.held():
            return register_account(attrs, client_address=client_address)

    try:
        return await anyio.to_thread.run_sync(run)
    finally:
        if not started:  # cancelled before a thread took it
            place.release()


def register_account(attrs: Mapping[str, object], *, client_address: str | None = None) -> RegistrationResult:
    """Validate, rate-limit, hash and insert an account.

    Blocking (password hash and database I/O): async callers run it in a thread.
    Concurrent signups of one address are settled by the database's unique index.
    Attempts are limited per client address (when given) and per target email,
    before the costly checks, so a refused attempt costs no hash.
    """
    try:
        return _register(attrs, client_address)
    except HashingBusy as exc:
        raise Busy from exc
    except (OperationalError, InterfaceError, RedisError, StorageError) as exc:
        # The service could not be reached. Other database errors (a bad query, a
        # drifted schema) are bugs: they propagate and are logged with a traceback.
        raise TemporarilyUnavailable(type(exc).__name__) from exc


def _register(attrs: Mapping[str, object], client_address: str | None) -> RegistrationResult:
    limiter = signup_limiter()
    if client_address is not None and (wait := limiter.hit_address(client_address)):
        return Rejected({FORM: too_many_attempts(wait)}, retry_after=wait)
    cleaned, errors = check_fields(attrs)
    if "email" in cleaned and (wait := limiter.hit_email(cleaned["email"])):
        return Rejected({FORM: too_many_attempts(wait)}, retry_after=wait)
    if "password" in cleaned:
        errors |= check_strength(cleaned)
    if errors:
        return Rejected(errors)
    signup = SignupInput(name=cleaned["name"], email=cleaned["email"], password=cleaned["password"])
    signup_key = cleaned.get(SIGNUP_KEY)

    account = Account(
        name=signup.name,
        email=signup.email,
        password_hash=hash_password(signup.password),
        signup_key=signup_key,
    )
    with db.session() as session:
        session.add(account)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = session.exec(
                select(Account).where(sa.func.lower(Account.email) == signup.email.lower())
            ).first()
            if signup_key is not None and existing is not None and existing.signup_key == signup_key:
                # The same submission, sent again: it already created this account.
                return Registered(existing)
            return Rejected({"email": EMAIL_TAKEN})
    logger.info("account created id=%s", account.id)
    return Registered(account)
