"""Accounts: the model, password hashing, validation, and the register and sign_in actions."""

from signup_app.accounts import sessions
from signup_app.accounts.models import Account
from signup_app.accounts.registration import admit, register
from signup_app.accounts.results import Accepted, ActionResult, Rejected, Throttled, Unavailable
from signup_app.accounts.signin import sign_in

__all__ = [
    "Accepted",
    "Account",
    "ActionResult",
    "Rejected",
    "Throttled",
    "Unavailable",
    "admit",
    "register",
    "sessions",
    "sign_in",
]
