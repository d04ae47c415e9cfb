"""Run the benchmark suite against the local emulator with injected latency.

    .venv/bin/python benchmarks/run.py [--sizes 2000,10000] [--rtt-ms 80] [--quick]
        [--concurrency N (default: derived, as users get it)] [--out benchmarks/results]
    .venv/bin/python benchmarks/run.py --million      # the 1,000,000-document memory check

Writes ``<out>/latest.json``, ``latest.md`` and ``latest.png`` and refreshes the results
section of benchmarks/README.md. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import floor, frameworks, harness, peers, report  # noqa: E402


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _peer_rows(
    emu: harness.Emulator, sizes: list[int], peer_max: int, queries: int, rtt_ms: float
) -> dict[str, list[dict[str, Any]]]:
    """The LangChain peers' ``add_texts`` and search on the same server (when installed)."""
    rows: dict[str, list[dict[str, Any]]] = {"ingest": [], "retrieval": []}
    for peer, installed in peers.available().items():
        if not installed:
            _log(f"{peer} not installed: no comparison")
            continue
        for n in sorted(s for s in sizes if s <= peer_max):
            _log(f"{peer}: add_texts {n:,} documents …")
            emu.reset_stats()
            row = peers.bench_peer_ingest(emu, peer, n)
            stats = emu.server_stats(reset=True)
            row["server_handler_ms"] = stats["all"]["mean_ms"] if stats and stats["all"] else None
            row["cpu_ms_per_vector"] = row["cpu_s"] / n * 1000
            _log(f"  {row['wall_s']:.2f} s")
            rows["ingest"].append(row)
            search = peers.bench_peer_retrieval(
                emu, peer, row["index"], queries=queries, rtt_ms=rtt_ms
            )
            rows["retrieval"].append({"documents": row["stored"], **search})
    return rows


def run_all(
    emu: harness.Emulator,
    *,
    sizes: list[int],
    rtt_ms: float,
    concurrency: int | None,
    write_batch: int | None = None,
    queries: int = 30,
    stream_repeats: int = 15,
    cpu_calls: int = 20,
    with_peers: bool = True,
    peer_max: int = 10_000,
    stream_docs: int = 100_000,
    llama_embed_docs: int = 2000,
    emulator: harness.Emulator | None = None,
    probe_fill: int = 100_000,
) -> dict[str, Any]:
    """Every measurement except the million-document check, as one results dict.

    ``emu`` serves the client workloads (normally the benchmark server); ``emulator`` is the
    full emulator whose own query and write costs are probed (``emu`` itself when omitted
    and it is one; no probe otherwise)."""
    results: dict[str, Any] = {"ingest": [], "retrieval": [], "peers": {}, "frameworks": []}
    results["meta"] = {
        "server": emu.kind,
        "measured_rtt_ms": harness.round_trip_ms(emu),
        "load_before": os.getloadavg()[0],
    }
    # One small untimed run of every path first: imports, the HTTP pools' first connections
    # and the parsers' buffers are then paid before any row is timed, for every row alike.
    _log("warming up every path (200 documents, untimed) …")
    frameworks.bench_pipeline(emu, 200, concurrency=concurrency, rtt_ms=rtt_ms)
    for warm in (floor.bench_floor, frameworks.bench_langchain, frameworks.bench_llamaindex):
        warm(emu, 200)
    for n in sorted(sizes):
        _log(f"core pipeline.ingest {n:,} documents …")
        row = frameworks.bench_pipeline(emu, n, concurrency=concurrency, rtt_ms=rtt_ms)
        _log(
            f"  {row['wall_s']:.2f} s, {row['requests']} requests, "
            f"{row['vs_lower_bound']:.2f} x the lower bound"
        )
        results["ingest"].append(row)
        for bench in (floor.bench_floor, frameworks.bench_langchain, frameworks.bench_llamaindex):
            _log(f"{bench.__name__} {n:,} documents …")
            framework_row = bench(emu, n)
            _log(f"  {framework_row['wall_s']:.2f} s")
            results["frameworks"].append(framework_row)
        _log(f"retrieval on {n:,} vectors …")
        # Against two round trips as a bare request measures them on this server (the
        # injected delay plus loopback and the server's own HTTP work), not the delay alone.
        round_trip = results["meta"]["measured_rtt_ms"] or rtt_ms
        search = harness.bench_retrieval(emu, f"lc-{n}", queries=queries, rtt_ms=round_trip)
        results["retrieval"].append({"vectors": row["stored"], **search})
    largest = results["ingest"][-1]["index"]
    if stream_docs:
        _log(f"{stream_docs:,} documents from an iterator through add_texts (child process) …")
        results["stream"] = frameworks.stream_langchain(emu, stream_docs)
    if with_peers:
        results["peers"] = _peer_rows(emu, sizes, peer_max, queries, rtt_ms)
        if frameworks.llama_peer_available() and llama_embed_docs:
            _log(f"llama-index peer: embedding {llama_embed_docs:,} texts …")
            results["llama_embeddings"] = frameworks.bench_llama_embeddings(emu, llama_embed_docs)
    results["server_stats"] = emu.server_stats()
    probed = emulator if emulator is not None else (emu if emu.kind == "emulator" else None)
    if probed is not None:
        _log("emulator probes (query on a filled index, 5,000-vector upserts) …")
        results["emulator"] = harness.probe_emulator(
            probed, largest, fill=min(probe_fill, max(sizes))
        )
    # chat streaming and per-call CPU need the full emulator (the benchmark server has no
    # chat model); the query index there is the one the probe filled
    chatty = probed if probed is not None else emu
    _log("bytes per vector, streaming, client CPU …")
    results["bytes"] = harness.bytes_per_vector()
    if chatty.kind == "emulator":
        results["streaming"] = harness.bench_streaming(chatty, stream_repeats)
        results["cpu"] = harness.bench_cpu(chatty, largest, cpu_calls)
    results["meta"].update(
        rtt_ms=rtt_ms,
        concurrency=concurrency,
        write_batch=write_batch,
        peer_versions=peers.versions() if with_peers else {},
        emulator_peak_rss_mb=probed.peak_rss_mb() if probed else None,
        load_after=os.getloadavg()[0],
    )
    return results


