"""Error classes from statuses and codes, and the retry behaviour of the transport."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from cloudflare_ai import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    CapacityError,
    CloudflareError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    StreamError,
)
from cloudflare_ai.errors import error_from_response, parse_error_body, parse_retry_after
from cloudflare_ai.transport import should_retry

from ._support import (
    CHAT_MODEL,
    FAST,
    ChunkedStream,
    Recorder,
    ai_client,
    async_ai_client,
    clear_env,
    envelope,
    failure,
    json_response,
    sse,
)

MODEL = "@cf/meta/llama-3.1-8b-instruct"
NO_RETRY = RetryPolicy(max_retries=0)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)


def run_once(status: int, body: object, headers: dict[str, str] | None = None) -> APIError:
    rec = Recorder(lambda r: json_response(status, body, headers))
    with pytest.raises(APIError) as info:
        ai_client(rec, retry=NO_RETRY).run(MODEL, {"prompt": "hi"})
    assert rec.count == 1
    return info.value


# --- status and code → class ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, 10000, AuthenticationError),
        (401, None, AuthenticationError),
        (403, 10000, PermissionDeniedError),
        (403, None, PermissionDeniedError),
        (403, 5016, PermissionDeniedError),
        (403, 5035, PermissionDeniedError),
        (404, None, NotFoundError),
        (400, 5007, NotFoundError),
        (404, 3042, NotFoundError),
        (400, 3042, NotFoundError),
        (400, 7000, NotFoundError),
        (400, 7003, NotFoundError),
        (409, None, ConflictError),
        (409, 3002, ConflictError),
        (400, 3002, ConflictError),
        (400, 5006, InvalidRequestError),
        (400, None, InvalidRequestError),
        (413, 3006, InvalidRequestError),
        (422, None, InvalidRequestError),
        (429, None, RateLimitError),
        (429, 3040, CapacityError),
        (503, 3040, CapacityError),
        (429, 3036, QuotaExceededError),
        (408, None, APITimeoutError),
        (408, 3007, APITimeoutError),
        (400, 3007, APITimeoutError),
        (408, 3008, APITimeoutError),
        (500, None, ServerError),
        (502, None, ServerError),
        (503, None, ServerError),
        (504, None, ServerError),
    ],
)
def test_error_class_from_status_and_code(status: int, code: int | None, cls: type) -> None:
    exc = run_once(status, failure(code, f"message for {code}"), {"cf-ray": "8a1b2c3d4e-ORD"})
    assert type(exc) is cls
    assert isinstance(exc, CloudflareError)
    assert exc.status_code == status
    assert exc.code == code
    assert exc.message == f"message for {code}"
    assert exc.request_id == "8a1b2c3d4e-ORD"
    assert exc.method == "POST"
    assert exc.path == f"/ai/run/{MODEL}"
    text = str(exc)
    assert f"HTTP {status}" in text
    assert "8a1b2c3d4e-ORD" in text
    if code is not None:
        assert f"code {code}" in text
        assert exc.errors == [{"code": code, "message": f"message for {code}"}]
    else:
        assert "code" not in text.split("]")[0]


def test_reason_phrase_when_body_has_no_message() -> None:
    exc = run_once(504, {"success": False, "errors": []})
    assert isinstance(exc, ServerError)
    assert exc.message == "Gateway Timeout"


def test_rate_limit_subclasses() -> None:
    assert issubclass(CapacityError, RateLimitError)
    assert issubclass(QuotaExceededError, RateLimitError)
    assert issubclass(APITimeoutError, TimeoutError)


def test_rate_limit_error_carries_retry_after() -> None:
    exc = run_once(429, failure(None, "slow down"), {"retry-after": "7"})
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 7.0


def test_first_error_decides_when_several() -> None:
    body = {
        "success": False,
        "errors": [
            {"code": 7003, "message": "Could not route"},
            {"code": 7000, "message": "No route for that URI"},
        ],
    }
    exc = run_once(400, body)
    assert isinstance(exc, NotFoundError)
    assert exc.code == 7003
    assert len(exc.errors) == 2


def test_openai_style_error_body() -> None:
    exc = run_once(400, {"error": {"message": "bad model", "type": "invalid_request_error"}})
    assert isinstance(exc, InvalidRequestError)
    assert exc.message == "bad model"


def test_string_error_body() -> None:
    exc = run_once(404, {"success": False, "error": "model not found"})
    assert isinstance(exc, NotFoundError)
    assert exc.message == "model not found"


def test_non_json_error_body() -> None:
    rec = Recorder(lambda r: httpx.Response(502, content=b"<html>Bad gateway</html>"))
    with pytest.raises(ServerError) as info:
        ai_client(rec, retry=NO_RETRY).run(MODEL, {"prompt": "hi"})
    assert info.value.message == "<html>Bad gateway</html>"
    assert info.value.code is None


def test_string_code_is_parsed() -> None:
    assert parse_error_body(b'{"errors":[{"code":"3040","message":"busy"}]}')[:2] == (3040, "busy")
    assert parse_error_body(b"")[0] is None
    assert parse_error_body(b"[1,2]") == (None, None, [])


def test_error_from_response_direct() -> None:
    request = httpx.Request("POST", "https://api.cloudflare.com/client/v4/accounts/a/ai/run/x")
    response = httpx.Response(
        429,
        json=failure(3036, "daily allocation"),
        headers={"cf-ray": "r1", "cf-aig-log-id": "L1", "server": "cloudflare"},
        request=request,
    )
    exc = error_from_response(response)
    assert isinstance(exc, QuotaExceededError)
    assert exc.path == "/client/v4/accounts/a/ai/run/x"
    assert exc.headers == {"cf-ray": "r1", "cf-aig-log-id": "L1"}


def test_success_false_with_http_200_raises() -> None:
    rec = Recorder(lambda r: json_response(200, failure(5006, "Bad input"), {"cf-ray": "r200"}))
    with pytest.raises(InvalidRequestError) as info:
        ai_client(rec).run(MODEL, {"prompt": "hi"})
    assert info.value.status_code == 200
    assert info.value.code == 5006
    assert info.value.request_id == "r200"
    assert rec.count == 1


def test_success_false_with_http_200_in_chat_and_vectorize() -> None:
    rec = Recorder(lambda r: json_response(200, failure(3040, "busy")))
    with pytest.raises(CapacityError):
        ai_client(rec).chat(CHAT_MODEL, prompt="hi")
    from ._support import vz_client

    with pytest.raises(NotFoundError):
        vz_client(Recorder(lambda r: json_response(200, failure(7000)))).info("docs")


def test_non_json_success_body_raises_api_error() -> None:
    rec = Recorder(
        lambda r: httpx.Response(
            200, content=b"<html>captive portal</html>", headers={"cf-ray": "h"}
        )
    )
    with pytest.raises(APIError) as info:
        ai_client(rec).run(MODEL, {"prompt": "hi"})
    assert isinstance(info.value, CloudflareError)
    assert info.value.status_code == 200
    assert info.value.request_id == "h"
    assert "captive portal" in str(info.value)
    assert rec.count == 1


def test_non_json_success_body_in_vectorize_and_embed() -> None:
    from ._support import vz_client

    html = Recorder(lambda r: httpx.Response(200, content=b"<html/>"))
    with pytest.raises(APIError, match="not JSON"):
        vz_client(html).info("docs")
    with pytest.raises(APIError, match="not JSON"):
        ai_client(html).embed(["a"])
    with pytest.raises(APIError, match="not JSON"):
        ai_client(html).chat(CHAT_MODEL, prompt="x", api="openai")


# --- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (429, None, RateLimitError),
        (429, 3040, CapacityError),
        (500, None, ServerError),
        (502, None, ServerError),
        (503, None, ServerError),
        (408, None, APITimeoutError),
        (400, 3007, APITimeoutError),
    ],
)
def test_retryable_answers_retried_up_to_max_retries(
    status: int, code: int | None, cls: type
) -> None:
    rec = Recorder(lambda r: json_response(status, failure(code)))
    with pytest.raises(cls):
        ai_client(rec, retry=FAST).run(MODEL, {"prompt": "hi"})
    assert rec.count == FAST.max_retries + 1


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (429, 3036, QuotaExceededError),
        (401, 10000, AuthenticationError),
        (400, 5006, InvalidRequestError),
        (403, None, PermissionDeniedError),
        (404, None, NotFoundError),
        (409, 3002, ConflictError),
        (400, 5007, NotFoundError),
    ],
)
def test_final_answers_not_retried(status: int, code: int | None, cls: type) -> None:
    rec = Recorder(lambda r: json_response(status, failure(code)))
    with pytest.raises(cls):
        ai_client(rec, retry=FAST).run(MODEL, {"prompt": "hi"})
    assert rec.count == 1


def test_recovers_after_transient_failures() -> None:
    answers = iter(
        [
            json_response(429, failure(3040)),
            json_response(502, failure(None)),
            json_response(200, envelope({"response": "fine"})),
        ]
    )
    rec = Recorder(lambda r: next(answers))
    result = ai_client(rec).run(MODEL, {"prompt": "hi"})
    assert result.result == {"response": "fine"}
    assert rec.count == 3
    # every attempt sends the same body
    assert len({r.content for r in rec.requests}) == 1


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.RemoteProtocolError("dropped"), APIConnectionError),
        (httpx.ReadTimeout("slow"), APITimeoutError),
        (httpx.ConnectTimeout("slow connect"), APITimeoutError),
    ],
)
def test_connection_failures_retried_then_raised(exc: Exception, cls: type) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise exc

    with pytest.raises(cls) as info:
        ai_client(handler, retry=FAST).run(MODEL, {"prompt": "hi"})
    assert len(calls) == FAST.max_retries + 1
    assert info.value.status_code is None
    assert info.value.path == f"/ai/run/{MODEL}"
    assert isinstance(info.value.__cause__, httpx.TransportError)


def test_connection_failure_then_success() -> None:
    state = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.ConnectError("refused")
        return json_response(200, envelope({"ok": True}))

    assert ai_client(handler).run(MODEL, {"p": 1}).result == {"ok": True}
    assert state["n"] == 2


def test_max_retries_setting_used_without_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("cloudflare_ai.transport.time.sleep", sleeps.append)
    rec = Recorder(lambda r: json_response(503, failure(None)))
    client = ai_client(rec, retry=None, max_retries=1)
    with pytest.raises(ServerError):
        client.run(MODEL, {"prompt": "hi"})
    assert rec.count == 2
    assert len(sleeps) == 1


def test_exponential_backoff_with_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("cloudflare_ai.transport.time.sleep", sleeps.append)
    policy = RetryPolicy(max_retries=4, initial_delay=1.0, max_delay=4.0)
    with pytest.raises(ServerError):
        ai_client(Recorder(lambda r: json_response(500, {})), retry=policy).run(MODEL, {})
    assert len(sleeps) == 4
    for wait, ceiling in zip(sleeps, [1.0, 2.0, 4.0, 4.0], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_retry_after_seconds_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("cloudflare_ai.transport.time.sleep", sleeps.append)
    answers = iter(
        [json_response(429, failure(None), {"retry-after": "3"}), json_response(200, envelope(1))]
    )
    policy = RetryPolicy(initial_delay=0.001, max_delay=0.002, max_retry_after=10)
    assert ai_client(lambda r: next(answers), retry=policy).run(MODEL, {}).result == 1
    assert len(sleeps) == 1
    assert 3.0 <= sleeps[0] <= 10.0


def test_retry_after_capped_by_max_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("cloudflare_ai.transport.time.sleep", sleeps.append)
    rec = Recorder(lambda r: json_response(503, failure(None), {"retry-after": "3"}))
    with pytest.raises(ServerError):
        ai_client(rec, retry=FAST).run(MODEL, {})
    assert sleeps
    assert all(wait == pytest.approx(FAST.max_retry_after) for wait in sleeps)


def test_retry_after_http_date_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("cloudflare_ai.transport.time.sleep", sleeps.append)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    answers = iter(
        [json_response(429, failure(None), {"retry-after": when}), json_response(200, envelope(2))]
    )
    policy = RetryPolicy(initial_delay=0.001, max_delay=0.002, max_retry_after=60)
    assert ai_client(lambda r: next(answers), retry=policy).run(MODEL, {}).result == 2
    assert len(sleeps) == 1
    assert 18.0 <= sleeps[0] <= 20.5


async def test_async_retry_after_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    monkeypatch.setattr("cloudflare_ai.transport.asyncio.sleep", fake_sleep)
    answers = iter(
        [json_response(429, failure(3040), {"retry-after": "3"}), json_response(200, envelope(3))]
    )
    policy = RetryPolicy(initial_delay=0.001, max_delay=0.002, max_retry_after=10)
    client = async_ai_client(lambda r: next(answers), retry=policy)
    assert (await client.run(MODEL, {})).result == 3
    assert len(sleeps) == 1
    assert sleeps[0] >= 3.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("5", 5.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_past_date_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_policy_delay_bounds() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0, max_retry_after=30.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        assert ceiling / 2 <= policy.delay(attempt, None) <= ceiling
    assert policy.delay(1, 100.0) == 30.0
    assert policy.delay(1, 5.0) == 5.0
    assert policy.delay(1, 0.0) == 0.0


@pytest.mark.parametrize(
    ("status", "code", "retry"),
    [
        (429, None, True),
        (429, 3036, False),
        (429, 3040, True),
        (200, 3040, True),
        (400, 3007, True),
        (400, 5006, False),
        (401, 10000, False),
        (500, None, True),
        (501, None, False),
        (524, None, True),
    ],
)
def test_should_retry(status: int, code: int | None, retry: bool) -> None:
    import orjson

    body = orjson.dumps(failure(code))
    assert should_retry(httpx.Response(status), body) is retry


async def test_async_errors_and_retries() -> None:
    rec = Recorder(lambda r: json_response(503, failure(None), {"cf-ray": "async-ray"}))
    client = async_ai_client(rec)
    with pytest.raises(ServerError) as info:
        await client.run(MODEL, {})
    assert rec.count == FAST.max_retries + 1
    assert info.value.request_id == "async-ray"
    rec401 = Recorder(lambda r: json_response(401, failure(10000)))
    with pytest.raises(AuthenticationError):
        await async_ai_client(rec401).chat(CHAT_MODEL, prompt="x")
    assert rec401.count == 1


async def test_async_connection_error() -> None:
    calls = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        await asyncio.sleep(0)
        raise httpx.ConnectError("nope")

    with pytest.raises(APIConnectionError):
        await async_ai_client(handler).run(MODEL, {})
    assert len(calls) == FAST.max_retries + 1


# --- streaming and retries --------------------------------------------------------------------


def test_stream_retried_before_body_starts() -> None:
    answers = iter(
        [
            json_response(503, failure(None)),
            json_response(429, failure(3040)),
            httpx.Response(
                200,
                content=sse({"response": "Hello"}, {"response": " world"}),
                headers={"content-type": "text/event-stream", "cf-ray": "stream-ray"},
            ),
        ]
    )
    rec = Recorder(lambda r: next(answers))
    stream = ai_client(rec).stream_chat(CHAT_MODEL, prompt="hi")
    assert stream.text() == "Hello world"
    assert rec.count == 3
    assert stream.request_id == "stream-ray"
    assert stream.response is not None
    assert stream.response.text == "Hello world"
    import orjson

    assert orjson.loads(rec.requests[-1].content)["stream"] is True


def test_stream_final_error_not_retried() -> None:
    rec = Recorder(lambda r: json_response(429, failure(3036, "daily allocation")))
    stream = ai_client(rec).stream_chat(CHAT_MODEL, prompt="hi")
    with pytest.raises(QuotaExceededError, match="daily allocation"):
        list(stream)
    assert rec.count == 1


def test_stream_cut_after_body_started_is_stream_error() -> None:
    body = b'data: {"response":"partial "}\n\ndata: {"response":"answer"}\n\n'
    rec = Recorder(
        lambda r: httpx.Response(
            200,
            stream=ChunkedStream([body], fail=httpx.ReadError("connection reset")),
            headers={"content-type": "text/event-stream"},
        )
    )
    stream = ai_client(rec).stream_chat(CHAT_MODEL, prompt="hi")
    got: list[str] = []
    with pytest.raises(StreamError) as info:
        got.extend(chunk.text for chunk in stream)
    assert "".join(got) == "partial answer"
    assert info.value.partial_text == "partial answer"
    assert rec.count == 1  # the body had started: not retried


def test_stream_without_end_marker_is_stream_error() -> None:
    rec = Recorder(
        lambda r: httpx.Response(
            200,
            content=sse({"response": "half an"}, done=False),
            headers={"content-type": "text/event-stream"},
        )
    )
    stream = ai_client(rec).stream_chat(CHAT_MODEL, prompt="hi")
    with pytest.raises(StreamError) as info:
        list(stream)
    assert info.value.partial_text == "half an"
    assert info.value.path == f"/ai/run/{CHAT_MODEL}"


def test_openai_chat_success_false_with_result_null_raises() -> None:
    rec = Recorder(lambda r: json_response(200, failure(3040, "busy")))
    with pytest.raises(CapacityError):
        ai_client(rec).chat(CHAT_MODEL, prompt="x", api="openai")


def test_openai_chat_success_false_without_result_key_raises() -> None:
    body = {"success": False, "errors": [{"code": 7000, "message": "No route for that URI"}]}
    rec = Recorder(lambda r: json_response(200, body))
    with pytest.raises(APIError):
        ai_client(rec).chat(CHAT_MODEL, prompt="x", api="openai")


def test_stream_open_connection_error_retried() -> None:
    state = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] < 3:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, content=sse({"response": "ok"}))

    assert ai_client(handler).stream_chat(CHAT_MODEL, prompt="x").text() == "ok"
    assert state["n"] == 3


def test_stream_answered_with_json_failure_envelope_raises_typed_error() -> None:
    rec = Recorder(lambda r: json_response(200, failure(5006, "Bad input: oneOf at '/'")))
    stream = ai_client(rec).stream_chat(CHAT_MODEL, prompt="x")
    with pytest.raises(InvalidRequestError, match="Bad input"):
        stream.text()
