"""Accounts: the model, password hashing, validation and the register_account action."""

from signup_app.accounts.models import Account
from signup_app.accounts.registration import Registered, RegistrationResult, Rejected, register_account

__all__ = ["Account", "Registered", "RegistrationResult", "Rejected", "register_account"]
