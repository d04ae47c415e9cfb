"""Smoke test of the benchmark harness (benchmarks/) at tiny sizes: it runs end to end and
writes its report. The performance targets themselves are checked by the benchmark run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks import harness, report
from benchmarks.run import run_all, write_outputs

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[harness.Emulator]:
    with harness.Emulator(latency_ms=5, kind="bench") as server:
        yield server


@pytest.fixture(scope="module")
def emulator() -> Iterator[harness.Emulator]:
    with harness.Emulator(latency_ms=5) as full:
        yield full


def test_harness_runs_and_writes_its_report(
    emu: harness.Emulator, emulator: harness.Emulator, tmp_path: Path
) -> None:
    """The quick run: the benchmark server for the clients, the full emulator probed."""
    results = run_all(
        emu,
        sizes=[200],
        rtt_ms=5,
        concurrency=4,
        queries=3,
        stream_repeats=2,
        cpu_calls=2,
        peer_max=200,
        stream_docs=500,
        llama_embed_docs=100,
        emulator=emulator,
        probe_fill=200,
    )
    results["meta"].update(date="today", machine="test", command="pytest")
    results["million"] = harness.bench_million(emu, 1500, concurrency=4)

    [row] = results["ingest"]
    assert row["written"] == row["stored"] == 200
    assert row["requests"] == row["http_requests"]
    assert row["max_in_flight"] <= 4
    assert row["bytes_sent"] > row["write_bytes"] > 200 * 768 * 2
    assert row["server_handler_ms"] is not None
    paths = {r["path"]: r for r in results["frameworks"]}
    assert paths["langchain add_texts"]["stored"] == 200
    assert paths["llama-index from_documents"]["stored"] == 200
    assert paths["llama-index from_documents"]["splitter_s"] > 0
    assert results["stream"]["stored"] == 500
    assert results["retrieval"][0]["langchain"]["p50_ms"] >= 10  # two 5 ms round trips
    assert results["bytes"]["share"] < 1
    assert results["streaming"]["raw_ms"] > 0
    assert results["emulator"]["write_vectors_per_s"] > 0
    assert results["million"]["written"] == results["million"]["consumed"] == 1500
    for peer in results["peers"]["ingest"]:
        assert peer["stored"] == 200
    for embedded in results.get("llama_embeddings", []):
        assert embedded["embed_requests"] >= 1

    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n")
    write_outputs(results, tmp_path / "results", readme=readme)
    markdown = (tmp_path / "results" / "latest.md").read_text()
    assert "| Target | Goal | Measured | Status |" in markdown
    assert "Benchmark server's own time per request" in markdown
    assert (tmp_path / "results" / "latest.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results" / "latest.json").read_text())["ingest"]
    assert report.README_START in readme.read_text()
    write_outputs(results, tmp_path / "results", readme=readme)  # replaces, not appends
    assert readme.read_text().count(report.README_START) == 1


def test_server_counts_lines_and_ids_without_parsing_floats() -> None:
    """The benchmark server's id cutter: ids from each line's head, blank lines skipped."""
    from benchmarks.server import line_ids

    body = b'{"id":"a","values":[1,2]}\n\n{"id": "b", "values": [3, 4]}\n{"values":[1],"id":"c"}'
    ids, spans = line_ids(body)
    assert ids == [b"a", b"b", b"c"]
    assert len(spans) == 3
