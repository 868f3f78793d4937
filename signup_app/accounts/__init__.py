"""Accounts: the model, password hashing, validation and the register action."""

from signup_app.accounts.models import Account
from signup_app.accounts.registration import admit, register
from signup_app.accounts.results import Accepted, ActionResult, Rejected, Throttled, Unavailable

__all__ = ["Accepted", "Account", "ActionResult", "Rejected", "Throttled", "Unavailable", "admit", "register"]
