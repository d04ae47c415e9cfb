"""Behaviour of the ingestion pipeline (``cloudflare_ai.pipeline``) against the emulator.

No timing assertions: these check what the pipeline promises whatever the speed — every record
written once, the concurrency bound, memory bounded by construction, failures accounted for.
Performance targets live in benchmarks/.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from cloudflare_ai import AsyncVectorizeClient, AsyncWorkersAIClient, VectorizeClient
from cloudflare_ai.config import ClientSettings
from cloudflare_ai.errors import PartialWriteError
from cloudflare_ai.pipeline import Progress, RateLimiter, Record, aingest, ingest
from cloudflare_ai.transport import RetryPolicy
from cloudflare_ai_local import FaultConfig, LocalCloudflare

pytestmark = pytest.mark.emulator

EMBED_BATCH = 100  # bge-base's texts per request
NO_RETRY = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.002)
_names = itertools.count()


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def emulator(cf: LocalCloudflare) -> Iterator[LocalCloudflare]:
    """The shared emulator, with faults and latency reset after each test."""
    yield cf
    cf.set_faults(FaultConfig())


@pytest.fixture
def settings(cf: LocalCloudflare) -> ClientSettings:
    return ClientSettings.resolve(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url
    )


@pytest.fixture
def index(cf: LocalCloudflare) -> Iterator[str]:
    name = f"pipeline-{next(_names)}"
    with VectorizeClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url
    ) as db:
        db.create_index(name, dimensions=768, metric="cosine")
        yield name
        db.delete_index(name, missing_ok=True)


def records(n: int, start: int = 0) -> Iterator[tuple[str, str]]:
    for i in range(start, start + n):
        yield f"doc-{i}", f"document {i} about topic {i % 7}"


def stored(cf: LocalCloudflare, index: str) -> int:
    with VectorizeClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url
    ) as db:
        return db.info(index).vector_count


class InFlight:
    """Counts requests in flight through every httpx.AsyncClient (the pipeline's transports)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = self.most = self.total = 0
        send = httpx.AsyncClient.send

        async def tracked(client: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> Any:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)
            try:
                return await send(client, request, **kw)
            finally:
                self.now -= 1

        monkeypatch.setattr(httpx.AsyncClient, "send", tracked)


def test_every_record_is_written_exactly_once(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    report = ingest(records(530), index=index, settings=settings, write_batch=200)

    assert report.written == 530
    assert len(report.ids) == len(set(report.ids)) == 530
    assert set(report.ids) == {f"doc-{i}" for i in range(530)}  # order is not promised
    assert stored(emulator, index) == 530
    assert report.embed_requests == 6  # ceil(530 / 100)
    assert report.write_requests == 3  # ceil(530 / 200)
    assert len(report.mutation_ids) == 3


def test_rerunning_the_same_records_adds_no_duplicates(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    ingest(records(250), index=index, settings=settings)
    again = ingest(records(250), index=index, settings=settings)
    texts = [text for _, text in records(40)]
    ingest(texts, index=index, settings=settings)  # ids derived from the content …
    ingest(texts, index=index, settings=settings)  # … so plain strings re-run cleanly too

    assert again.written == 250
    assert stored(emulator, index) == 290


def test_concurrency_bound_is_respected(
    emulator: LocalCloudflare,
    settings: ClientSettings,
    index: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator.set_latency(20)  # so that requests overlap
    in_flight = InFlight(monkeypatch)

    report = ingest(records(1500), index=index, settings=settings, concurrency=3, write_batch=100)

    assert report.written == 1500
    assert in_flight.total == report.requests == 15 + 15
    assert in_flight.most <= 3  # embeddings and writes together
    assert in_flight.most >= 2  # and they did run concurrently


def test_connection_pools_follow_a_larger_concurrency(
    emulator: LocalCloudflare, settings: ClientSettings, index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``concurrency`` above the settings' max_concurrency (pool = 2 x that) still gets its
    requests onto the wire at once instead of queueing for a pooled connection."""
    emulator.set_latency(50)
    small = settings.model_copy(update={"max_concurrency": 1})  # pool of 10 connections
    opened: list[int] = []
    limits = httpx.AsyncClient.__init__

    def spy(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        opened.append(kwargs["limits"].max_connections)
        limits(client, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", spy)
    ingest(records(100), index=index, settings=small, concurrency=16)

    assert opened
    assert min(opened) >= 16


def test_memory_is_bounded_by_construction(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    emulator.set_latency(5)
    max_buffered = 300
    written = 0
    consumed = 0
    ahead: list[int] = []

    def on_progress(state: Progress) -> None:
        nonlocal written
        written = state.written

    def source() -> Iterator[tuple[str, str]]:
        nonlocal consumed
        for record in records(2000):
            consumed += 1
            ahead.append(consumed - written)
            yield record

    report = ingest(
        source(),
        index=index,
        settings=settings,
        concurrency=4,
        write_batch=100,
        max_buffered=max_buffered,
        progress=on_progress,
    )

    assert report.written == consumed == 2000
    assert max(ahead) <= max_buffered + EMBED_BATCH
    assert max(ahead) > EMBED_BATCH  # it did read ahead while writing


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("max_buffered", "write_batch"), [(150, 200), (50, 2000), (2, 10)])
def test_a_buffer_smaller_than_the_batches_still_completes(
    emulator: LocalCloudflare,
    settings: ClientSettings,
    index: str,
    max_buffered: int,
    write_batch: int,
) -> None:
    report = ingest(
        records(240),
        index=index,
        settings=settings,
        max_buffered=max_buffered,
        write_batch=write_batch,
    )
    assert report.written == 240
    assert stored(emulator, index) == 240


def test_failing_writes_raise_partial_write_error_covering_every_read_record(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    emulator.set_faults(rate=1.0, kinds=("500",), paths=["/upsert"])
    consumed: list[str] = []

    def source() -> Iterator[tuple[str, str]]:
        for record in records(1000):
            consumed.append(record[0])
            yield record

    with pytest.raises(PartialWriteError) as caught:
        # a small buffer: the failure arrives while records are still being read
        ingest(
            source(),
            index=index,
            settings=settings,
            retry=NO_RETRY,
            write_batch=100,
            max_buffered=250,
        )

    error = caught.value
    written, failed = set(error.written_ids), set(error.failed_ids)
    assert not written & failed
    assert written | failed == set(consumed)  # including a part-filled batch never sent
    assert len(error.failed_ids) == len(failed)  # no id reported twice
    assert not written  # every upsert failed
    assert 0 < len(consumed) < 1000  # it stopped reading


def test_some_failing_writes_are_accounted_for(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    emulator.set_faults(rate=0.5, kinds=("500",), paths=["/upsert"], seed=3)
    with pytest.raises(PartialWriteError) as caught:
        ingest(records(1000), index=index, settings=settings, retry=NO_RETRY, write_batch=50)

    error = caught.value
    written, failed = set(error.written_ids), set(error.failed_ids)
    assert not written & failed
    assert failed
    emulator.set_faults(FaultConfig())
    assert stored(emulator, index) == len(written)
    # re-running finishes the job
    report = ingest(records(1000), index=index, settings=settings)
    assert report.written == 1000
    assert stored(emulator, index) == 1000


def test_progress_is_monotonic(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    seen: list[tuple[int, int, int, int, int]] = []

    def on_progress(state: Progress) -> None:
        seen.append(
            (state.read, state.embedded, state.written, state.embed_requests, state.write_requests)
        )

    ingest(records(730), index=index, settings=settings, write_batch=100, progress=on_progress)

    assert seen
    for before, after in itertools.pairwise(seen):
        assert all(b <= a for b, a in zip(before, after, strict=True))
    for read, embedded, written, _, _ in seen:
        assert written <= embedded <= read
    assert seen[-1][:3] == (730, 730, 730)


def test_text_key_stores_the_text_in_metadata(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    items = [
        Record("a", "alpha text", {"source": "x"}),
        {"id": "b", "text": "beta text", "metadata": {"source": "y"}},
        ("c", "gamma text", None),
    ]
    ingest(items, index=index, settings=settings, text_key="body")
    ingest([("d", "delta text")], index=index, settings=settings, text_key=None)

    with VectorizeClient(settings=settings) as db:
        found = {r.id: r.metadata for r in db.get_by_ids(index, ["a", "b", "c", "d"])}
    assert found["a"] == {"source": "x", "body": "alpha text"}
    assert found["b"] == {"source": "y", "body": "beta text"}
    assert found["c"] == {"body": "gamma text"}
    assert not found["d"]


async def test_sync_ingest_works_inside_a_running_event_loop(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    asyncio.get_running_loop()  # as in a notebook cell
    report = ingest(records(120), index=index, settings=settings)
    assert report.written == 120


async def test_aingest_reads_an_async_iterable(
    emulator: LocalCloudflare, settings: ClientSettings, index: str
) -> None:
    async def source() -> AsyncIterator[tuple[str, str]]:
        for record in records(150):
            await asyncio.sleep(0)
            yield record

    async with (
        AsyncWorkersAIClient(settings=settings) as ai,
        AsyncVectorizeClient(settings=settings) as db,
    ):
        report = await aingest(source(), index=index, workers_ai=ai, vectorize=db, wait=True)
    assert report.written == 150
    assert stored(emulator, index) == 150


async def test_rate_limiter_never_allows_more_than_n_per_window() -> None:
    window, per_window = 0.15, 3
    limiter = RateLimiter(per_window, window=window)
    times: list[float] = []

    async def take() -> None:
        await limiter.acquire()
        times.append(time.monotonic())

    await asyncio.gather(*(take() for _ in range(10)))

    times.sort()
    assert len(times) == 10
    for i in range(len(times) - per_window):
        # any per_window + 1 acquisitions span at least one window
        assert times[i + per_window] - times[i] >= window * 0.99
