"""Failures that cannot live in a cassette (dropped connections, read timeouts, cut streams),
exercised against the emulator's fault injection over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudflare_ai import (
    APIConnectionError,
    APITimeoutError,
    CapacityError,
    MutationTimeoutError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    StreamError,
    Vector,
    VectorizeClient,
    WorkersAIClient,
)
from cloudflare_ai_local import FaultConfig, LocalCloudflare

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
MESSAGES = [{"role": "user", "content": "Tell me about the emulator and its faults please."}]
NO_RETRY = RetryPolicy(max_retries=0)
FAST = RetryPolicy(max_retries=4, initial_delay=0.005, max_delay=0.02, max_retry_after=0.05)


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as cf:
        yield cf


@pytest.fixture(autouse=True)
def _clear(emulator: LocalCloudflare) -> Iterator[None]:
    yield
    emulator.set_faults(FaultConfig())


def _ai(emulator: LocalCloudflare, retry: RetryPolicy, **kwargs: object) -> WorkersAIClient:
    return WorkersAIClient(
        account_id=emulator.account_id,
        api_token=emulator.api_token,
        base_url=emulator.base_url,
        retry=retry,
        **kwargs,  # type: ignore[arg-type]
    )


def test_dropped_connections_are_retried_then_reported(emulator: LocalCloudflare) -> None:
    emulator.set_faults(FaultConfig(rate=1.0, kinds=("drop",)))
    with _ai(emulator, FAST) as ai, pytest.raises(APIConnectionError):
        ai.chat(LLAMA, MESSAGES)
    assert sum(1 for _, kind in emulator.injected_faults if kind == "drop") == 5  # 1 + 4 retries


def test_read_timeout_is_a_typed_timeout(emulator: LocalCloudflare) -> None:
    emulator.set_faults(FaultConfig(rate=1.0, kinds=("timeout",), timeout_seconds=2.0))
    with _ai(emulator, NO_RETRY, timeout=0.3) as ai, pytest.raises(APITimeoutError):
        ai.chat(LLAMA, MESSAGES)


def test_cut_stream_raises_and_keeps_partial_text(emulator: LocalCloudflare) -> None:
    emulator.set_faults(FaultConfig(rate=1.0, kinds=("stream_cut",), stream_cut_after=3))
    received: list[str] = []

    def consume() -> None:
        with _ai(emulator, NO_RETRY) as ai:
            for chunk in ai.stream_chat(LLAMA, MESSAGES):
                received.append(chunk.text)

    with pytest.raises(StreamError) as info:
        consume()
    assert received, "some chunks arrived before the cut"
    assert info.value.partial_text == "".join(received)
    assert "incomplete" in str(info.value)


@pytest.mark.parametrize(
    ("kind", "error"),
    [("429", RateLimitError), ("3040", CapacityError), ("500", ServerError), ("503", ServerError)],
)
def test_each_failure_kind_maps_to_its_error(
    emulator: LocalCloudflare, kind: str, error: type[Exception]
) -> None:
    emulator.set_faults(FaultConfig(rate=1.0, kinds=(kind,)))  # type: ignore[arg-type]
    with _ai(emulator, NO_RETRY) as ai, pytest.raises(error):
        ai.chat(LLAMA, MESSAGES)


def test_twenty_percent_faults_are_survived(emulator: LocalCloudflare) -> None:
    emulator.set_faults(
        FaultConfig(rate=0.2, kinds=("429", "3040", "500", "502", "503", "drop"), seed=3)
    )
    kwargs = {"account_id": emulator.account_id, "api_token": emulator.api_token}
    with (
        _ai(emulator, FAST) as ai,
        VectorizeClient(**kwargs, base_url=emulator.base_url, retry=FAST) as db,  # type: ignore[arg-type]
    ):
        texts = [f"fault tolerant document {i}" for i in range(300)]
        vectors = ai.embed(texts).vectors
        db.create_index("faulty", dimensions=768, exist_ok=True)
        result = db.upsert("faulty", [Vector(f"d{i}", v) for i, v in enumerate(vectors)], wait=True)
        assert result.count == 300
        emulator.set_faults(FaultConfig())
        assert db.info("faulty").vector_count == 300
    assert emulator.injected_faults, "faults were injected"


def test_wait_really_waits_for_delayed_writes() -> None:
    """With writes applied only after a delay, ``wait=True`` returns once they are visible,
    even when an earlier mutation (the metadata index) was processed after the write was
    accepted."""
    with LocalCloudflare(write_delay=0.6) as cf:
        kwargs = {"account_id": cf.account_id, "api_token": cf.api_token}
        with VectorizeClient(**kwargs, base_url=cf.base_url, retry=FAST) as db:  # type: ignore[arg-type]
            db.create_index("delayed", dimensions=2)
            db.create_metadata_index("delayed", "kind", "string")
            for round_ in range(3):
                ids = [f"r{round_}-{i}" for i in range(3)]
                db.upsert("delayed", [Vector(i, [1.0, float(n)]) for n, i in enumerate(ids)],
                          wait=True, wait_timeout=10)  # fmt: skip
                assert {r.id for r in db.get_by_ids("delayed", ids)} == set(ids)
            mutation = db.upsert("delayed", [Vector("late", [0.0, 1.0])]).mutation_id
            assert mutation is not None
            with pytest.raises(MutationTimeoutError):
                db.wait_for_mutation("delayed", mutation, timeout=0.1)
            db.wait_for_mutation("delayed", mutation, timeout=10)
            assert db.get_by_ids("delayed", ["late"])
