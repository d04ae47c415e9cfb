"""Run the benchmark suite against the local emulator with injected latency.

    .venv/bin/python benchmarks/run.py [--sizes 2000,10000,100000] [--rtt-ms 80]
        [--concurrency 8] [--out benchmarks/results]
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

from benchmarks import harness, peers, report  # noqa: E402


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_all(
    emu: harness.Emulator,
    *,
    sizes: list[int],
    rtt_ms: float,
    concurrency: int,
    write_batch: int | None = None,
    queries: int = 30,
    stream_repeats: int = 15,
    cpu_calls: int = 20,
    with_peers: bool = True,
    peer_max: int = 10_000,
) -> dict[str, Any]:
    """Every measurement except the million-document check, as one results dict."""
    results: dict[str, Any] = {"ingest": [], "retrieval": [], "peers": {}}
    results["meta"] = {
        "measured_rtt_ms": harness.round_trip_ms(emu),
        "load_before": os.getloadavg()[0],
    }
    for n in sorted(sizes):
        _log(f"ingest {n:,} documents …")
        row = harness.bench_ingest(
            emu, n, concurrency=concurrency, rtt_ms=rtt_ms, write_batch=write_batch
        )
        _log(
            f"  {row['wall_s']:.2f} s, {row['requests']} requests, "
            f"{row['vs_lower_bound']:.2f} x the lower bound"
        )
        results["ingest"].append(row)
        _log(f"retrieval on {n:,} vectors …")
        search = harness.bench_retrieval(emu, f"bench-{n}", queries=queries, rtt_ms=rtt_ms)
        results["retrieval"].append({"vectors": row["stored"], **search})
    largest = f"bench-{max(sizes)}"
    _log("bytes per vector, streaming, client CPU, emulator probes …")
    results["bytes"] = harness.bytes_per_vector()
    results["streaming"] = harness.bench_streaming(emu, stream_repeats)
    results["cpu"] = harness.bench_cpu(emu, largest, cpu_calls)
    results["emulator"] = harness.probe_emulator(emu, largest)
    found = peers.available()
    peer_rows: dict[str, list[dict[str, Any]]] = {"ingest": [], "retrieval": []}
    if with_peers:
        for peer, installed in found.items():
            if not installed:
                _log(f"{peer} not installed: no comparison")
                continue
            for n in sorted(s for s in sizes if s <= peer_max):
                _log(f"{peer}: ingest {n:,} documents …")
                row = peers.bench_peer_ingest(emu, peer, n)
                _log(f"  {row['wall_s']:.2f} s")
                peer_rows["ingest"].append(row)
                search = peers.bench_peer_retrieval(
                    emu, peer, row["index"], queries=queries, rtt_ms=rtt_ms
                )
                peer_rows["retrieval"].append({"documents": row["stored"], **search})
    results["peers"] = peer_rows
    results["meta"].update(
        rtt_ms=rtt_ms,
        concurrency=concurrency,
        write_batch=write_batch,
        peer_versions=peers.versions() if with_peers else {},
        emulator_peak_rss_mb=emu.peak_rss_mb(),
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
        default="2000,10000,100000",
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
        default=8,
        help="requests in flight allowed (default: %(default)s, the library's)",
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
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        results = run_all(
            emu,
            sizes=sizes,
            rtt_ms=args.rtt_ms,
            concurrency=args.concurrency,
            write_batch=args.write_batch,
            queries=args.queries,
            with_peers=not args.no_peers,
            peer_max=args.peer_max,
        )
        results["meta"].update(
            date=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            machine=_machine(),
            command=command,
        )
        return results


if __name__ == "__main__":
    raise SystemExit(main())
