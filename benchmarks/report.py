# ruff: noqa: RUF001, RUF002  (the report writes the multiplication sign)
"""Targets, the Markdown report, the PNG chart and the README section, from a results dict."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

README_START = "<!-- bench:results:start -->"
README_END = "<!-- bench:results:end -->"


@dataclass(frozen=True)
class Row:
    target: str
    goal: str
    measured: str
    ok: bool | None  # None: not measured in this run

    @property
    def status(self) -> str:
        return {True: "✅ met", False: "❌ missed", None: "— not run"}[self.ok]


def _by_size(rows: list[dict[str, Any]], n: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["documents"] == n), None)


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def _n(n: int) -> str:
    return f"{n:,}"


def targets(results: dict[str, Any]) -> list[Row]:
    """Every target of the performance issue, with the measured value."""
    ingest = results.get("ingest", [])
    rows: list[Row] = []
    for n, limit in ((2000, 0.6), (10_000, 2.0)):
        row = _by_size(ingest, n)
        rows.append(
            Row(
                f"{_n(n)} documents embedded and stored",
                f"≤ {limit} s",
                f"{_s(row['wall_s'])} (lower bound {_s(row['lower_bound_s'])})" if row else "—",
                row["wall_s"] <= limit if row else None,
            )
        )
    peer_rows = [p for p in results.get("peers", {}).get("ingest", [])]
    cloudflare = [p for p in peer_rows if p["peer"] == "langchain-cloudflare"]
    ratios = []
    for peer in cloudflare:
        ours = _by_size(ingest, peer["documents"])
        if ours:
            ratios.append((peer["documents"], peer["wall_s"] / ours["wall_s"]))
    rows.append(
        Row(
            "Ingestion vs langchain-cloudflare (same workload, same server)",
            "≥ 20× faster",
            ", ".join(f"{r:.1f}× at {_n(n)}" for n, r in ratios) or "not installed",
            min(r for _, r in ratios) >= 20 if ratios else None,
        )
    )
    for row in ingest:
        rows.append(
            Row(
                f"{_n(row['documents'])} documents vs lower bound",
                "≤ 1.5×",
                f"{row['vs_lower_bound']:.2f}× ({_s(row['wall_s'])} vs {row['requests']} req ÷ "
                f"{row['concurrency']} × RTT = {_s(row['lower_bound_s'])})",
                row["vs_lower_bound"] <= 1.5,
            )
        )
    retrieval = results.get("retrieval", [])
    for search in retrieval:
        for name, label in (("langchain", "LangChain similarity_search"), ("core", "core")):
            summary = search[name]
            rows.append(
                Row(
                    f"Retrieval p50, {label}, {_n(search['vectors'])} vectors",
                    f"≤ 1.15 × 2 RTT = {1.15 * search['two_rtt_ms']:.0f} ms",
                    f"{summary['p50_ms']:.1f} ms = {summary['vs_two_rtt']:.3f}× "
                    f"(p95 {summary['p95_ms']:.1f} ms)",
                    summary["vs_two_rtt"] <= 1.15,
                )
            )
    if not retrieval:
        rows.append(Row("Retrieval p50", "≤ 1.15 × 2 RTT", "—", None))
    million = results.get("million")
    if million:
        scaled = million["documents"] < 1_000_000
        peak = max(million["peak_rss_mb"], million.get("peak_hwm_mb") or 0)
        rows.append(
            Row(
                f"Streaming ingestion of {_n(million['documents'])} short documents"
                + (" (scaled run)" if scaled else ""),
                "peak RSS < 500 MB",
                f"{peak:.0f} MB peak RSS (VmHWM; {million['baseline_rss_mb']:.0f} MB before the "
                f"run), {_s(million['wall_s'])}",
                peak < 500,
            )
        )
    else:
        rows.append(
            Row("Streaming ingestion of 1,000,000 documents", "peak RSS < 500 MB", "—", None)
        )
    size = results.get("bytes")
    rows.append(
        Row(
            "Request bytes per 768-d vector vs 17-digit JSON floats",
            "≤ 60 %",
            f"{size['ndjson_bytes']:,.0f} B vs {size['json17_bytes']:,.0f} B = {size['share']:.1%}"
            if size
            else "—",
            size["share"] <= 0.60 if size else None,
        )
    )
    probe = results.get("emulator")
    big = probe is not None and probe["vectors"] >= 100_000
    rows.append(
        Row(
            "Emulator query over 100,000 × 768 (over HTTP, minus the bare round trip)",
            "≤ 30 ms p50",
            f"{probe['query_p50_ms']:.1f} ms p50 over {_n(probe['vectors'])} vectors"
            if probe
            else "—",
            probe["query_p50_ms"] <= 30 if big and probe else None,
        )
    )
    rows.append(
        Row(
            "Emulator write throughput (5,000-vector NDJSON upserts)",
            "≥ 20,000 vectors/s",
            f"{probe['write_vectors_per_s']:,.0f} vectors/s" if probe else "—",
            probe["write_vectors_per_s"] >= 20_000 if probe else None,
        )
    )
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def targets_table(results: dict[str, Any]) -> str:
    return _table(
        ["Target", "Goal", "Measured", "Status"],
        [[r.target, r.goal, r.measured, r.status] for r in targets(results)],
    )


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    parts = [
        "# Benchmark results",
        "",
        f"{meta['date']} · {meta['machine']} · emulator in a separate process with "
        f"**{meta['rtt_ms']:.0f} ms** injected round trip (measured bare round trip "
        f"{meta['measured_rtt_ms']:.1f} ms) · concurrency {meta['concurrency']} · "
        f"`{meta['command']}`"
        + (
            f" · load average {meta['load_before']:.1f} before, {meta['load_after']:.1f} after "
            "(other work on the machine shares its 2 cores)"
            if "load_before" in meta
            else ""
        ),
        "",
        "## Targets",
        "",
        targets_table(results),
        "",
        "## Ingestion (`cloudflare_ai.pipeline.ingest`, bge-base, 768 dims)",
        "",
        "Lower bound = requests ÷ concurrency × injected round trip. Bytes are request bodies "
        "(embedding JSON + NDJSON writes). Peak RSS is the whole client process.",
        "",
        _table(
            [
                "Documents",
                "Wall",
                "Lower bound",
                "Ratio",
                "Requests (embed + write)",
                "Most in flight",
                "Bytes sent",
                "Peak RSS (growth)",
                "Client CPU",
                "Docs/s",
            ],
            [
                [
                    _n(r["documents"]),
                    _s(r["wall_s"]),
                    _s(r["lower_bound_s"]),
                    f"{r['vs_lower_bound']:.2f}×",
                    f"{r['requests']} ({r['embed_requests']} + {r['write_requests']})",
                    str(r["max_in_flight"]),
                    f"{r['bytes_sent'] / 1e6:,.1f} MB",
                    f"{r['peak_rss_mb']:.0f} MB (+{r['rss_growth_mb']:.0f})",
                    _s(r["cpu_s"]),
                    f"{r['docs_per_s']:,.0f}",
                ]
                for r in results.get("ingest", [])
            ],
        ),
    ]
    retrieval = results.get("retrieval", [])
    if retrieval:
        parts += [
            "",
            "## Retrieval (one embedding request + one query; 2 × RTT = "
            f"{retrieval[0]['two_rtt_ms']:.0f} ms)",
            "",
            _table(
                ["Index size", "Client", "p50", "p95", "p50 ÷ 2 RTT"],
                [
                    [
                        _n(r["vectors"]),
                        label,
                        f"{r[key]['p50_ms']:.1f} ms",
                        f"{r[key]['p95_ms']:.1f} ms",
                        f"{r[key]['vs_two_rtt']:.3f}×",
                    ]
                    for r in retrieval
                    for key, label in (
                        ("langchain", "VectorizeVectorStore.similarity_search"),
                        ("core", "core embed_query + query"),
                    )
                ],
            ),
        ]
    streaming = results.get("streaming")
    if streaming:
        parts += [
            "",
            f"## Streaming time to first token (median of {streaming['repeats']})",
            "",
            _table(
                ["Reader", "Time to first token", "Overhead over raw"],
                [
                    ["plain httpx over the SSE body", f"{streaming['raw_ms']:.1f} ms", "—"],
                    [
                        "core `stream_chat`",
                        f"{streaming['core_ms']:.1f} ms",
                        f"{streaming['core_overhead_ms']:+.2f} ms",
                    ],
                    [
                        "`ChatWorkersAI.stream`",
                        f"{streaming['langchain_ms']:.1f} ms",
                        f"{streaming['langchain_overhead_ms']:+.2f} ms",
                    ],
                ],
            ),
        ]
    cpu = results.get("cpu")
    if cpu:
        parts += [
            "",
            "## Client CPU time per call (`time.process_time`)",
            "",
            _table(["Call", "CPU per call"], [[k, f"{v:.2f} ms"] for k, v in cpu.items()]),
        ]
    peers = results.get("peers", {})
    if peers.get("ingest") or peers.get("retrieval"):
        ours = {r["documents"]: r for r in results.get("ingest", [])}
        ours_search = {r["vectors"]: r for r in retrieval}
        rows = []
        for p in peers.get("ingest", []):
            mine = ours.get(p["documents"])
            rows.append(
                [
                    p["peer"],
                    f"ingest {_n(p['documents'])}",
                    _s(p["wall_s"]),
                    _s(mine["wall_s"]) if mine else "—",
                    f"{p['wall_s'] / mine['wall_s']:.1f}×" if mine else "—",
                    f"{p['http_requests']} req, {p['bytes_sent'] / 1e6:,.1f} MB, "
                    f"CPU {_s(p['cpu_s'])}",
                ]
            )
        for p in peers.get("retrieval", []):
            mine = ours_search.get(p["documents"])
            rows.append(
                [
                    p["peer"],
                    f"similarity_search p50 ({_n(p['documents'])})",
                    f"{p['p50_ms']:.1f} ms",
                    f"{mine['langchain']['p50_ms']:.1f} ms" if mine else "—",
                    f"{p['p50_ms'] / mine['langchain']['p50_ms']:.2f}×" if mine else "—",
                    f"p95 {p['p95_ms']:.1f} ms",
                ]
            )
        parts += [
            "",
            "## Peers on the same server ("
            + ", ".join(f"{k} {v}" for k, v in meta.get("peer_versions", {}).items())
            + ")",
            "",
            "Same documents, ids and text-in-metadata; `include_d1=False` (no D1 here); "
            "`add_texts` in 5,000-text calls (its maximum).",
            "",
            _table(["Peer", "Workload", "Peer", "Ours", "Ratio (peer ÷ ours)", "Notes"], rows),
        ]
    probe = results.get("emulator")
    if probe:
        parts += [
            "",
            "## Emulator (over HTTP, bare round trip subtracted)",
            "",
            f"Query p50 {probe['query_p50_ms']:.1f} ms / p95 {probe['query_p95_ms']:.1f} ms "
            f"over {_n(probe['vectors'])} × 768 vectors; writes "
            f"{probe['write_vectors_per_s']:,.0f} vectors/s (5,000-vector NDJSON upserts); "
            f"emulator peak RSS {meta.get('emulator_peak_rss_mb') or 0:.0f} MB.",
        ]
    million = results.get("million")
    if million:
        parts += [
            "",
            "## Streaming ingestion memory check",
            "",
            f"{_n(million['documents'])} documents from a generator, concurrency "
            f"{million['concurrency']}"
            + (", published rate limits lifted" if million["unthrottled"] else "")
            + f": {_s(million['wall_s'])}, {_n(million['written'])} written "
            f"({_n(million['stored'])} in the index), {million['requests']:,} requests; "
            f"client peak RSS {million.get('peak_hwm_mb') or million['peak_rss_mb']:.0f} MB "
            "(VmHWM), "
            f"{million['peak_rss_mb']:.0f} MB sampled, {million['baseline_rss_mb']:.0f} MB "
            f"before the run; emulator peak RSS {million.get('emulator_peak_rss_mb') or 0:,.0f} "
            f"MB. Run {million.get('date', '')}: `{million.get('command', '')}`.",
        ]
    return "\n".join(parts) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    """Wall time vs lower bound (and peers) per size; retrieval p50 vs 2 × RTT."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ingest = results.get("ingest", [])
    peers = results.get("peers", {})
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(7, 3.5), dpi=90, gridspec_kw={"width_ratios": [3, 2]}
    )
    sizes = [r["documents"] for r in ingest]
    series: dict[str, list[float]] = {
        "cloudflare-ai": [r["wall_s"] for r in ingest],
        "lower bound": [r["lower_bound_s"] for r in ingest],
    }
    for name in sorted({p["peer"] for p in peers.get("ingest", [])}):
        by_size = {p["documents"]: p["wall_s"] for p in peers["ingest"] if p["peer"] == name}
        series[name] = [by_size.get(n, 0.0) for n in sizes]
    width = 0.8 / len(series)
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(sizes))]
        left.bar(xs, values, width, label=name)
    left.set_xticks(range(len(sizes)), [f"{n:,}" for n in sizes])
    left.set_yscale("log")
    left.set_xlabel("documents (768-d)")
    left.set_ylabel("seconds (log)")
    left.set_title(f"Embed + store, {results['meta']['rtt_ms']:.0f} ms RTT", fontsize=9)
    left.legend(fontsize=7)
    retrieval = results.get("retrieval", [])
    if retrieval:
        # the largest index the peers also searched (else the largest one)
        searched = {p["documents"] for p in peers.get("retrieval", [])}
        shown = max(
            (r for r in retrieval if r["vectors"] in searched),
            default=retrieval[-1],
            key=lambda r: r["vectors"],
        )
        labels = ["LangChain", "core"]
        values = [shown["langchain"]["p50_ms"], shown["core"]["p50_ms"]]
        for p in peers.get("retrieval", []):
            if p["documents"] == shown["vectors"]:
                labels.append(p["peer"].replace("langchain-", "lc-"))
                values.append(p["p50_ms"])
        right.bar(range(len(values)), values, color="tab:green")
        right.axhline(shown["two_rtt_ms"], color="tab:red", linestyle="--", label="2 RTT")
        right.set_xticks(range(len(values)), labels, fontsize=7, rotation=15)
        right.set_ylabel("ms")
        right.set_title(f"Retrieval p50 ({shown['vectors']:,} vectors)", fontsize=9)
        right.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def update_readme(readme: Path, results: dict[str, Any], image: Path | None) -> None:
    """Replace the section between the README's result markers (added if missing)."""
    body = [README_START, "", f"_Latest run: {results['meta']['date']}_", ""]
    if image is not None:
        rel = os.path.relpath(Path(image).resolve(), readme.resolve().parent)
        body += [f"![benchmark chart]({Path(rel).as_posix()})", ""]
    body += [targets_table(results), "", README_END]
    section = "\n".join(body)
    text = readme.read_text() if readme.exists() else ""
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n## Latest results\n\n" + section + "\n"
    readme.write_text(text)
