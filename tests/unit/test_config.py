"""Credentials, precedence, secrecy of the token and AI Gateway settings."""

from __future__ import annotations

import logging

import httpx
import pydantic
import pytest

from cloudflare_ai import (
    APIConnectionError,
    AuthenticationError,
    ClientSettings,
    ConfigurationError,
    GatewaySettings,
    RetryPolicy,
    VectorizeClient,
    WorkersAIClient,
)
from cloudflare_ai.config import DEFAULT_BASE_URL, DEFAULT_GATEWAY_URL

from ._support import (
    ACCOUNT,
    FAST,
    TOKEN,
    Recorder,
    ai_client,
    clear_env,
    envelope,
    failure,
    json_response,
    vz_client,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)


# --- credentials --------------------------------------------------------------------------


def test_credentials_from_arguments() -> None:
    s = ClientSettings.resolve(account_id="acc-arg", api_token="tok-arg")
    assert s.account_id == "acc-arg"
    assert s.api_token.get_secret_value() == "tok-arg"
    assert s.base_url == DEFAULT_BASE_URL
    assert s.account_url == f"{DEFAULT_BASE_URL}/accounts/acc-arg"
    assert s.gateway is None


@pytest.mark.parametrize("name", ["CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID"])
def test_account_id_from_each_env_var(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, f"acc-from-{name}")
    s = ClientSettings.resolve(api_token="t")
    assert s.account_id == f"acc-from-{name}"


@pytest.mark.parametrize("name", ["CLOUDFLARE_API_TOKEN", "CF_API_TOKEN", "CF_AI_API_TOKEN"])
def test_token_from_each_env_var(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, f"tok-from-{name}")
    s = ClientSettings.resolve(account_id="a")
    assert s.api_token.get_secret_value() == f"tok-from-{name}"


def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", "http://127.0.0.1:8787/client/v4/")
    s = ClientSettings.resolve(account_id="a", api_token="t")
    assert s.base_url == "http://127.0.0.1:8787/client/v4"
    assert s.account_url == "http://127.0.0.1:8787/client/v4/accounts/a"


def test_arguments_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "env-acc")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "env-tok")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", "http://env.example/client/v4")
    s = ClientSettings.resolve(
        account_id="arg-acc", api_token="arg-tok", base_url="https://arg.example/v4"
    )
    assert (s.account_id, s.api_token.get_secret_value(), s.base_url) == (
        "arg-acc",
        "arg-tok",
        "https://arg.example/v4",
    )


def test_first_env_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "first-acc")
    monkeypatch.setenv("CF_ACCOUNT_ID", "second-acc")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "first-tok")
    monkeypatch.setenv("CF_API_TOKEN", "second-tok")
    monkeypatch.setenv("CF_AI_API_TOKEN", "third-tok")
    s = ClientSettings.resolve()
    assert s.account_id == "first-acc"
    assert s.api_token.get_secret_value() == "first-tok"


def test_second_token_env_name_beats_third(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CF_API_TOKEN", "second-tok")
    monkeypatch.setenv("CF_AI_API_TOKEN", "third-tok")
    assert ClientSettings.resolve(account_id="a").api_token.get_secret_value() == "second-tok"


def test_empty_env_var_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "")
    monkeypatch.setenv("CF_ACCOUNT_ID", "fallback-acc")
    assert ClientSettings.resolve(api_token="t").account_id == "fallback-acc"


def test_missing_account_id_names_argument_and_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.resolve(api_token="t")
    message = str(info.value)
    assert "account_id" in message
    assert "CLOUDFLARE_ACCOUNT_ID" in message


def test_missing_token_names_argument_and_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.resolve(account_id="a")
    message = str(info.value)
    assert "api_token" in message
    assert "CLOUDFLARE_API_TOKEN" in message


def test_missing_credentials_raised_by_clients_too() -> None:
    with pytest.raises(ConfigurationError, match="CLOUDFLARE_API_TOKEN"):
        WorkersAIClient(account_id="a")
    with pytest.raises(ConfigurationError, match="CLOUDFLARE_ACCOUNT_ID"):
        VectorizeClient(api_token="t")


def test_configuration_error_is_value_error() -> None:
    with pytest.raises(ValueError, match="account"):
        ClientSettings.resolve()


def test_bad_base_url_is_configuration_error_without_token() -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.resolve(account_id="a", api_token=TOKEN, base_url="ftp://example.com")
    assert "ftp://example.com" in str(info.value)
    assert TOKEN not in str(info.value)


