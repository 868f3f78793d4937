"""One field at a time, as the form checks it live: the submit's messages, and the strength meter."""

from __future__ import annotations

import pytest

from signup_app.accounts.validation import (
    FIELDS,
    PasswordStrengthValidator,
    check_field,
    check_fields,
    check_strength,
    password_feedback,
    signup_password_feedback,
    user_inputs,
)

GOOD = {"name": "Ada Lovelace", "email": "ada@example.com", "password": "copper kettle rain ladder"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "Ada\nLovelace"),
        ("name", "x" * 101),
        ("name", 42),
        ("email", ""),
        ("email", "ada"),
        ("email", "ada@"),
        ("email", "a" * 250 + "@example.com"),
        ("email", ["ada@example.com"]),
        ("password", ""),
        ("password", "short"),
        ("password", "x" * 129),
        ("password", "fifteen chars\x00\x01"),
        ("password", None),
    ],
)
def test_a_field_gets_the_message_the_submit_gives(field: str, value: object) -> None:
    _, submit_errors = check_fields({**GOOD, field: value})
    message = check_field(field, value)
    assert message is not None
    assert message == submit_errors[field]


@pytest.mark.parametrize("field", FIELDS)
def test_a_good_field_passes(field: str) -> None:
    assert check_field(field, GOOD[field]) is None


def test_a_weak_but_long_password_passes_the_field_check() -> None:
    # Strength is the meter's job; on leaving the field only length and characters are checked.
    weak = "passwordpassword"
    assert check_field("password", weak) is None
    assert check_strength({"password": weak}) == {"password": PasswordStrengthValidator.common_message}


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(
        ValueError, match=r"Unknown field 'signup_key'; expected one of name, email, password"
    ):
        check_field("signup_key", "x")


def test_the_meter_explains_a_common_password() -> None:
    score, warning, suggestions, strong_enough = password_feedback("password123", [])
    assert score == 0
    assert not strong_enough
    # The submit's own message, so the meter and the submit never disagree.
    assert warning == PasswordStrengthValidator.common_message
    assert suggestions
    assert all(isinstance(text, str) and text for text in suggestions)


def test_the_meter_flags_a_password_made_of_the_users_details() -> None:
    """Though zxcvbn scores it 3, it is mostly the user's name: the submit refuses it, so does the meter."""
    password, typed = "adalovelace1815", {"name": "Ada Lovelace", "email": "ada.lovelace@example.com"}
    feedback = password_feedback(password, user_inputs(typed["name"], typed["email"]))
    assert (feedback.score, feedback.strong_enough) == (3, False)
    assert feedback.warning == PasswordStrengthValidator.personal_message
    assert check_strength({"password": password, **typed}) == {"password": feedback.warning}
    # The signup meter reads the name and email typed so far; a script's non-text values are left out.
    assert signup_password_feedback(password, {**typed, "name": " Ada Lovelace "}) == feedback
    assert signup_password_feedback(password, {}).strong_enough
    assert signup_password_feedback(password, {"name": ["Ada"], "email": 7}).strong_enough


def test_the_meter_judges_the_first_72_characters_like_the_submit() -> None:
    weak_start = "a" * 72
    assert password_feedback(weak_start + GOOD["password"], []) == password_feedback(weak_start, [])


@pytest.mark.parametrize("password", ["a", "correct horse", "Tr0ub4dour&3", GOOD["password"], "x" * 500])
def test_the_meter_agrees_with_the_submit(password: str) -> None:
    feedback = password_feedback(password, user_inputs(GOOD["name"], GOOD["email"]))
    refused = check_strength({**GOOD, "password": password})
    assert 0 <= feedback.score <= 4
    assert feedback.strong_enough == (not refused) == (feedback.score >= 3 and not feedback.warning)
    assert feedback.warning == refused.get("password", "")


def test_nothing_typed_scores_zero() -> None:
    assert password_feedback("", []) == (0, "", (), False)


def test_the_meter_normalises_like_the_submit() -> None:
    # NFKC: fullwidth letters are the same password as their ASCII forms.
    fullwidth = "ｐａｓｓｗｏｒｄ１２３"
    assert password_feedback(fullwidth, []) == password_feedback("password123", [])