def _machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )


def write_outputs(
    results: dict[str, Any], out: Path, *, png: bool = True, readme: Path | None = None
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "latest.md").write_text(report.markdown(results))
    image = out / "latest.png" if png else None
    if image is not None:
        report.chart(results, image)
    if readme is not None:
        report.update_readme(readme, results, image)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="2000,10000",
        help="comma-separated document counts (default: %(default)s)",
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=80.0,
        help="latency injected into every response (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="requests in flight for the core pipeline row (default: derived by the pipeline "
        "from the work and the model's rate limit, as users get it)",
    )
    parser.add_argument(
        "--write-batch",
        type=int,
        default=None,
        help="vectors per write request (default: the pipeline's)",
    )
    parser.add_argument("--queries", type=int, default=30, help="searches per p50/p95")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--readme",
        default=ROOT / "benchmarks" / "README.md",
        help="README whose results section is refreshed ('' for none)",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip peer comparisons")
    parser.add_argument(
        "--peer-max",
        type=int,
        default=10_000,
        help="largest size run through peers (they send one request at a time)",
    )
    parser.add_argument("--no-png", action="store_true")
    parser.add_argument(
        "--server",
        choices=("bench", "emulator"),
        default="bench",
        help="server of the client workloads: the benchmark server (default; the full "
        "emulator's own costs are still probed in a second process) or the full emulator",
    )
    parser.add_argument(
        "--stream-docs",
        type=int,
        default=100_000,
        help="documents streamed from an iterator through add_texts (0: skip)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few seconds: 200 documents, 5 ms round trip, few repeats (checks the harness)",
    )
    parser.add_argument(
        "--million",
        type=int,
        nargs="?",
        const=1_000_000,
        default=None,
        metavar="N",
        help="only run the streaming-memory check (default N: 1M)",
    )
    parser.add_argument(
        "--million-concurrency",
        type=int,
        default=32,
        help="--million: requests in flight (default: %(default)s)",
    )
    parser.add_argument(
        "--throttled",
        action="store_true",
        help="--million: keep the published per-minute request limits",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the report from <out>/latest.json (no measuring)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.rtt_ms, args.queries, args.stream_docs = "200", 5.0, 3, 1000
        args.peer_max = 200
    readme = Path(args.readme) if args.readme else None
    command = "python benchmarks/run.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    latest = args.out / "latest.json"

    if args.render:
        results = json.loads(latest.read_text())
    else:
        results = measure(args, command, latest)
        if results is None:
            return 0
    million_file = args.out / "million.json"
    if million_file.exists():
        results["million"] = json.loads(million_file.read_text())
    write_outputs(results, args.out, png=not args.no_png, readme=readme)
    print(report.targets_table(results))
    _log(f"wrote {args.out / 'latest.md'}")
    return 0


def measure(args: argparse.Namespace, command: str, latest: Path) -> dict[str, Any] | None:
    """Run the suite (or the million check, then reuse latest.json) against a fresh emulator."""
    if args.million is None and args.server == "bench":
        with (
            harness.Emulator(args.rtt_ms, kind="bench") as emu,
            harness.Emulator(args.rtt_ms) as emulator,
        ):
            return _suite(args, command, emu, emulator)
    with harness.Emulator(args.rtt_ms) as emu:
        if args.million is not None:
            concurrency = args.million_concurrency
            _log(f"streaming {args.million:,} documents, concurrency {concurrency} …")
            million = harness.bench_million(
                emu, args.million, concurrency=concurrency, unthrottled=not args.throttled
            )
            million["date"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
            million["command"] = command
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "million.json").write_text(json.dumps(million, indent=1))
            _log(json.dumps(million, indent=1))
            if not latest.exists():
                return None
            return dict(json.loads(latest.read_text()))
        return _suite(args, command, emu, None)


def _suite(
    args: argparse.Namespace,
    command: str,
    emu: harness.Emulator,
    emulator: harness.Emulator | None,
) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    quick = {"stream_repeats": 2, "cpu_calls": 2, "llama_embed_docs": 200} if args.quick else {}
    results = run_all(
        emu,
        sizes=sizes,
        rtt_ms=args.rtt_ms,
        concurrency=args.concurrency,
        write_batch=args.write_batch,
        queries=args.queries,
        with_peers=not args.no_peers,
        peer_max=args.peer_max,
        stream_docs=args.stream_docs,
        emulator=emulator,
        **quick,
    )
    results["meta"].update(
        date=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        machine=_machine(),
        command=command,
        quick=args.quick,
    )
    return results


if __name__ == "__main__":
    raise SystemExit(main())
