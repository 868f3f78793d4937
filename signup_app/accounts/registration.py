"""register: the only way an account is created.

Every transport (the websocket event handler, the form POST, the JSON API and
the tests' fixtures) calls this one async function with the submitted fields.
"""

from __future__ import annotations

import hmac
import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import anyio.to_thread
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from signup_app import db
from signup_app.accounts.models import Account, signup_key_hash
from signup_app.accounts.outages import is_outage
from signup_app.accounts.passwords import HashingBusy, hash_password, reserve_hash_place, verify_password
from signup_app.accounts.rate_limits import signup_limiter, too_many_attempts
from signup_app.accounts.results import Accepted, ActionResult, Rejected, Throttled, Unavailable
from signup_app.accounts.validation import (
    FORM,
    SIGNUP_KEY,
    SignupInput,
    check_fields,
    check_strength,
    email_key,
)

logger = logging.getLogger(__name__)

EMAIL_TAKEN = "An account with this email address already exists."
# Shown by every transport when the action fails for a reason that is not the user's.
SERVER_ERROR = "Something went wrong on our side. Please try again."
# Shown when the database or Redis cannot be reached; nothing was written.
UNAVAILABLE = "The service is temporarily unavailable, please try again."
# How long a submission's key brings its account back when the submission is sent again.
SIGNUP_KEY_LIFETIME = timedelta(hours=24)


# Shown when more signups are hashing or waiting to hash than the server takes at once.
BUSY = "The service is busy right now. Please try again in a few seconds."

SignupResult = ActionResult[Account]


def _busy() -> Unavailable:
    # Spread over a few seconds, so refused clients do not all come back at the same moment.
    # passwords.py logs when shedding starts; one line per refused signup would flood the log.
    return Unavailable(BUSY, retry_after=random.randint(2, 5))  # noqa: S311


async def register(fields: Mapping[str, object], /, *, client_address: str | None = None) -> SignupResult:
    """Validate, rate-limit, hash and insert an account: the only way one is created.

    The hash and the database I/O run on a worker thread. A place among the hashes is
    taken before the hop, so overload is refused at once (costing no rate-limit hit)
    instead of queueing in the thread pool's backlog. Concurrent signups of one address
    are settled by the database's unique index on its email key. Attempts are limited per
    client address (when given) and per target email from that address, under a ceiling
    per email, before the costly checks, so a refused attempt costs no hash. A re-sent
    submission (same signup key, name, email and password, within SIGNUP_KEY_LIFETIME)
    gets the account it created. A service that cannot be reached gives Unavailable;
    any other error is a bug and is logged with its traceback.
    """
    try:
        place = reserve_hash_place()
    except HashingBusy:
        return _busy()
    started = False

    def run() -> SignupResult:
        nonlocal started
        started = True
        with place.held():
            return _register(fields, client_address)

    try:
        return await anyio.to_thread.run_sync(run)
    except HashingBusy:
        return _busy()
    except Exception as exc:
        if is_outage(exc):
            logger.warning("signup unavailable: %s", type(exc).__name__)
            return Unavailable(UNAVAILABLE, retry_after=5)
        logger.exception("signup failed")
        return Unavailable(SERVER_ERROR, retry_after=None)
    finally:
        if not started:  # cancelled before a thread took it
            place.release()


async def admit(client_address: str) -> Throttled | Unavailable | None:
    """Whether an address over its limit is refused before its submission is even read.

    Only looks at the count: ``register`` counts the attempt.
    """
    try:
        wait = await anyio.to_thread.run_sync(signup_limiter().address_wait, client_address)
    except Exception as exc:
        if not is_outage(exc):
            raise
        logger.warning("signup unavailable: %s", type(exc).__name__)
        return Unavailable(UNAVAILABLE, retry_after=5)
    return None if wait is None else Throttled({FORM: too_many_attempts(wait)}, retry_after=wait)


def _register(attrs: Mapping[str, object], client_address: str | None) -> SignupResult:
    limiter = signup_limiter()
    if client_address is not None and (wait := limiter.hit_address(client_address)):
        return Throttled({FORM: too_many_attempts(wait)}, retry_after=wait)
    cleaned, errors = check_fields(attrs)
    if "email" in cleaned and (wait := limiter.hit_email(cleaned["email"], client_address)):
        return Throttled({FORM: too_many_attempts(wait)}, retry_after=wait)
    if "password" in cleaned:
        errors |= check_strength(cleaned)
    if errors:
        return Rejected(errors)
    signup = SignupInput(name=cleaned["name"], email=cleaned["email"], password=cleaned["password"])
    key_hash = signup_key_hash(cleaned[SIGNUP_KEY]) if SIGNUP_KEY in cleaned else None
    password_hash = hash_password(signup.password)

    with db.session() as session:
        while True:
            account = Account(
                name=signup.name, email=signup.email, password_hash=password_hash, signup_key_hash=key_hash
            )
            session.add(account)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = session.exec(
                    select(Account).where(Account.email_key == email_key(signup.email))
                ).first()
                if existing is None and key_hash is not None:
                    # The key, not the address, is taken: a key sent again with another address.
                    # That is a new submission, made without idempotency.
                    key_hash = None
                    continue
                if existing is not None and _is_resend(existing, signup, key_hash):
                    # The same submission, sent again: it already created this account.
                    return _accepted(existing)
                return Rejected({"email": EMAIL_TAKEN})
            break
    logger.info("account created id=%s", account.id)
    return _accepted(account)


def _accepted(account: Account) -> Accepted[Account]:
    return Accepted(account, {"id": account.id, "name": account.name, "email": account.email})


def _is_resend(existing: Account, signup: SignupInput, key_hash: str | None) -> bool:
    """Whether a submission is the one that created ``existing``, sent again.

    Its key must match and be under SIGNUP_KEY_LIFETIME old, and everything it carries must be
    what was stored: the name and address as normalised, and a password that verifies. The reply
    then holds nothing the sender did not send (besides the id, which the first reply gave).
    """
    if key_hash is None or existing.signup_key_hash is None:
        return False
    if not hmac.compare_digest(existing.signup_key_hash, key_hash):
        return False
    created = existing.created_at
    if created.tzinfo is None:  # SQLite gives back naive UTC
        created = created.replace(tzinfo=UTC)
    if datetime.now(UTC) - created > SIGNUP_KEY_LIFETIME:
        return False
    # Verified whatever the name says, so the time taken tells nothing about the stored name.
    password_ok = verify_password(existing.password_hash, signup.password)
    return password_ok and existing.name == signup.name and existing.email == signup.email
