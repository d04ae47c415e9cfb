"""``LocalCloudflare`` over real sockets: lifecycle, env, auth, routing and every fault kind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloudflare_ai_local import FaultConfig, LocalCloudflare

from .conftest import LLAMA_8B
from .helpers import assert_error, sse_events


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def http(cf: LocalCloudflare) -> Iterator[httpx.Client]:
    cf.set_faults(FaultConfig())
    with httpx.Client(
        base_url=cf.base_url, headers={"Authorization": f"Bearer {cf.api_token}"}, timeout=5
    ) as c:
        yield c
    cf.set_faults(FaultConfig())


def run_url(cf: LocalCloudflare, model: str = LLAMA_8B) -> str:
    return f"/accounts/{cf.account_id}/ai/run/{model}"


def test_addresses_and_env(cf: LocalCloudflare) -> None:
    assert cf.base_url.startswith("http://127.0.0.1:") and cf.base_url.endswith("/client/v4")
    assert cf.gateway_url.endswith("/gateway/v1")
    assert cf.env == {
        "CLOUDFLARE_ACCOUNT_ID": cf.account_id,
        "CLOUDFLARE_API_TOKEN": cf.api_token,
        "CLOUDFLARE_BASE_URL": cf.base_url,
        "CLOUDFLARE_AI_GATEWAY_URL": cf.gateway_url,
    }
    assert len(cf.account_id) == 32
    assert cf.api_token not in repr(cf) and cf.api_token not in repr(cf.config)


def test_auth_and_routing(cf: LocalCloudflare, http: httpx.Client) -> None:
    anon = httpx.post(f"{cf.base_url}{run_url(cf)}", json={"prompt": "x"})
    assert anon.json() == {
        "result": None,
        "success": False,
        "errors": [{"code": 10000, "message": "Authentication error"}],
        "messages": [],
    }
    assert anon.status_code == 401
    wrong = httpx.post(
        f"{cf.base_url}{run_url(cf)}",
        json={"prompt": "x"},
        headers={"Authorization": "Bearer nope"},
    )
    assert_error(wrong, 401, 10000)
    other_account = http.post(f"/accounts/{'a' * 32}/ai/run/{LLAMA_8B}", json={"prompt": "x"})
    assert_error(other_account, 403, 10000)
    assert_error(http.get("/accounts/x/nowhere"), 404, 7000)
    assert_error(http.get(run_url(cf)), 405, 10405)
    ok = http.post(run_url(cf), json={"prompt": "x"})
    assert ok.status_code == 200 and "x-local-engine" in ok.headers


def test_status_faults(cf: LocalCloudflare, http: httpx.Client) -> None:
    expectations = {
        "429": (429, 971),
        "3040": (429, 3040),
        "500": (500, 7500),
        "502": (502, 7502),
        "503": (503, 7503),
    }
    for kind, (status, code) in expectations.items():
        cf.set_faults(FaultConfig(rate=1.0, kinds=[kind], retry_after=7))  # type: ignore[list-item]
        r = http.post(run_url(cf), json={"prompt": "x"})
        body = assert_error(r, status, code)
        if kind == "3040":
            assert (
                body["errors"][0]["message"] == "Capacity temporarily exceeded, please try again."
            )
        if status == 429:
            assert r.headers["retry-after"] == "7"
        assert "x-local-engine" in r.headers and r.headers["cf-ray"].endswith("-LCL")
    assert cf.injected_faults[-1][1] == "503"


def test_faults_toggle_and_path_filter(cf: LocalCloudflare, http: httpx.Client) -> None:
    cf.set_faults(rate=1.0, kinds=["500"], paths=["/vectorize/"])
    assert http.post(run_url(cf), json={"prompt": "x"}).status_code == 200
    assert http.get(f"/accounts/{cf.account_id}/vectorize/v2/indexes").status_code == 500
    cf.set_faults(FaultConfig())
    assert http.get(f"/accounts/{cf.account_id}/vectorize/v2/indexes").status_code == 200


def test_fault_rate_is_seeded(cf: LocalCloudflare, http: httpx.Client) -> None:
    def pattern() -> list[int]:
        cf.set_faults(FaultConfig(rate=0.5, kinds=["503"], seed=42))
        return [http.post(run_url(cf), json={"prompt": "x"}).status_code for _ in range(12)]

    first, second = pattern(), pattern()
    assert first == second
    assert set(first) == {200, 503}


def test_drop_fault(cf: LocalCloudflare, http: httpx.Client) -> None:
    cf.set_faults(FaultConfig(rate=1.0, kinds=["drop"]))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post(run_url(cf), json={"prompt": "x"})
    cf.set_faults(FaultConfig())
    assert http.post(run_url(cf), json={"prompt": "x"}).status_code == 200


def test_timeout_fault(cf: LocalCloudflare, http: httpx.Client) -> None:
    cf.set_faults(FaultConfig(rate=1.0, kinds=["timeout"], timeout_seconds=1.0))
    with pytest.raises(httpx.ReadTimeout):
        http.post(run_url(cf), json={"prompt": "x"}, timeout=0.3)


def test_stream_cut_fault(cf: LocalCloudflare, http: httpx.Client) -> None:
    cf.set_faults(FaultConfig(rate=1.0, kinds=["stream_cut"], stream_cut_after=2))
    r = http.post(run_url(cf), json={"prompt": "one two three four five six", "stream": True})
    events = sse_events(r.text)
    assert len(events) == 2 and "[DONE]" not in events
    plain = http.post(run_url(cf), json={"prompt": "x"})  # non-SSE responses pass untouched
    assert plain.status_code == 200 and plain.json()["success"]


def test_latency(cf: LocalCloudflare, http: httpx.Client) -> None:
    cf.set_latency(150)
    start = time.perf_counter()
    http.post(run_url(cf), json={"prompt": "x"})
    assert time.perf_counter() - start >= 0.15
    cf.set_latency(0)
    start = time.perf_counter()
    http.post(run_url(cf), json={"prompt": "x"})
    assert time.perf_counter() - start < 0.15


def test_fault_config_validation() -> None:
    with pytest.raises(ValueError, match="rate"):
        FaultConfig(rate=2)
    with pytest.raises(ValueError, match="unknown fault"):
        FaultConfig(kinds=["boom"])  # type: ignore[list-item]


def test_restart_on_same_data_dir_and_write_delay(tmp_path: Path) -> None:
    base = "/vectorize/v2/indexes"
    with LocalCloudflare(data_dir=tmp_path, write_delay=0.2) as cf:
        h = {"Authorization": f"Bearer {cf.api_token}"}
        url = f"{cf.base_url}/accounts/{cf.account_id}{base}"
        httpx.post(
            url, json={"name": "keep", "config": {"dimensions": 2, "metric": "cosine"}}, headers=h
        )
        httpx.post(f"{url}/keep/upsert", content=b'{"id":"a","values":[1,2]}', headers=h)
        assert httpx.get(f"{url}/keep/info", headers=h).json()["result"]["vectorCount"] == 0
        cf.set_write_delay(0)
    # stop() applied the pending mutation before closing
    with LocalCloudflare(data_dir=tmp_path) as cf:
        h = {"Authorization": f"Bearer {cf.api_token}"}
        url = f"{cf.base_url}/accounts/{cf.account_id}{base}"
        got = httpx.post(f"{url}/keep/get_by_ids", json={"ids": ["a"]}, headers=h).json()["result"]
        assert got == [{"id": "a", "values": [1.0, 2.0], "metadata": {}}]


async def test_async_context_manager() -> None:
    async with LocalCloudflare(gateway_token="t") as cf:
        async with httpx.AsyncClient() as c:
            r = await c.post(
                f"{cf.gateway_url}/{cf.account_id}/gw/workers-ai/{LLAMA_8B}",
                json={"prompt": "x"},
                headers={
                    "Authorization": f"Bearer {cf.api_token}",
                    "cf-aig-authorization": "Bearer t",
                },
            )
        assert r.status_code == 200
        assert len(cf.gateway_logs) == 1
