"""Small helpers shared by the emulator tests."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from .conftest import VEC


def sse_events(text: str) -> list[Any]:
    """Parse an SSE body strictly: every event is ``data: ...`` followed by a blank line."""
    assert text.endswith("\n\n"), text[-40:]
    out: list[Any] = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data: "), block
        assert "\n" not in block, block
        payload = block[len("data: ") :]
        out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out


def assert_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["result"] is None
    assert body["messages"] == []
    assert body["errors"][0]["code"] == code, body
    assert isinstance(body["errors"][0]["message"], str)
    return dict(body)


def ndjson(*records: dict[str, Any]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


async def make_index(
    client: httpx.AsyncClient, name: str = "docs", dims: int = 3, metric: str = "cosine"
) -> None:
    r = await client.post(
        VEC, json={"name": name, "config": {"dimensions": dims, "metric": metric}}
    )
    assert r.status_code == 200, r.text


async def upsert(client: httpx.AsyncClient, name: str, *records: dict[str, Any]) -> str:
    r = await client.post(
        f"{VEC}/{name}/upsert",
        content=ndjson(*records),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["result"]["mutationId"])


async def query(client: httpx.AsyncClient, name: str, **body: Any) -> httpx.Response:
    return await client.post(f"{VEC}/{name}/query", json=body)
