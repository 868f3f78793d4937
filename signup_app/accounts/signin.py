"""sign_in: the only way a password is checked. Every transport calls this one async function.

Every refusal of the credentials says INCORRECT, and an unknown address pays the same
hash as a wrong password, so neither the reply nor its timing tells whether an account
exists. Attempts are limited per client address and per (account, address): no ceiling
spans addresses, so nobody elsewhere can lock the owner out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sqlmodel import select

from signup_app import db
from signup_app.accounts.models import Account
from signup_app.accounts.outages import admit_address, run_hashing
from signup_app.accounts.passwords import (
    hash_password,
    needs_rehash,
    normalize_password,
    verify_nothing,
    verify_password,
)
from signup_app.accounts.rate_limits import signin_limiter, too_many_attempts
from signup_app.accounts.results import Accepted, ActionResult, Rejected, Throttled, Unavailable
from signup_app.accounts.validation import (
    FORM,
    UNREADABLE_FORM,
    FieldError,
    FieldErrors,
    email_key,
    email_validator,
    password_length_validator,
)

SIGNIN_FIELDS: Final = ("email", "password")
INCORRECT: Final = "Email or password is incorrect."
ENTER_EMAIL: Final = "Enter your email address."
ENTER_PASSWORD: Final = "Enter your password."  # noqa: S105  (a message, not a password)

SignInResult = ActionResult[Account]


async def sign_in(fields: Mapping[str, object], /, *, client_address: str | None = None) -> SignInResult:
    """Check an email and password; Accepted with the account, or Rejected with INCORRECT.

    A hash made with older parameters is replaced by one with today's (the password is at hand).
    Starting the sign-in session is the transport's part: only it can set the cookie.
    """
    return await run_hashing("sign-in", lambda: _sign_in(fields, client_address))


async def admit_signin(client_address: str) -> Throttled | Unavailable | None:
    """Whether an address over its sign-in limit is refused before its submission is even read."""
    return await admit_address(signin_limiter(), client_address, "sign-in")


def check_signin_field(field: str, value: object) -> str | None:
    """The live check of a sign-in field: only whether it is filled in (nothing about accounts)."""
    if field not in SIGNIN_FIELDS:
        raise ValueError(f"Unknown field {field[:40]!r}; expected one of {', '.join(SIGNIN_FIELDS)}.")
    if value in (None, ""):
        return ENTER_EMAIL if field == "email" else ENTER_PASSWORD
    return None if isinstance(value, str) else f"{field.capitalize()} must be text."


def _read(attrs: object) -> tuple[str, str] | FieldErrors:
    """The submitted email and password as text, or the errors of a form that is not filled in."""
    if not isinstance(attrs, Mapping):
        return {FORM: UNREADABLE_FORM}
    unexpected = sorted(str(key)[:40] for key in attrs if key not in SIGNIN_FIELDS)
    if unexpected:
        return {FORM: f"Unexpected field: {', '.join(unexpected[:3])}."}
    errors = {
        name: message
        for name in SIGNIN_FIELDS
        if (message := check_signin_field(name, attrs.get(name))) is not None
    }
    if errors:
        return errors
    return str(attrs["email"]), str(attrs["password"])


def _account_for(email: str) -> Account | None:
    try:
        key = email_key(email_validator.validate(email))
    except FieldError:
        return None  # no account can have it
    with db.session() as session:
        return session.exec(select(Account).where(Account.email_key == key)).first()


def _sign_in(attrs: object, client_address: str | None) -> SignInResult:
    read = _read(attrs)
    if isinstance(read, dict):
        return Rejected(read)
    email, password = read
    limiter = signin_limiter()
    if client_address is not None and (wait := limiter.hit_address(client_address)):
        return Throttled({FORM: too_many_attempts(wait)}, retry_after=wait)
    if len(email) <= email_validator.max_chars and (wait := limiter.hit_email(email, client_address)):
        return Throttled({FORM: too_many_attempts(wait)}, retry_after=wait)
    if len(password) > 4 * password_length_validator.max_chars:
        return Rejected({FORM: INCORRECT})  # longer than any password: refused before hashing
    account = _account_for(email)
    if account is None:
        verify_nothing(password)
        return Rejected({FORM: INCORRECT})
    if not verify_password(account.password_hash, password):
        return Rejected({FORM: INCORRECT})
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(normalize_password(password))
        with db.session() as session:
            session.add(account)
            session.commit()
    return Accepted(account, {"id": account.id, "name": account.name, "email": account.email})
