"""register: the only way an account is created.

Every transport (the websocket event handler, the form POST, the JSON API and
the tests' fixtures) calls this one async function with the submitted fields.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from signup_app import db
from signup_app.accounts.models import Account, signup_key_hash
from signup_app.accounts.outages import BUSY, SERVER_ERROR, UNAVAILABLE, admit_address, run_hashing
from signup_app.accounts.passwords import hash_password, verify_password
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
# How long a submission's key brings its account back when the submission is sent again.
SIGNUP_KEY_LIFETIME = timedelta(hours=24)
# The messages every action shares, for the transports' and the tests' use.
__all__ = ["BUSY", "EMAIL_TAKEN", "SERVER_ERROR", "UNAVAILABLE", "admit", "register"]

SignupResult = ActionResult[Account]


async def register(fields: Mapping[str, object], /, *, client_address: str | None = None) -> SignupResult:
    """Validate, rate-limit, hash and insert an account: the only way one is created.

    Runs on a worker thread under a place among the hashes (see outages.run_hashing).
    Concurrent signups of one address are settled by the database's unique index on its
    email key. Attempts are limited per client address (when given) and per target email
    from that address, under a ceiling per email, before the costly checks, so a refused
    attempt costs no hash. A re-sent submission (same signup key, name, email and password,
    within SIGNUP_KEY_LIFETIME) gets the account it created.
    """
    return await run_hashing("signup", lambda: _register(fields, client_address))


async def admit(client_address: str) -> Throttled | Unavailable | None:
    """Whether an address over its signup limit is refused before its submission is even read.

    Only looks at the count: ``register`` counts the attempt.
    """
    return await admit_address(signup_limiter(), client_address, "signup")


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
