"""The validation table: what each field accepts, and the message for what it refuses."""

from __future__ import annotations

import math

import pytest

from signup_app.accounts.validation import (
    FORM,
    PasswordLengthValidator,
    PasswordStrengthValidator,
    SignupInput,
    clean_signup,
    email_key,
    help_texts,
)

GOOD = {"name": "Ada Lovelace", "email": "ada@example.com", "password": "copper kettle rain ladder"}
STRENGTH = PasswordStrengthValidator()


def errors_for(**changes: object) -> dict[str, str]:
    result = clean_signup({**GOOD, **changes})
    assert not isinstance(result, SignupInput), "expected a rejection"
    return result


def test_good_input_is_cleaned_a_long_password_kept_whole_and_the_repr_hides_it() -> None:
    password = "river stone " * 10 + "lamp"
    result = clean_signup({"name": "  Ade\u0301le  ", "email": "Ada@EXAMPLE.com ", "password": password})
    assert result == SignupInput(name="Ad\u00e9le", email="Ada@example.com", password=password)
    assert password not in repr(result)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter your name."),
        ("name", "   ", "Enter your name."),
        ("name", None, "Enter your name."),
        ("name", 42, "Name must be text."),
        ("name", ["Ada"], "Name must be text."),
        ("name", math.nan, "Name must be text."),
        ("name", True, "Name must be text."),
        ("name", "x" * 101, "Name must be at most 100 characters."),
        ("name", "x" * 900_000, "Name must be at most 100 characters."),
        ("name", "Ada\nLovelace", "Name can't contain line breaks or control characters."),
        ("name", "Ada\rLovelace", "Name can't contain line breaks or control characters."),
        ("name", "Ada\x00", "Name can't contain line breaks or control characters."),
        ("name", "Ada\u202eecalevol", "Name can't contain line breaks or control characters."),
        ("name", "Ada\ud800", "Name contains characters that are not valid text."),
        ("email", "", "Enter your email address."),
        ("email", 7, "Email address must be text."),
        ("email", "a" * 250 + "@example.com", "Email address must be at most 254 characters."),
        ("email", "x" * 900_000, "Email address must be at most 254 characters."),
        ("email", "ada\ud800@example.com", "Email address contains characters that are not valid text."),
        ("password", "", "Enter a password."),
        ("password", ["a"] * 20, "Password must be text."),
        ("password", "short one", "Password must be at least 15 characters (it has 9)."),
        ("password", "y" * 129, "Password must be at most 128 characters."),
        ("password", "y" * 900_000, "Password must be at most 128 characters."),
        ("password", "copper kettle\x00rain", "Password can't contain control characters."),
        ("password", "copper kettle\ud800 rain", "Password contains characters that are not valid text."),
        ("password", "passwordpassword", PasswordStrengthValidator.common_message),
        ("password", "qwertyuiopasdfghjkl", PasswordStrengthValidator.common_message),
        ("password", "ada lovelace ada lovelace", PasswordStrengthValidator.personal_message),
        ("password", "ada@example.com2024", PasswordStrengthValidator.personal_message),
    ],
)
def test_field_errors(field: str, value: object, message: str) -> None:
    assert errors_for(**{field: value}) == {field: message}


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada@exa mple.com",
        "a\nb@x.com",
    ],
)
def test_bad_email_syntax_is_explained_by_email_validator(email: str) -> None:
    message = errors_for(email=email)["email"]
    assert message and message.endswith(".")


def test_missing_fields_are_field_errors() -> None:
    assert clean_signup({}) == {
        "name": "Enter your name.",
        "email": "Enter your email address.",
        "password": "Enter a password.",
    }


@pytest.mark.parametrize("attrs", [None, "name=Ada", ["name", "Ada"], 3, math.nan])
def test_a_form_that_is_not_a_mapping_is_a_form_error(attrs: object) -> None:
    assert set(clean_signup(attrs)) == {FORM}  # type: ignore[arg-type]


def test_unexpected_fields_are_a_form_error() -> None:
    assert clean_signup({**GOOD, "is_admin": True}) == {FORM: "Unexpected field: is_admin."}


def test_password_length_counts_code_points_after_nfkc() -> None:
    validator = PasswordLengthValidator()
    # 15 code points, 45 bytes in UTF-8.
    assert len(validator.validate("漢字漢字漢字漢字漢字漢字漢字漢")) == 15
    # U+FB01 (the "fi" ligature) becomes two characters under NFKC: 14 + 1 -> 16.
    assert validator.validate("x" * 14 + "\ufb01") == "x" * 14 + "fi"
    with pytest.raises(ValueError, match="at least 15"):
        validator.validate("漢" * 14)


def test_strength_allows_unrelated_words_with_user_details_elsewhere() -> None:
    assert STRENGTH.validate("copper kettle rain ladder", user_inputs=["ada", "lovelace"])


def test_help_texts_cover_each_field() -> None:
    assert set(help_texts()) == {"name", "email", "password"}
    assert "15" in help_texts()["password"]


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("Ada@Example.com", "ada@example.com"),
        ("ÉMILE@example.com", "émile@example.com"),
        ("Straße@example.com", "strasse@example.com"),
        ("STRAẞE@example.com", "strasse@example.com"),
        ("ﬃ@example.com", "ffi@example.com"),
        ("Ｆｕｌｌ@example.com", "full@example.com"),
    ],
)
def test_email_key_is_nfkc_then_case_folded(email: str, key: str) -> None:
    assert email_key(email) == key
    assert email_key(key) == key
