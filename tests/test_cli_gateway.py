"""``cloudflare-ai gateway list|create|logs|stats`` against a running emulator."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudflare_ai import GatewaySettings, WorkersAIClient
from cloudflare_ai_app.cli import app, main
from cloudflare_ai_local import LocalCloudflare

LLAMA = "@cf/meta/llama-3.1-8b-instruct"


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as cf:
        yield cf


@pytest.fixture(autouse=True)
def env(
    emulator: LocalCloudflare, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    monkeypatch.setenv("CLOUDFLARE_AI_LOCAL_DIR", str(tmp_path / "local-data"))
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    return emulator.env


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def traffic(cf: LocalCloudflare, gateway: str) -> None:
    settings = GatewaySettings(id=gateway, base_url=cf.gateway_url, cache_ttl=300)
    with WorkersAIClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url, gateway=settings
    ) as client:
        client.chat(LLAMA, prompt="What does the gateway log?")
        client.chat(LLAMA, prompt="What does the gateway log?")  # a cache hit


def test_create_and_list() -> None:
    made = run("gateway", "create", "cli-gw", "--cache-ttl", "120", "--rate-limit", "30")
    assert "cli-gw: cache 120 s, logs on, rate limit 30 per 60 s, fixed" in made
    listed = run("gateway", "list")
    assert "cli-gw" in listed and "120 s" in listed and "30 per 60 s, fixed" in listed
    again = CliRunner().invoke(app, ["gateway", "create", "cli-gw"])
    assert again.exit_code != 0
    assert "cli-gw" in run("gateway", "create", "cli-gw", "--exist-ok")
    bad = CliRunner().invoke(app, ["gateway", "create", "x", "--rate-technique", "leaky"])
    assert bad.exit_code == 2


def test_logs_and_stats(emulator: LocalCloudflare) -> None:
    traffic(emulator, "cli-traffic")
    logs = run("gateway", "logs", "cli-traffic")
    assert logs.count(LLAMA) == 2 and "HIT" in logs and "MISS" in logs
    [entry] = [e for e in emulator.gateway_logs if e.gateway_id == "cli-traffic" and e.cached]
    assert entry.id in logs
    assert run("gateway", "logs", "cli-traffic", "--cached").count(LLAMA) == 1
    assert "no logs" in run("gateway", "logs", "cli-traffic", "--errors")
    assert run("gateway", "logs", "cli-traffic", "--limit", "1").count(LLAMA) == 1

    stats = run("gateway", "stats", "cli-traffic", "--since", "1h")
    rows = [line for line in stats.splitlines() if LLAMA in line or "total" in line]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[1].strip("│ ").split("│")]
    assert cells[:4] == ["total", "2", "0", "1 (50%)"]
    cost = sum(e.cost or 0 for e in emulator.gateway_logs if e.gateway_id == "cli-traffic")
    assert f"{cost:.6f}" in rows[1]


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["gateway", "stats", "cli-gw", "--since", "soon"], 2, "--since: use a number"),
        (["gateway", "logs", "never-made"], 1, "gateway not found: never-made"),
    ],
)
def test_errors_are_one_readable_line(
    args: list[str],
    code: int,
    said: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["cloudflare-ai", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    [line] = [x for x in err.splitlines() if x.startswith("cloudflare-ai: ")]
    assert said in line and "Traceback" not in err
