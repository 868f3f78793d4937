"""register_account: the only way an account is created.

Every transport (the websocket event handler, the form POST, the JSON API and
the tests' fixtures) calls this one function with the submitted fields.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from signup_app import db
from signup_app.accounts.models import Account
from signup_app.accounts.passwords import hash_password
from signup_app.accounts.validation import FieldErrors, SignupInput, clean_signup

logger = logging.getLogger(__name__)

EMAIL_TAKEN = "An account with this email address already exists."
# Shown by every transport when the action fails for a reason that is not the user's.
SERVER_ERROR = "Something went wrong on our side. Please try again."


@dataclass(frozen=True, slots=True)
class Registered:
    """The account was created."""

    account: Account


@dataclass(frozen=True, slots=True)
class Rejected:
    """Nothing was created; ``errors`` maps each bad field (or "form") to its message."""

    errors: FieldErrors


RegistrationResult = Registered | Rejected


def register_account(attrs: Mapping[str, object]) -> RegistrationResult:
    """Validate, hash and insert an account.

    Blocking (password hash and database I/O): async callers run it in a thread.
    Concurrent signups of one address are settled by the database's unique index.
    """
    cleaned = clean_signup(attrs)
    if not isinstance(cleaned, SignupInput):
        return Rejected(cleaned)

    account = Account(name=cleaned.name, email=cleaned.email, password_hash=hash_password(cleaned.password))
    with db.session() as session:
        session.add(account)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return Rejected({"email": EMAIL_TAKEN})
    logger.info("account created id=%s", account.id)
    return Registered(account)
