"""Property test: whatever the body, the emulator answers with a Cloudflare 4xx, never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudflare_ai_local import EmulatorConfig, create_app

from .conftest import API, AUTH, BGE, LLAMA, VEC

APP = create_app(EmulatorConfig())

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "prompt",
        "messages",
        "text",
        "tools",
        "stream",
        "max_tokens",
        "response_format",
        "vector",
        "topK",
        "filter",
        "returnMetadata",
        "returnValues",
        "namespace",
        "ids",
        "name",
        "config",
        "model",
        "input",
        "propertyName",
        "indexType",
        "vectorId",
    ]
)
bodies = st.one_of(
    st.dictionaries(keys, json_values, max_size=5).map(orjson.dumps),
    json_values.map(orjson.dumps),
    st.binary(max_size=60),
)
PATHS = [
    f"{API}/ai/run/{LLAMA}",
    f"{API}/ai/run/{BGE}",
    f"{API}/ai/v1/chat/completions",
    f"{API}/ai/v1/embeddings",
    VEC,
    f"{VEC}/fuzz/query",
    f"{VEC}/fuzz/upsert",
    f"{VEC}/fuzz/get_by_ids",
    f"{VEC}/fuzz/metadata_index/create",
    "/gateway/v1/0123456789abcdef0123456789abcdef/gw",
]


async def _post_all(body: bytes) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://e", headers=AUTH) as c:
        await c.post(VEC, json={"name": "fuzz", "config": {"dimensions": 2, "metric": "cosine"}})
        return [await c.post(path, content=body) for path in PATHS]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_never_500(body: bytes) -> None:
    for response in asyncio.run(_post_all(body)):
        assert response.status_code < 500, (response.request.url, body, response.text)
        if response.status_code >= 400:
            data: Any = response.json()
            assert data["success"] is False and data["errors"][0]["code"] >= 1000
