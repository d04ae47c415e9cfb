"""Every recorded cassette against Cloudflare's OpenAPI document, and free of secrets.

One test item per cassette file (id = its path under ``cassettes/``), so a failure names the
cassette and lists every violation in it. See ``openapi_check`` for what is checked and which
flaws of the 2024 document are handled.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .openapi_check import (
    CASSETTES_DIR,
    SPEC_PATH,
    OpenAPIChecker,
    SpecMissingError,
    default_checker,
    find_cassettes,
    load_cassette,
    secret_problems,
    secrets_from_env,
)

CASSETTES = find_cassettes(CASSETTES_DIR)


def _cassette_id(path: Path) -> str:
    return path.relative_to(CASSETTES_DIR).as_posix()


@pytest.fixture(scope="session")
def checker() -> OpenAPIChecker:
    try:
        return default_checker()
    except SpecMissingError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_reference_spec_is_present() -> None:
    # The document is part of the repository (tests/reference/): missing is a plain failure.
    if not SPEC_PATH.is_file():
        pytest.fail(f"{SPEC_PATH} is missing; see tests/reference/README.md", pytrace=False)


@pytest.mark.parametrize("cassette", CASSETTES, ids=[_cassette_id(p) for p in CASSETTES])
def test_cassette_matches_openapi(cassette: Path, checker: OpenAPIChecker) -> None:
    try:
        data = load_cassette(cassette)
    except (OSError, ValueError) as exc:
        pytest.fail(f"{_cassette_id(cassette)}: cannot read the cassette: {exc}", pytrace=False)
    report = checker.check_cassette(data)
    assert not report.violations, report.describe(_cassette_id(cassette))


def test_cassettes_hold_no_secrets() -> None:
    secrets = secrets_from_env(os.environ.get("CF_TEST_SECRETS"))
    problems = [
        f"{_cassette_id(path)}: {problem}"
        for path in CASSETTES
        for problem in secret_problems(path.read_text(encoding="utf-8"), secrets)
    ]
    assert not problems, "Secrets or real account ids in cassettes:\n  " + "\n  ".join(problems)
