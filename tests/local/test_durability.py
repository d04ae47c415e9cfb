"""Durability of the emulator: SIGKILL it during large upserts, restart on the same data dir.

Every vector of an interrupted write must be either fully present (exact values and
metadata) or absent, each upsert request must be all-or-nothing, acknowledged writes must
survive, and the index must open and accept new writes after the restart.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

from cloudflare_ai import Vector, VectorizeClient

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "local-emulator-token"
INDEX = "durability"
DIMS = 64
FIRST = 1000  # committed before the kill
BATCHES = 6  # upserts in flight at the kill
PER_BATCH = 5000  # one request each (the per-request cap)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _values(seed: int) -> np.ndarray:
    """Deterministic float32 values for a vector, derived from its number."""
    base = np.arange(DIMS, dtype=np.int64) * 7919 + seed * 104729
    return ((base % 20011).astype(np.float32) / np.float32(20011.0)) - np.float32(0.5)


def _batch(k: int) -> list[Vector]:
    start = 100_000 * (k + 1)
    return [Vector(f"b{k}-{i}", _values(start + i), {"n": start + i}) for i in range(PER_BATCH)]


def _first() -> list[Vector]:
    return [Vector(f"first-{i}", _values(i), {"n": i}) for i in range(FIRST)]


@contextmanager
def _emulator(data_dir: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "cloudflare_ai_app.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        base = f"http://127.0.0.1:{port}/client/v4"
        url = f"{base}/accounts/{ACCOUNT}/vectorize/v2/indexes"
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"emulator exited with {proc.returncode}:\n{log.read_text()}")
            try:
                r = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=1)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"emulator did not answer in time:\n{log.read_text()}")
            time.sleep(0.05)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _client(base: str) -> VectorizeClient:
    return VectorizeClient(
        account_id=ACCOUNT, api_token=TOKEN, base_url=base, timeout=30, max_retries=0
    )


def _check_exact(record_values: list[float] | None, metadata: object, vec: Vector) -> None:
    assert record_values is not None, vec.id
    got = np.asarray(record_values, dtype=np.float32)
    assert got.shape == (DIMS,), vec.id
    assert np.array_equal(got, np.asarray(vec.values, dtype=np.float32)), vec.id
    assert metadata == vec.metadata, vec.id


def _present(client: VectorizeClient, vectors: list[Vector]) -> set[str]:
    """Ids of ``vectors`` that are stored, checking each stored one is exact."""
    by_id = {v.id: v for v in vectors}
    records = client.get_by_ids(INDEX, list(by_id))
    seen: set[str] = set()
    for rec in records:
        assert rec.id in by_id, rec.id
        assert rec.id not in seen, f"duplicate {rec.id}"
        seen.add(rec.id)
        _check_exact(rec.values, rec.metadata, by_id[rec.id])
    return seen


def test_sigkill_during_large_upserts_is_all_or_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    log = tmp_path / "emulator.log"
    first = _first()
    batches = [_batch(k) for k in range(BATCHES)]
    acknowledged: set[int] = set()
    first_reply = threading.Event()

    def send(k: int) -> None:
        with _client(base) as c:
            try:
                c.upsert(INDEX, batches[k], dimensions=DIMS)
            except Exception:  # the server is killed under us
                return
            acknowledged.add(k)
            first_reply.set()

    with _emulator(data_dir, log) as (proc, base):
        with _client(base) as client:
            client.create_index(INDEX, dimensions=DIMS, metric="cosine")
            client.upsert(INDEX, first, wait=True, wait_timeout=10)
        with ThreadPoolExecutor(max_workers=BATCHES) as pool:
            futures = [pool.submit(send, k) for k in range(BATCHES)]
            # Kill once one large upsert has been answered (others still in flight), or
            # after a short while at the latest.
            first_reply.wait(timeout=3)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            for f in futures:
                f.result(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    killed_acks = set(acknowledged)
    assert len(killed_acks) < BATCHES, "every upsert finished before the kill; nothing tested"

    with _emulator(data_dir, log) as (_, base), _client(base) as client:
        assert INDEX in [i.name for i in client.list_indexes()]
        info = client.info(INDEX)
        assert info.dimensions == DIMS

        assert _present(client, first) == {v.id for v in first}

        complete = []
        for k, batch in enumerate(batches):
            seen = _present(client, batch)
            assert len(seen) in (0, PER_BATCH), (
                f"upsert {k} is partial after SIGKILL: {len(seen)}/{PER_BATCH} vectors"
            )
            if seen:
                complete.append(k)
        assert killed_acks <= set(complete), (
            f"acknowledged upserts {sorted(killed_acks - set(complete))} were lost"
        )

        expected = FIRST + PER_BATCH * len(complete)
        assert info.vector_count == expected
        assert sum(1 for _ in client.iter_ids(INDEX)) == expected

        extra = [Vector(f"after-{i}", _values(900_000 + i), {"n": i}) for i in range(100)]
        client.upsert(INDEX, extra, wait=True, wait_timeout=10)
        assert _present(client, extra) == {v.id for v in extra}
        assert client.info(INDEX).vector_count == expected + len(extra)
