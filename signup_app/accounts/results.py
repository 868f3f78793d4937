"""What an action answers: one of four results, which every transport only renders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from signup_app.accounts.validation import FieldErrors

# Covariant: an action answering Accepted[Account] is an action answering Accepted[object].
T = TypeVar("T", covariant=True)


@dataclass(frozen=True, slots=True)
class Accepted(Generic[T]):
    """The action did what was asked.

    Attributes:
        value: What it made (e.g. the Account), for in-process callers.
        public: What a client may be shown of it (the JSON reply's body).
    """

    value: T
    public: Mapping[str, str | int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    """Nothing was done; ``errors`` maps each bad field (or "form") to its message."""

    errors: FieldErrors


@dataclass(frozen=True, slots=True)
class Throttled:
    """Refused by a rate limit before any costly work; try again after ``retry_after`` seconds."""

    errors: FieldErrors
    retry_after: int


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The action could not run; nothing was written.

    Attributes:
        message: What the user sees.
        retry_after: Seconds to wait (a service down or busy), or None when the fault is a bug.
    """

    message: str
    retry_after: int | None


ActionResult = Accepted[T] | Rejected | Throttled | Unavailable
