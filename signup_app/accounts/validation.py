"""Validation of a signup's fields.

Each validator has ``validate()``, which returns the cleaned value or raises
``FieldError`` with the message the user sees, and ``get_help_text()``. Every
transport shows these messages as they are, so they are defined only here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn

from signup_app.accounts.passwords import normalize_password

FIELDS: Final = ("name", "email", "password")
# Optional: the form's idempotency key (see Account.signup_key_hash).
SIGNUP_KEY: Final = "signup_key"
# A signup key is 16 to 64 URL-safe characters (secrets.token_urlsafe(24) gives 32).
_SIGNUP_KEY_LENGTHS: Final = (16, 64)
# Words of a user's own details shorter than this are too common to count against a password.
_MIN_PERSONAL_WORD: Final = 3
_SIGNUP_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
UNREADABLE_FORM: Final = "The form could not be read. Reload the page and try again."
# Key of an error that belongs to the whole form rather than one field.
FORM: Final = "form"

FieldErrors = dict[str, str]

# Bidi overrides and isolates reorder how a name is displayed to others.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# zxcvbn's own input limit; longer passwords are judged by their first 72 characters.
_STRENGTH_CHECK_CHARS = 72
# zxcvbn score 3: at least 10^8 guesses.
_MIN_STRENGTH_SCORE = 3


class FieldError(ValueError):
    """A field's value is not acceptable; the message is shown to the user."""


def _require_text(value: object, *, missing: str, label: str, max_chars: int) -> str:
    """The value as a str that can hold valid text, or FieldError.

    Cheap checks come first, so an oversized value costs no more than its length.
    """
    if value is None or value == "":
        raise FieldError(missing)
    if not isinstance(value, str):
        raise FieldError(f"{label} must be text.")
    # Normalisation shrinks text by a small factor at most: anything this long is too long.
    if len(value) > 4 * max_chars:
        raise FieldError(f"{label} must be at most {max_chars} characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError(f"{label} contains characters that are not valid text.") from None
    return value


def email_key(email: str) -> str:
    """The form under which two (normalised) addresses are the same account: NFKC, then case-folded.

    The one place this is computed: the unique index, every lookup and the rate limits use it.
    """
    return unicodedata.normalize("NFKC", email).casefold()


class NameValidator:
    """A display name: trimmed, NFC, 1-100 characters, no control characters."""

    max_chars: Final = 100

    def validate(self, value: object) -> str:
        """The cleaned value; raises FieldError with the message the user sees."""
        text = _require_text(value, missing="Enter your name.", label="Name", max_chars=self.max_chars)
        name = unicodedata.normalize("NFC", text).strip()
        if not name:
            raise FieldError("Enter your name.")
        if len(name) > self.max_chars:
            raise FieldError(f"Name must be at most {self.max_chars} characters.")
        if any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in name):
            raise FieldError("Name can't contain line breaks or control characters.")
        return name

    def get_help_text(self) -> str:
        """What the field expects, for a hint beside the input."""
        return f"Your name, up to {self.max_chars} characters."


class EmailValidator:
    """An address checked and normalised by email-validator, without DNS lookups."""

    max_chars: Final = 254

    def validate(self, value: object) -> str:
        """The cleaned value; raises FieldError with the message the user sees."""
        text = _require_text(
            value, missing="Enter your email address.", label="Email address", max_chars=self.max_chars
        ).strip()
        if len(text) > self.max_chars:
            raise FieldError(f"Email address must be at most {self.max_chars} characters.")
        try:
            email = validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise FieldError(str(exc)) from None
        # The key can be longer than the address (NFKC expands some characters up to 18-fold).
        if len(email) > self.max_chars or len(email_key(email)) > self.max_chars:
            raise FieldError(f"Email address must be at most {self.max_chars} characters.")
        return email

    def get_help_text(self) -> str:
        """What the field expects, for a hint beside the input."""
        return "An address where you can receive email."


