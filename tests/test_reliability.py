"""Faults survived, nothing lost, nothing leaked: ingestion, retrieval and chat against an
emulator that fails a fifth of its requests.

The corpus is the issue's full 10,000 documents (a few seconds here); ``RELIABILITY_DOCS``
changes it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator

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
