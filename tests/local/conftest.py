"""Fixtures: an in-process emulator app and an httpx client bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from cloudflare_ai_local import EmulatorConfig, create_app

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "local-emulator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = f"/client/v4/accounts/{ACCOUNT}"
VEC = f"{API}/vectorize/v2/indexes"
GW = f"/gateway/v1/{ACCOUNT}/my-gateway"
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
LLAMA_8B = "@cf/meta/llama-3.1-8b-instruct"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
BGE = "@cf/baai/bge-base-en-v1.5"


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def app(config: EmulatorConfig) -> Starlette:
    return create_app(config)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator", headers=AUTH, timeout=30
    ) as c:
        yield c
