"""The command line against a running emulator: index management and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cloudflare_ai.cli import app, main
from cloudflare_ai.local import LocalCloudflare


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as cf:
        yield cf


@pytest.fixture
def env(emulator: LocalCloudflare, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    return emulator.env


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.usefixtures("env")
def test_index_lifecycle_through_the_cli() -> None:
    created = run("index", "create", "cli-docs", "--model", "@cf/baai/bge-small-en-v1.5")
    assert "cli-docs: 384 dimensions, cosine" in created
    assert "cli-docs" in run("index", "list")
    run("index", "metadata", "create", "cli-docs", "topic")
    run("index", "metadata", "create", "cli-docs", "year", "--type", "number")
    listed = run("index", "metadata", "list", "cli-docs")
    assert "topic" in listed and "year" in listed
    info = run("index", "info", "cli-docs")
    assert "vectors:              0" in info
    assert "topic (String)" in info or "topic (string)" in info
    run("index", "metadata", "delete", "cli-docs", "year")
    assert "year" not in run("index", "metadata", "list", "cli-docs")
    assert "deleted cli-docs" in run("index", "delete", "cli-docs", "--yes")
    assert "cli-docs" not in run("index", "list")


@pytest.mark.usefixtures("env")
def test_errors_are_one_readable_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["cloudflare-ai", "index", "info", "no-such-index"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("cloudflare-ai: ")
    assert "HTTP 404" in err[0]
    assert "--debug" in err[1]
    assert "Traceback" not in "\n".join(err)


def test_missing_credentials_say_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "argv", ["cloudflare-ai", "index", "list"])
    with pytest.raises(SystemExit):
        main()
    assert "CLOUDFLARE_ACCOUNT_ID" in capsys.readouterr().err


@pytest.mark.usefixtures("env")
def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudflare_ai import NotFoundError

    monkeypatch.setattr(sys, "argv", ["cloudflare-ai", "--debug", "index", "info", "nope-index"])
    with pytest.raises(NotFoundError):
        main()