class PasswordLengthValidator:
    """15 to 128 characters, counted in code points as typed and after NFKC, never truncated."""

    min_chars: Final = 15
    max_chars: Final = 128

    def validate(self, value: object) -> str:
        """The cleaned value; raises FieldError with the message the user sees."""
        text = _require_text(value, missing="Enter a password.", label="Password", max_chars=self.max_chars)
        password = normalize_password(text)
        # Both as typed and after NFKC, so the JSON schema's minLength/maxLength (which count the
        # characters sent) never accept what the server refuses, nor the other way round.
        shortest, longest = sorted((len(text), len(password)))
        if shortest < self.min_chars:
            raise FieldError(f"Password must be at least {self.min_chars} characters (it has {shortest}).")
        if longest > self.max_chars:
            raise FieldError(f"Password must be at most {self.max_chars} characters.")
        if any(unicodedata.category(ch) == "Cc" for ch in password):
            raise FieldError("Password can't contain control characters.")
        return password

    def get_help_text(self) -> str:
        """What the field expects, for a hint beside the input."""
        return f"At least {self.min_chars} characters. Any characters, spaces included."


class PasswordStrengthValidator:
    """Not a common password, and not built from the user's own name or email."""

    personal_message: Final = "Password is too close to your name or email address."
    common_message: Final = "Password is too common or easy to guess. Try a few unrelated words."

    def validate(self, password: str, *, user_inputs: list[str]) -> str:
        """The cleaned value; raises FieldError with the message the user sees."""
        refusal = self.judge(_strength_result(password, user_inputs), password)
        if refusal:
            raise FieldError(refusal)
        return password

    def judge(self, result: Mapping[str, Any], password: str) -> str | None:
        """The refusal message for a zxcvbn result of this password, or None if it is strong enough."""
        sample = password[:_STRENGTH_CHECK_CHARS]
        personal_chars = sum(
            len(match["token"])
            for match in result["sequence"]
            if match.get("dictionary_name") == "user_inputs"
        )
        if personal_chars and (2 * personal_chars >= len(sample) or result["score"] < _MIN_STRENGTH_SCORE):
            return self.personal_message
        if result["score"] < _MIN_STRENGTH_SCORE:
            return self.common_message
        return None

    def get_help_text(self) -> str:
        """What the field expects, for a hint beside the input."""
        return "Not a common password, and not made from your name or email address."


def _strength_result(password: str, user_inputs: Sequence[str]) -> Mapping[str, Any]:
    """The zxcvbn verdict on the password's first 72 characters."""
    sample = password[:_STRENGTH_CHECK_CHARS]
    return zxcvbn(sample, user_inputs=list(user_inputs), max_length=_STRENGTH_CHECK_CHARS)


def user_inputs(name: str | None, email: str | None) -> list[str]:
    """The words of a user's own details that their password should not be built from.

    Args:
        name: The name as typed (or None).
        email: The address as typed (or None).

    Returns:
        The lower-cased words of three characters or more, for zxcvbn's user_inputs.
    """
    words: list[str] = []
    if name:
        words += [name, *name.split()]
    if email:
        local, _, domain = email.partition("@")
        words += [email, local, domain, domain.split(".")[0]]
    return [w.lower() for w in words if len(w) >= _MIN_PERSONAL_WORD]


@dataclass(frozen=True, slots=True)
class SignupInput:
    """A signup's fields, validated and normalised."""

    name: str
    email: str
    password: str

    def __repr__(self) -> str:
        return f"SignupInput(name={self.name!r}, email={self.email!r}, password='***')"


name_validator = NameValidator()
email_validator = EmailValidator()
password_length_validator = PasswordLengthValidator()
password_strength_validator = PasswordStrengthValidator()
# Each field's cheap check, in the form's order: the submit and the live check both use these.
_FIELD_VALIDATORS: Final[Mapping[str, Callable[[object], str]]] = {
    "name": name_validator.validate,
    "email": email_validator.validate,
    "password": password_length_validator.validate,
}


def check_fields(attrs: object) -> tuple[dict[str, str], FieldErrors]:
    """The cheap checks: shape, types, lengths, email syntax. Returns clean values and errors."""
    if not isinstance(attrs, Mapping):
        return {}, {FORM: UNREADABLE_FORM}
    unexpected = sorted(str(key)[:40] for key in attrs if key not in FIELDS and key != SIGNUP_KEY)
    if unexpected:
        return {}, {FORM: f"Unexpected field: {', '.join(unexpected[:3])}."}

    errors: FieldErrors = {}
    cleaned: dict[str, str] = {}
    for field, validate in _FIELD_VALIDATORS.items():
        try:
            cleaned[field] = validate(attrs.get(field))
        except FieldError as exc:
            errors[field] = str(exc)
    key = attrs.get(SIGNUP_KEY)
    if key not in (None, ""):
        if (
            not isinstance(key, str)
            or not _SIGNUP_KEY_LENGTHS[0] <= len(key) <= _SIGNUP_KEY_LENGTHS[1]
            or not _SIGNUP_KEY_CHARS.issuperset(key)
        ):
            return {}, {FORM: UNREADABLE_FORM}
        cleaned[SIGNUP_KEY] = key
    return cleaned, errors