def test_token_with_whitespace_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.resolve(account_id="a", api_token="abc def")
    assert "abc def" not in str(info.value)


# --- the token stays secret -----------------------------------------------------------------


def test_token_absent_from_repr_and_str_of_settings_and_clients() -> None:
    gateway = GatewaySettings(id="gw", token="gateway-SECRET-xyz")
    settings = ClientSettings.resolve(account_id=ACCOUNT, api_token=TOKEN, gateway=gateway)
    ai = WorkersAIClient(settings=settings, http_client=httpx.Client())
    vz = VectorizeClient(settings=settings, http_client=httpx.Client())
    for obj in (settings, ai, vz, gateway):
        for text in (repr(obj), str(obj)):
            assert TOKEN not in text
            assert "gateway-SECRET-xyz" not in text
    assert ACCOUNT in repr(settings)
    assert "gw" in repr(settings)
    assert "'gw'" in repr(gateway)


def test_token_absent_from_401_error_and_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="cloudflare_ai")
    rec = Recorder(
        lambda r: json_response(
            401, failure(10000, "Authentication error"), {"cf-ray": "ray-401-ORD"}
        )
    )
    client = ai_client(rec)
    with pytest.raises(AuthenticationError) as info:
        client.run("@cf/meta/llama-3.1-8b-instruct", {"prompt": "hi"})
    exc = info.value
    assert rec.count == 1
    assert rec.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    for text in (str(exc), repr(exc), exc.message, *map(str, exc.args), str(exc.headers)):
        assert TOKEN not in text
    assert str(exc.errors).count(TOKEN) == 0
    assert "@cf/meta/llama-3.1-8b-instruct" in str(exc)  # the path is named, not the token
    assert exc.request_id == "ray-401-ORD"
    records = [r for r in caplog.records if r.name.startswith("cloudflare_ai")]
    assert records, "expected at least one DEBUG record from cloudflare_ai"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


def test_token_absent_from_retry_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cloudflare_ai")
    responses = iter([json_response(503, failure(None)), json_response(200, envelope({}))])
    client = ai_client(Recorder(lambda r: next(responses)))
    client.run("@cf/meta/llama-3.1-8b-instruct", {"prompt": "hi"})
    messages = [r.getMessage() for r in caplog.records if r.name == "cloudflare_ai"]
    assert any("retrying" in m for m in messages)
    assert all(TOKEN not in m for m in messages)


def test_token_absent_from_connection_error() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = ai_client(boom, retry=RetryPolicy(max_retries=0))
    with pytest.raises(APIConnectionError) as info:
        client.run("@cf/meta/llama-3.1-8b-instruct", {"prompt": "x"})
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)


