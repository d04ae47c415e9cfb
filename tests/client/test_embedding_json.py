"""The fast embedding decoder: the same numbers as a plain JSON decode, and every answer it
does not recognise handed to the general path (which raises the typed errors)."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudflare_ai import APIError, AsyncWorkersAIClient, WorkersAIClient
from cloudflare_ai.embedding_json import native_embeddings, openai_embeddings

MODEL = "@cf/baai/bge-base-en-v1.5"


def native_body(rows: list[list[float]], **result: object) -> bytes:
    shape = [len(rows), len(rows[0]) if rows else 0]
    return orjson.dumps(
        {
            "result": {"shape": shape, "data": rows, "pooling": "mean", **result},
            "success": True,
            "errors": [],
            "messages": [],
        }
    )


def openai_body(rows: list[list[float]], order: list[int] | None = None) -> bytes:
    order = order if order is not None else list(range(len(rows)))
    return orjson.dumps(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": rows[i]} for i in order],
            "model": MODEL,
            "usage": {"prompt_tokens": 7, "total_tokens": 7},
        }
    )


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda d: st.lists(st.lists(finite, min_size=d, max_size=d), min_size=1, max_size=5)
    )
)
def test_native_answers_decode_to_the_same_doubles_as_a_json_parser(
    rows: list[list[float]],
) -> None:
    decoded = native_embeddings(native_body(rows))
    assert decoded is not None
    matrix, usage = decoded
    assert usage is None
    assert matrix.dtype == np.float64
    assert matrix.tolist() == orjson.loads(native_body(rows))["result"]["data"]


def test_usage_and_integers_and_exponents_are_read() -> None:
    body = (
        b'{"result":{"shape":[2,3],"data":[[1,-0.0,1e-45],[2.5E+3,-7,0.1]],'
        b'"usage":{"prompt_tokens":12}},"success":true,"errors":[],"messages":[]}'
    )
    decoded = native_embeddings(body)
    assert decoded is not None
    matrix, usage = decoded
    assert matrix.tolist() == [[1.0, -0.0, 1e-45], [2500.0, -7.0, 0.1]]
    assert usage == {"prompt_tokens": 12}


@pytest.mark.parametrize(
    "body",
    [
        b'{"result":{"data":[[1,2],[3]]},"success":true}',  # rows of differing lengths
        b'{"result":{"data":[[1,2],[3,null]]},"success":true}',  # not a number
        b'{"result":{"data":[[1,2],[3,"4"]]},"success":true}',
        b'{"result":{"data":[[1,2],[3,[4]]]},"success":true}',  # nested deeper
        b'{"result":{"data":[1,2]},"success":true}',  # not a matrix
        b'{"result":null,"success":false,"errors":[{"code":5006,"message":"x"}]}',
        b'{"result":{"data":[[1,2]]}}',  # no success flag
        b'{"result":{"data":[[1,2]',  # truncated
        b"<html>bad gateway</html>",
        b"[]",
    ],
)
def test_anything_but_a_successful_answer_is_left_to_the_general_path(body: bytes) -> None:
    assert native_embeddings(body) is None
    assert openai_embeddings(body) is None


def test_openai_answers_in_index_order_are_read_and_others_are_not() -> None:
    rows = [[0.25, -1.0], [0.5, 2.0], [3.0, 4.0]]
    decoded = openai_embeddings(openai_body(rows))
    assert decoded is not None
    assert decoded[0].tolist() == rows
    assert decoded[1] == {"prompt_tokens": 7, "total_tokens": 7}
    assert openai_embeddings(openai_body(rows, order=[2, 0, 1])) is None


def test_the_parser_is_reusable_after_a_failure_and_per_thread() -> None:
    good = native_body([[1.0, 2.0]])
    assert native_embeddings(b'{"result":{"data":[[1,"x"]]},"success":true}') is None
    for _ in range(3):
        decoded = native_embeddings(good)
        assert decoded is not None and decoded[0].tolist() == [[1.0, 2.0]]
    results: list[list[list[float]]] = []

    def work(value: float) -> None:
        for _ in range(200):
            out = native_embeddings(native_body([[value] * 64] * 8))
            assert out is not None
            results.append(out[0].tolist())

    threads = [threading.Thread(target=work, args=(v,)) for v in (0.5, -0.25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 400
    assert all(len({v for row in m for v in row}) == 1 for m in results)


# --- through the clients -----------------------------------------------------------------------


def _client(transport: httpx.MockTransport) -> WorkersAIClient:
    return WorkersAIClient(
        account_id="acct",
        api_token="tok",
        max_retries=0,
        http_client=httpx.Client(transport=transport, base_url="https://api.example"),
    )


def test_clients_give_lists_and_float32_arrays_of_the_same_values() -> None:
    rows = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=native_body(rows)))
    with _client(transport) as client:
        listed = client.embed(["a", "b"], model=MODEL)
        array = client.embed_array(["a", "b"], model=MODEL)
    assert listed.vectors == rows
    assert array.array.dtype == np.float32
    assert array.array.tolist() == np.array(rows, dtype=np.float32).tolist()


def test_a_ragged_answer_still_raises_the_typed_error() -> None:
    body = b'{"result":{"shape":[2,2],"data":[[1,2],[3]]},"success":true,"errors":[],"messages":[]}'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with _client(transport) as client, pytest.raises(APIError, match="differing lengths"):
        client.embed_array(["a", "b"], model=MODEL)


def test_an_error_envelope_still_raises_cloudflares_message() -> None:
    body = orjson.dumps(
        {"result": None, "success": False, "errors": [{"code": 5006, "message": "too long"}]}
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with _client(transport) as client, pytest.raises(APIError, match="too long"):
        client.embed(["a"], model=MODEL)


def test_a_short_answer_still_raises_the_count_error() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=native_body([[1.0, 2.0]]))
    )
    with _client(transport) as client, pytest.raises(APIError, match="expected 2 embeddings"):
        client.embed(["a", "b"], model=MODEL)


async def test_async_openai_endpoint_out_of_order_is_sorted() -> None:
    rows = [[1.0, 0.0], [0.0, 1.0]]
    body = openai_body(rows, order=[1, 0])
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with AsyncWorkersAIClient(
        account_id="acct",
        api_token="tok",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=transport, base_url="https://api.example"),
    ) as client:
        answer = await client.embed_array(["a", "b"], model=MODEL, api="openai")
    assert answer.array.tolist() == rows


def test_nested_arrays_are_never_flattened_into_a_row() -> None:
    nested = openai_body([[1.0, 2.0], [3.0, 4.0]]).replace(b"[3.0,4.0]", b"[3.0,[4.0]]")
    assert openai_embeddings(nested) is None
    with_brackets_in_strings = native_body([[1.0, 2.0]], note="[a] [b")
    decoded = native_embeddings(with_brackets_in_strings)
    assert decoded is not None and decoded[0].tolist() == [[1.0, 2.0]]