def check_strength(cleaned: dict[str, str]) -> FieldErrors:
    """The costly check (a few ms of zxcvbn): the password against guessing and the user's details."""
    try:
        password_strength_validator.validate(
            cleaned["password"], user_inputs=user_inputs(cleaned.get("name"), cleaned.get("email"))
        )
    except FieldError as exc:
        return {"password": str(exc)}
    return {}


def clean_signup(attrs: object) -> SignupInput | FieldErrors:
    """Validate a submitted form; returns the clean input, or every field's error."""
    cleaned, errors = check_fields(attrs)
    if "password" in cleaned:
        errors |= check_strength(cleaned)
    if errors:
        return errors
    return SignupInput(name=cleaned["name"], email=cleaned["email"], password=cleaned["password"])


def help_texts() -> dict[str, str]:
    """What each field expects, for hints beside the inputs."""
    return {
        "name": name_validator.get_help_text(),
        "email": email_validator.get_help_text(),
        "password": password_length_validator.get_help_text(),
    }


def check_field(field: str, value: object) -> str | None:
    """Check one field as the submit would, for validation while the form is filled in.

    The same validators and messages as ``check_fields``: name, email syntax (no
    lookup, so nothing tells whether an address is registered) and the password's
    length and characters. The password's strength is the meter's (``password_feedback``).

    Args:
        field: One of FIELDS.
        value: The value as typed.

    Returns:
        The message the submit would give for this field, or None if it would accept it.

    Raises:
        ValueError: ``field`` is not one of FIELDS.
    """
    validator = _FIELD_VALIDATORS.get(field)
    if validator is None:
        raise ValueError(f"Unknown field {field[:40]!r}; expected one of {', '.join(FIELDS)}.")
    try:
        validator(value)
    except FieldError as exc:
        return str(exc)
    return None


class PasswordFeedback(NamedTuple):
    """What the strength meter shows: zxcvbn's score, a warning and suggestions."""

    score: int
    """0 (guessed at once) to 4 (very unlikely to be guessed); the submit needs 3."""
    warning: str
    """The submit's refusal message when it would refuse the password, else zxcvbn's warning ("" if none)."""
    suggestions: tuple[str, ...]
    """zxcvbn's suggestions for a stronger password."""
    strong_enough: bool
    """Whether the submit's strength check would accept it (a score of 3 can still be too personal)."""


def password_feedback(password: str, user_inputs: Sequence[str]) -> PasswordFeedback:
    """Rate a password for the strength meter, as the submit's strength check would.

    Judged on the first 72 characters, like the submit. When the submit would
    refuse the password, the warning is the submit's own message.

    Args:
        password: The password as typed (NFKC-normalised here, as the submit does).
        user_inputs: The user's own words (see ``user_inputs``).

    Returns:
        The score (0-4), a warning ("" if none), suggestions, and the submit's verdict.
    """
    password = normalize_password(password)
    if not password:  # zxcvbn fails on ""; nothing typed yet is simply score 0
        return PasswordFeedback(score=0, warning="", suggestions=(), strong_enough=False)
    result = _strength_result(password, user_inputs)
    feedback = result["feedback"]
    refusal = password_strength_validator.judge(result, password)
    return PasswordFeedback(
        score=int(result["score"]),
        warning=refusal or str(feedback.get("warning") or ""),
        suggestions=tuple(str(text) for text in feedback.get("suggestions") or ()),
        strong_enough=refusal is None,
    )


def signup_password_feedback(password: str, fields: Mapping[str, object]) -> PasswordFeedback:
    """The meter's feedback on a signup password, judged against the name and email typed so far.

    Args:
        password: The password as typed.
        fields: The form's other fields as typed (non-text values are ignored).

    Returns:
        The password's feedback, as ``password_feedback``.
    """
    name, email = fields.get("name"), fields.get("email")
    return password_feedback(
        password,
        user_inputs(
            name.strip() if isinstance(name, str) else None,
            email.strip() if isinstance(email, str) else None,
        ),
    )
