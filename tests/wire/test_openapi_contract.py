"""The JSON route keeps the contract its OpenAPI document states: schemathesis against the prod server.

Three seeded, bounded runs: fuzzed bodies (positive and negative) with every response check and this
app's own oracle (a 201 only for what clean_signup accepts, a 422 with exactly its errors or
EMAIL_TAKEN); realistic valid signups, each a 201; and the CLI, which adds the coverage phase.
`positive_data_acceptance` is left out of the first and the last: the schema cannot state password
strength or a taken address, so schema-valid bodies are rightly answered 422, as the document says.
The schema is loaded from the running server: schemathesis.pytest.from_fixture fails on pytest 9.2.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import hypothesis
import hypothesis.strategies as st
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from signup_app.accounts.registration import EMAIL_TAKEN
from signup_app.accounts.validation import SignupInput, clean_signup
from signup_app.web import routes
from tests.harness.server import AppServer
from tests.harness.wire import JSON_TYPE, Accounts

pytestmark = pytest.mark.wire

OPENAPI_PATH = routes.OPENAPI
SEED = 20240601
MAX_EXAMPLES = 40
CLI_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def api_schema(app_server: AppServer) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({"base-url": app_server.url, "seed": SEED})
    return schemathesis.openapi.from_url(f"{app_server.url}{OPENAPI_PATH}", config=config)


def check_against_the_action(
    case: schemathesis.Case, response: schemathesis.Response, accounts: Accounts
) -> None:
    """A 201 or 422 says exactly what the app's own validation says about the body sent."""
    if response.status_code not in (201, 422):
        return
    cleaned = clean_signup(case.body)
    body = response.json()
    if response.status_code == 201:
        assert isinstance(cleaned, SignupInput), f"created from a body clean_signup rejects: {cleaned}"
        [account] = accounts.with_email(cleaned.email)
        assert body == {"id": account.id, "name": cleaned.name, "email": cleaned.email}
    elif isinstance(cleaned, SignupInput):
        assert body == {"errors": {"email": EMAIL_TAKEN}}
        assert len(accounts.with_email(cleaned.email)) == 1
    else:
        assert body == {"errors": cleaned}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_fuzzed_bodies_keep_the_contract(
    api_schema: schemathesis.BaseSchema, accounts: Accounts, mode: GenerationMode
) -> None:
    operation = api_schema["/api/signup"]["POST"]

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        hypothesis.event("status", response.status_code)  # see --hypothesis-show-statistics
        check_against_the_action(case, response, accounts)

    check()


WORDS = ("orbit", "lantern", "mosaic", "harbor", "cactus", "violet", "meadow", "quartz", "saddle", "tundra")
realistic_names = st.lists(
    st.text(st.characters(categories=["Lu", "Ll", "Lo"]), min_size=1, max_size=12), min_size=1, max_size=4
).map(" ".join)
realistic_locals = st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?", fullmatch=True)
realistic_domains = st.sampled_from(["example.com", "example.org", "mail.example.net"])
passphrases = st.lists(st.sampled_from(WORDS), min_size=4, max_size=6, unique=True).map(" ".join)


def test_realistic_signups_are_created(api_schema: schemathesis.BaseSchema, accounts: Accounts) -> None:
    operation = api_schema["/api/signup"]["POST"]

    @hypothesis.given(
        name=realistic_names, local=realistic_locals, domain=realistic_domains, password=passphrases
    )
    @hypothesis.settings(max_examples=15, deadline=None, derandomize=True, database=None)
    def check(name: str, local: str, domain: str, password: str) -> None:
        # A fresh address each call: hypothesis replays examples while shrinking.
        email = f"{local}.{uuid.uuid4().hex[:12]}@{domain}"
        case = operation.Case(body={"name": name, "email": email, "password": password}, media_type=JSON_TYPE)
        response = case.call_and_validate()  # positive_data_acceptance included
        assert response.status_code == 201, response.text
        check_against_the_action(case, response, accounts)

    check()


def test_schemathesis_run_finds_no_failure(app_server: AppServer, tmp_path: Path) -> None:
    """Every phase and check of the CLI (coverage included), seeded and deterministic."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{app_server.url}{OPENAPI_PATH}",
        "--phases=examples,coverage,fuzzing",
        "--checks=all",
        "--exclude-checks=positive_data_acceptance",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--generation-deterministic",
        "--workers=1",
        "--request-timeout=20",
        "--warnings=off",
        "--no-color",
    ]
    # The run's files (reports, caches) stay in tmp_path.
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
