"""The demo and the command line, run end to end on the local emulator."""

from __future__ import annotations

import io

import pytest
from typer.testing import CliRunner

from cloudflare_ai_app import demo
from cloudflare_ai_app.cli import app


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_corpus_passages_have_stable_ids_and_topics() -> None:
    first, second = demo.load_corpus(), demo.load_corpus()
    assert [p.id for p in first] == [p.id for p in second]
    assert len({p.id for p in first}) == len(first) > 10
    assert {p.metadata["topic"] for p in first} >= {"vectorize", "workers-ai", "ai-gateway"}


def test_demo_streams_a_grounded_answer_with_sources() -> None:
    out = io.StringIO()
    answer = demo.run(out=out)
    text = out.getvalue()
    assert "local emulator" in text
    assert "before you write the vectors" in answer  # the corpus sentence that answers it
    assert "Sources:" in text
    assert "vectorize-metadata-filters.md" in text.split("Sources:")[1]
    langchain = text.split("Answer (LangChain RAG chain, streamed):")[1]
    assert "before you write the vectors" in langchain.split("Sources:")[0]
    assert "vectorize-metadata-filters.md#3" in langchain.split("Sources:")[1]
    llama = text.split("Answer (LlamaIndex query engine, streamed):")[1]
    assert "before you write the vectors" in llama.split("Sources:")[0]
    assert "vectorize-metadata-filters.md#3" in llama.split("Sources:")[1]
    filtered = text.split("Filtered retrieval")[1]
    assert "ai-gateway.md" in filtered
    assert "vectorize" not in filtered.split(":", 1)[1].split("\n")[0].replace("ai-gateway", "")
    # what the run cost: every call of the three answers, priced per model
    cost = text.split("This run: ")[1]
    calls = int(cost.split(" Workers AI calls")[0])
    assert calls >= 9  # ingestion, then an embedding and an answer per way of asking
    lines = cost.splitlines()[1:]
    assert any(line.strip().startswith("@cf/baai/bge-base-en-v1.5:") for line in lines)
    assert any(line.strip().startswith("@cf/meta/") for line in lines)
    assert sum(int(line.split(": ")[1].split(" calls")[0]) for line in lines) == calls
    assert float(cost.split(" neurons")[0].rsplit(" ", 1)[1]) > 0


def test_cli_models_lists_the_table() -> None:
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    assert "@cf/baai/bge-base-en-v1.5" in result.output
    assert "768" in result.output


def test_cli_every_command_has_help() -> None:
    for command in (["--help"], ["serve", "--help"], ["demo", "--help"], ["models", "--help"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_cli_demo_without_the_frameworks_runs_the_core_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "langchain_core", None)  # as with only the cli extra
    monkeypatch.setenv("CLOUDFLARE_AI_LOCAL_DIR", "unused")
    result = CliRunner().invoke(app, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Answer (core client, streamed)" in result.output
    assert "Answer (LangChain" not in result.output
    assert "pip install 'cloudflare-ai[langchain,llama-index]'" in result.output
