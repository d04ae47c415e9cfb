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
    with harness.Emulator(latency_ms=5) as emulator:
        yield emulator


def test_harness_runs_and_writes_its_report(emu: harness.Emulator, tmp_path: Path) -> None:
    results = run_all(
        emu,
        sizes=[200],
        rtt_ms=5,
        concurrency=4,
        queries=3,
        stream_repeats=2,
        cpu_calls=2,
        peer_max=200,
    )
    results["meta"].update(date="today", machine="test", command="pytest")
    results["million"] = harness.bench_million(emu, 1500, concurrency=4)

    [row] = results["ingest"]
    assert row["written"] == row["stored"] == 200
    assert row["requests"] == row["http_requests"] == 2 + 1  # 2 embeddings, 1 write
    assert row["max_in_flight"] <= 4
    assert row["bytes_sent"] > row["write_bytes"] > 200 * 768 * 2
    assert row["lower_bound_s"] == pytest.approx(3 / 4 * 0.005)
    assert results["retrieval"][0]["langchain"]["p50_ms"] >= 10  # two 5 ms round trips
    assert results["bytes"]["share"] < 1
    assert results["streaming"]["raw_ms"] > 0
    assert results["million"]["written"] == results["million"]["consumed"] == 1500
    for peer in results["peers"]["ingest"]:
        assert peer["stored"] == 200

    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n")
    write_outputs(results, tmp_path / "results", readme=readme)
    markdown = (tmp_path / "results" / "latest.md").read_text()
    assert "| Target | Goal | Measured | Status |" in markdown
    assert (tmp_path / "results" / "latest.png").stat().st_size > 1000
    assert json.loads((tmp_path / "results" / "latest.json").read_text())["ingest"]
    assert report.README_START in readme.read_text()
    write_outputs(results, tmp_path / "results", readme=readme)  # replaces, not appends
    assert readme.read_text().count(report.README_START) == 1
