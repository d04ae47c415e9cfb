"""Faults survived, nothing lost, nothing leaked: ingestion, retrieval and chat against an
emulator that fails a fifth of its requests.

The corpus is the issue's full 10,000 documents (a few seconds here); ``RELIABILITY_DOCS``
changes it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudflare_ai import (
    APIError,
    CloudflareError,
    GatewaySettings,
    PartialWriteError,
    RetryPolicy,
    VectorizeClient,
    WorkersAIClient,
)
from cloudflare_ai.config import ClientSettings
from cloudflare_ai.pipeline import Record, ingest
from cloudflare_ai_local import FaultConfig, LocalCloudflare

DOCS = int(os.environ.get("RELIABILITY_DOCS", "10000"))
PATIENT = RetryPolicy(max_retries=10, initial_delay=0.002, max_delay=0.02, max_retry_after=0.05)
FAULTS = FaultConfig(
    rate=0.2,
    kinds=("429", "3040", "500", "502", "503", "drop", "timeout"),
    seed=11,
    retry_after=0,
    timeout_seconds=1.0,
)


@pytest.fixture
def emulator() -> Iterator[LocalCloudflare]:
    with LocalCloudflare(gateway_token="gateway-secret-for-logs-0123456789") as cf:
        yield cf


def _settings(cf: LocalCloudflare, **extra: object) -> ClientSettings:
    return ClientSettings.resolve(
        account_id=cf.account_id,
        api_token=cf.api_token,
        base_url=cf.base_url,
        timeout=0.5,  # below the injected stall, so "timeout" faults are read timeouts
        max_concurrency=8,
        **extra,  # type: ignore[arg-type]
    )


def _records(n: int) -> Iterator[Record]:
    for i in range(n):
        yield Record(f"doc-{i}", f"reliable document {i} about topic {i % 37}", {"n": i})


def _stored_ids(cf: LocalCloudflare, index: str) -> list[str]:
    with VectorizeClient(settings=_settings(cf), retry=PATIENT) as db:
        return list(db.iter_ids(index))


def test_ingestion_under_twenty_percent_faults_stores_everything_exactly_once(
    emulator: LocalCloudflare,
) -> None:
    settings = _settings(emulator)
    with VectorizeClient(settings=settings, retry=PATIENT) as db:
        db.create_index("faulty-ingest", dimensions=768)
    emulator.set_faults(FAULTS)
    # concurrency=8 as the settings' max_concurrency: the emulator answers on this process's
    # CPU, and a derived 58 requests in flight would slow it past the 0.5 s read timeout
    report = ingest(
        _records(DOCS), index="faulty-ingest", settings=settings, retry=PATIENT, concurrency=8
    )
    faults = len(emulator.injected_faults)
    emulator.set_faults(FaultConfig())
    assert faults > 0, "the emulator injected faults"
    assert report.written == DOCS
    ids = _stored_ids(emulator, "faulty-ingest")
    assert len(ids) == DOCS
    assert set(ids) == {f"doc-{i}" for i in range(DOCS)}
    with VectorizeClient(settings=settings, retry=PATIENT) as db:
        assert db.info("faulty-ingest").vector_count == DOCS


def test_a_persistent_failure_reports_what_was_written_and_a_rerun_finishes(
    emulator: LocalCloudflare,
) -> None:
    settings = _settings(emulator)
    n = 1200
    with VectorizeClient(settings=settings, retry=PATIENT) as db:
        db.create_index("resume", dimensions=768)
    # Every write fails once the first two have gone through.
    quick = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.002)
    written_before = []

    def fail_later(progress: object) -> None:
        written = getattr(progress, "written", 0)
        written_before.append(written)
        if written >= 400:
            emulator.set_faults(FaultConfig(rate=1.0, kinds=("503",), paths=["/upsert"]))

    with pytest.raises(PartialWriteError) as info:
        # concurrency=2: writes go out a few at a time, so the failure begins mid-way
        # (derived concurrency would have every write of this small job in flight at once)
        ingest(_records(n), index="resume", settings=settings, retry=quick,
               write_batch=200, concurrency=2, progress=fail_later)  # fmt: skip
    error = info.value
    emulator.set_faults(FaultConfig())
    assert error.written_ids, "some batches were written"
    assert error.failed_ids, "and some were not"
    assert not set(error.written_ids) & set(error.failed_ids)
    stored = set(_stored_ids(emulator, "resume"))
    assert set(error.written_ids) <= stored
    assert not set(error.failed_ids) & stored
    # Re-running the same ingestion finishes the job, without duplicates.
    report = ingest(_records(n), index="resume", settings=settings, retry=PATIENT)
    assert report.written == n
    ids = _stored_ids(emulator, "resume")
    assert len(ids) == n == len(set(ids))


def test_retrieval_and_chat_succeed_or_raise_typed_errors(emulator: LocalCloudflare) -> None:
    settings = _settings(emulator)
    with VectorizeClient(settings=settings, retry=PATIENT) as db:
        db.create_index("faulty-read", dimensions=768)
    ingest(_records(50), index="faulty-read", settings=settings, retry=PATIENT)
    emulator.set_faults(dataclasses.replace(FAULTS, rate=0.5))
    stingy = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.002)
    outcomes = {"ok": 0, "typed": 0}
    with (
        WorkersAIClient(settings=settings, retry=stingy) as ai,
        VectorizeClient(settings=settings, retry=stingy) as db,
    ):
        for i in range(30):
            try:
                vector = ai.embed_query(f"topic {i}")
                db.query("faulty-read", vector, top_k=3)
                ai.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast", prompt=f"Say {i}")
                outcomes["ok"] += 1
            except APIError:
                outcomes["typed"] += 1
    emulator.set_faults(FaultConfig())
    assert outcomes["ok"] > 0
    assert outcomes["typed"] > 0, "with one retry at 50 % faults some calls must give up"


def test_tokens_never_reach_debug_logs_reprs_or_errors(
    emulator: LocalCloudflare, caplog: pytest.LogCaptureFixture
) -> None:
    gateway_token = "gateway-secret-for-logs-0123456789"
    caplog.set_level(logging.DEBUG)
    gateway = GatewaySettings(id="logs", base_url=emulator.gateway_url, token=gateway_token)
    messages: list[str] = []
    with WorkersAIClient(settings=_settings(emulator), gateway=gateway, retry=PATIENT) as ai:
        ai.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast", prompt="hello")
        messages += [repr(ai), str(ai.settings), repr(gateway), repr(ai.settings.gateway)]
    bad_gateway = GatewaySettings(
        id="logs", base_url=emulator.gateway_url, token="wrong-" + gateway_token
    )
    with WorkersAIClient(settings=_settings(emulator), gateway=bad_gateway, retry=PATIENT) as ai:
        with pytest.raises(CloudflareError) as info:
            ai.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast", prompt="hello")
        messages += [str(info.value), repr(info.value)]
    wrong = _settings(emulator).model_copy(update={})
    with WorkersAIClient(account_id=wrong.account_id, api_token="wrong-api-token-value-42",
                         base_url=wrong.base_url, retry=PATIENT) as ai:  # fmt: skip
        with pytest.raises(CloudflareError) as info:
            ai.chat("@cf/meta/llama-3.3-70b-instruct-fp8-fast", prompt="hello")
        messages += [str(info.value), repr(info.value)]
    logged = [record.getMessage() for record in caplog.records] + [
        str(record.args) for record in caplog.records
    ]
    assert any("retrying" in m or "POST" in m for m in logged), "DEBUG logs were captured"
    for secret in (emulator.api_token, gateway_token, "wrong-api-token-value-42"):
        for text in [*logged, *messages]:
            assert secret not in text


# --- the same promises through the frameworks' own calls ----------------------------------------


def _conn(cf: LocalCloudflare) -> dict[str, Any]:
    return {
        "account_id": cf.account_id,
        "api_token": cf.api_token,
        "base_url": cf.base_url,
        "timeout": 0.5,  # below the injected stall, as in _settings
        "retry_policy": PATIENT,
    }


def _stored_or_accounted(
    cf: LocalCloudflare,
    index: str,
    run: Callable[[], object],
    count: int,
    before: frozenset[str] = frozenset(),
) -> set[str]:
    """Run an ingestion of ``count`` items under faults (``before``: ids already stored):
    either every item is stored exactly once, or the PartialWriteError lists each item once,
    as written or not, and what it calls written is stored. (A write that timed out may still
    have been applied: its ids are listed as not written and may be stored, never twice.)
    Returns the stored ids."""
    cf.set_faults(FAULTS)
    error: PartialWriteError | None = None
    try:
        run()
    except PartialWriteError as raised:
        error = raised
    faults = len(cf.injected_faults)
    cf.set_faults(FaultConfig())
    assert faults > 0, "the emulator injected faults"
    stored = _stored_ids(cf, index)
    assert len(stored) == len(set(stored))
    new = set(stored) - before
    if error is None:
        assert len(new) == count
        with VectorizeClient(settings=_settings(cf), retry=PATIENT) as db:
            assert db.info(index).vector_count == len(before) + count
    else:
        written, failed = set(error.written_ids), set(error.failed_ids)
        assert not written & failed
        assert len(error.written_ids) + len(error.failed_ids) == len(written | failed) == count
        assert written <= set(stored)
        assert new <= written | failed
    return set(stored)


def test_langchain_add_texts_and_add_documents_under_faults(emulator: LocalCloudflare) -> None:
    from langchain_core.documents import Document

    from cloudflare_ai.langchain import VectorizeVectorStore, WorkersAIEmbeddings

    conn = _conn(emulator)
    with VectorizeClient(settings=_settings(emulator), retry=PATIENT) as db:
        db.create_index("faulty-lc", dimensions=768)
    store = VectorizeVectorStore(WorkersAIEmbeddings(**conn), "faulty-lc", **conn)
    texts = [f"langchain document {i} about topic {i % 37}" for i in range(2000)]
    stored = _stored_or_accounted(emulator, "faulty-lc", lambda: store.add_texts(texts), 2000)
    documents = [Document(f"more {t}", id=f"lc-{i}") for i, t in enumerate(texts[:600])]
    after = _stored_or_accounted(
        emulator, "faulty-lc", lambda: store.add_documents(documents), 600, frozenset(stored)
    )
    assert {f"lc-{i}" for i in range(600)} & after


def test_llama_index_from_documents_and_ingestion_pipeline_under_faults(
    emulator: LocalCloudflare,
) -> None:
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.ingestion import IngestionPipeline

    from cloudflare_ai.llama_index import VectorizeVectorStore, WorkersAIEmbedding

    conn = _conn(emulator)
    embed = WorkersAIEmbedding(**conn)
    store = VectorizeVectorStore(index_name="faulty-li", dimensions=768, **conn)
    documents = [Document(text=f"llama document {i} on topic {i % 37}") for i in range(1200)]

    def build() -> None:
        VectorStoreIndex.from_documents(
            documents,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embed,
        )

    emulator.set_faults(FaultConfig())
    store.add([])  # nothing: the index is created on the first real write
    stored = _stored_or_accounted(emulator, "faulty-li", build, 1200)
    pipeline = IngestionPipeline(transformations=[embed], vector_store=store)
    more = [Document(text=f"pipeline document {i}") for i in range(500)]
    _stored_or_accounted(
        emulator, "faulty-li", lambda: pipeline.run(documents=more), len(stored) + 500
    )