# --- AI Gateway settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"cache_ttl": 59},
        {"cache_ttl": 30 * 24 * 3600 + 1},
        {"metadata": {f"k{i}": i for i in range(6)}},
        {"max_attempts": 0},
        {"max_attempts": 6},
        {"retry_delay_ms": 5001},
        {"retry_delay_ms": -1},
        {"backoff": "fibonacci"},
        {"request_timeout_ms": 0},
        {"base_url": "gateway.ai.cloudflare.com/v1"},
        {"unknown_option": True},
    ],
)
def test_gateway_invalid_options(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="invalid AI Gateway settings"):
        GatewaySettings.coerce({"id": "gw", **options})
    with pytest.raises(pydantic.ValidationError):
        GatewaySettings(id="gw", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("gateway_id", ["a/b", "", " gw", "gw "])
def test_gateway_invalid_id(gateway_id: str) -> None:
    with pytest.raises(ConfigurationError):
        GatewaySettings.coerce(gateway_id if gateway_id else {"id": ""})
    with pytest.raises(pydantic.ValidationError):
        GatewaySettings(id=gateway_id)


@pytest.mark.parametrize(
    "options",
    [
        {"cache_ttl": 60},
        {"cache_ttl": 30 * 24 * 3600},
        {"metadata": {f"k{i}": i for i in range(5)}},
        {"max_attempts": 1},
        {"max_attempts": 5},
        {"retry_delay_ms": 0},
        {"retry_delay_ms": 5000},
        {"backoff": "constant"},
        {"backoff": "linear"},
        {"backoff": "exponential"},
    ],
)
def test_gateway_valid_boundaries(options: dict[str, object]) -> None:
    settings = GatewaySettings.coerce({"id": "gw", **options})
    assert settings is not None
    assert settings.id == "gw"


def test_gateway_invalid_settings_via_client_resolve() -> None:
    with pytest.raises(ConfigurationError, match="cache_ttl"):
        ClientSettings.resolve(account_id="a", api_token="t", gateway={"id": "g", "cache_ttl": 1})


def test_gateway_headers_exact() -> None:
    gw = GatewaySettings(
        id="gw",
        token="gw-token",
        cache_ttl=3600,
        skip_cache=True,
        cache_key="my-key",
        metadata={"team": "AI", "user": 12345, "test": True},
        collect_log=False,
        request_timeout_ms=2500,
        max_attempts=3,
        retry_delay_ms=1000,
        backoff="exponential",
        event_id="evt-1",
    )
    assert gw.headers() == {
        "cf-aig-authorization": "Bearer gw-token",
        "cf-aig-cache-ttl": "3600",
        "cf-aig-skip-cache": "true",
        "cf-aig-cache-key": "my-key",
        "cf-aig-metadata": '{"team":"AI","user":12345,"test":true}',
        "cf-aig-collect-log": "false",
        "cf-aig-request-timeout": "2500",
        "cf-aig-max-attempts": "3",
        "cf-aig-retry-delay": "1000",
        "cf-aig-backoff": "exponential",
        "cf-aig-event-id": "evt-1",
    }


def test_gateway_headers_minimal() -> None:
    assert GatewaySettings(id="gw").headers() == {}
    assert GatewaySettings(id="gw", collect_log=True).headers() == {"cf-aig-collect-log": "true"}
    assert GatewaySettings(id="gw", skip_cache=False).headers() == {}


def test_gateway_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_AI_GATEWAY_ID", "env-gw")
    monkeypatch.setenv("CLOUDFLARE_AI_GATEWAY_TOKEN", "env-gw-token")
    monkeypatch.setenv("CLOUDFLARE_AI_GATEWAY_URL", "http://localhost:9000/v1/")
    s = ClientSettings.resolve(account_id="a", api_token="t")
    assert s.gateway is not None
    assert s.gateway.id == "env-gw"
    assert s.gateway.base_url == "http://localhost:9000/v1"
    assert s.gateway.token is not None
    assert s.gateway.token.get_secret_value() == "env-gw-token"
    assert s.gateway.headers()["cf-aig-authorization"] == "Bearer env-gw-token"


def test_gateway_env_defaults_apply_to_string_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_AI_GATEWAY_URL", "https://gw.example/v1")
    gw = GatewaySettings.coerce("named")
    assert gw is not None
    assert (gw.id, gw.base_url) == ("named", "https://gw.example/v1")


def test_gateway_absent_without_env() -> None:
    assert GatewaySettings.coerce(None) is None
    gw = GatewaySettings.coerce("x")
    assert gw is not None
    assert gw.base_url == DEFAULT_GATEWAY_URL
    assert gw.token is None


def test_gateway_merged_revalidates() -> None:
    gw = GatewaySettings(id="gw", cache_ttl=120)
    assert gw.merged(skip_cache=True).headers() == {
        "cf-aig-cache-ttl": "120",
        "cf-aig-skip-cache": "true",
    }
    with pytest.raises(pydantic.ValidationError):
        gw.merged(cache_ttl=5)


def test_clients_accept_fast_retry_policy() -> None:
    client = vz_client(Recorder(lambda r: json_response(200, envelope([]))))
    assert client.list_indexes() == []
    assert client._transport.retry is FAST


def test_gateway_errors_are_one_short_line() -> None:
    from cloudflare_ai import ConfigurationError, GatewaySettings

    with pytest.raises(ConfigurationError) as info:
        GatewaySettings.coerce({"id": "gw", "cache_ttl": 5, "max_attempts": 9})
    message = str(info.value)
    assert "cache_ttl" in message and "max_attempts" in message
    assert "errors.pydantic.dev" not in message
    assert "\n" not in message


def test_connection_gateway_helper_uses_the_local_gateway() -> None:
    from cloudflare_ai_app.environment import Connection

    local = Connection(
        "a" * 32, "t", "http://127.0.0.1:1/client/v4", "http://127.0.0.1:1/gateway/v1", True
    )
    settings = local.gateway("gw", cache_ttl=120)
    assert settings.base_url == "http://127.0.0.1:1/gateway/v1"
    assert settings.cache_ttl == 120
    remote = Connection("a" * 32, "t", None, None, False)
    assert remote.gateway("gw").base_url == "https://gateway.ai.cloudflare.com/v1"
