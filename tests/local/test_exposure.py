"""The emulator refuses to be reachable from the network with its public default token, in
``serve`` and ``LocalCloudflare`` alike, before binding anything."""

from __future__ import annotations

import pytest

from cloudflare_ai_local import LocalCloudflare, UnsafeExposureError, server
from cloudflare_ai_local.config import DEFAULT_API_TOKEN, check_exposure, is_loopback

EVERYWHERE = "0.0.0.0"  # noqa: S104 - never bound: checked before binding


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        (EVERYWHERE, False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("128.0.0.1", False),
        ("localhost.example.com", False),
        ("my-laptop", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


@pytest.mark.parametrize("host", [EVERYWHERE, "::", "192.168.1.20"])
def test_serve_refuses_the_default_token_off_loopback(
    host: str, uvicorn_runs: list[dict[str, object]]
) -> None:
    with pytest.raises(UnsafeExposureError, match="public default token"):
        server.serve(host, 8787)
    with pytest.raises(UnsafeExposureError):  # naming the default explicitly is no better
        server.serve(host, 8787, api_token=DEFAULT_API_TOKEN)
    assert uvicorn_runs == []


def test_serve_accepts_a_token_of_ones_own_off_loopback(
    uvicorn_runs: list[dict[str, object]],
) -> None:
    server.serve(EVERYWHERE, 8787, api_token="a-secret-of-my-own")
    assert [(c["host"], c["port"]) for c in uvicorn_runs] == [(EVERYWHERE, 8787)]


def test_serve_on_loopback_keeps_the_default(uvicorn_runs: list[dict[str, object]]) -> None:
    server.serve("127.0.0.1", 8787)
    assert uvicorn_runs[0]["host"] == "127.0.0.1"


@pytest.mark.parametrize("token", ["", "has space", "tab\there"])
def test_an_unusable_token_is_refused_anywhere(token: str) -> None:
    with pytest.raises(UnsafeExposureError, match="non-empty"):
        check_exposure("127.0.0.1", token)


def test_local_cloudflare_checks_before_binding() -> None:
    cf = LocalCloudflare(host=EVERYWHERE)
    with pytest.raises(UnsafeExposureError):
        cf.start()
    assert cf.port == 0  # no port was picked, nothing was bound
    cf.stop()
