"""The production settings check names every missing or unsafe setting."""

from __future__ import annotations

from signup_app.production import problems

GOOD = {
    "REFLEX_DB_URL": "postgresql+psycopg://app@db/signup",
    "REFLEX_REDIS_URL": "redis://cache:6379/0",
    "REFLEX_CORS_ALLOWED_ORIGINS": "https://signup.example.com",
}


def test_a_complete_configuration_passes() -> None:
    assert problems(GOOD) == []
    assert problems({**GOOD, "GRANIAN_WORKERS": "4"}) == []


def test_each_problem_names_its_variable() -> None:
    cases = {
        "REFLEX_DB_URL": {**GOOD, "REFLEX_DB_URL": ""},
        "REFLEX_REDIS_URL": {k: v for k, v in GOOD.items() if k != "REFLEX_REDIS_URL"},
        "REFLEX_CORS_ALLOWED_ORIGINS": {**GOOD, "REFLEX_CORS_ALLOWED_ORIGINS": "https://a.example, *"},
        "GRANIAN_WORKERS": {**GOOD, "GRANIAN_WORKERS": "1"},
    }
    for variable, env in cases.items():
        [problem] = problems(env)
        assert problem.startswith(variable), problem
    assert "psycopg" in problems({**GOOD, "REFLEX_DB_URL": "sqlite:///x.db"})[0]
    assert len(problems({})) == 3
