"""Unit tests of the contract checker itself.

They run whether or not any cassette has been recorded: real exchanges recorded by a third
party (``tests/reference/recorded/chatlas-openai-compat``) and hand-built, in-memory
interactions show that valid traffic passes and that each kind of defect is reported.
"""

from __future__ import annotations

import copy
import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.conftest import REFERENCE

from .openapi_check import (
    GENERIC_RUN_TEMPLATE,
    PLACEHOLDER_ACCOUNT_ID,
    SPEC_PATH,
    Interaction,
    OpenAPIChecker,
    Report,
    SpecMissingError,
    api_path_of,
    default_checker,
    is_placeholder,
    load_cassette,
    load_spec,
    secret_problems,
    secrets_from_env,
    sse_events,
)

RECORDED = REFERENCE / "recorded" / "chatlas-openai-compat"
RECORDED_FILES = sorted(RECORDED.glob("*.yaml"))

ACCOUNT = PLACEHOLDER_ACCOUNT_ID
BASE = f"https://api.cloudflare.com/client/v4/accounts/{ACCOUNT}"
GATEWAY = f"https://gateway.ai.cloudflare.com/v1/{ACCOUNT}/my-gateway/workers-ai"
INDEXES = f"{BASE}/vectorize/v2/indexes"
BGE = "@cf/baai/bge-base-en-v1.5"
MUTATION = {"mutationId": "0000aaaa-11bb-22cc-33dd-444444eeeeee"}
INDEX = {
    "name": "docs-index",
    "description": "contract test",
    "config": {"dimensions": 768, "metric": "cosine"},
    "created_on": "2024-07-19T13:11:44.064Z",
    "modified_on": "2024-07-19T13:11:44.064Z",
}


@pytest.fixture(scope="session")
def checker() -> OpenAPIChecker:
    try:
        return default_checker()
    except SpecMissingError as exc:
        pytest.fail(str(exc), pytrace=False)


def ok(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def failure(code: Any = 1000, message: str = "bad") -> dict[str, Any]:
    return {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }


def exchange(
    method: str,
    uri: str,
    *,
    body: Any = None,
    status: int = 200,
    response: Any = None,
    request_type: str = "application/json",
    response_type: str = "application/json",
    response_headers: dict[str, list[str]] | None = None,
    request_headers: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A vcrpy-shaped interaction; dicts/lists are serialised as JSON, str/bytes kept as is."""

    def encode(value: Any) -> Any:
        return orjson.dumps(value).decode() if isinstance(value, dict | list) else value

    headers = {"Content-Type": [request_type]} if body is not None else {}
    return {
        "request": {
            "method": method,
            "uri": uri,
            "body": encode(body),
            "headers": {**headers, **(request_headers or {})},
        },
        "response": {
            "status": {"code": status, "message": "whatever"},
            "headers": {"Content-Type": [response_type], **(response_headers or {})},
            "body": {"string": encode(response) if response is not None else ""},
        },
    }


def check(checker: OpenAPIChecker, *raw: dict[str, Any]) -> Report:
    return checker.check_cassette({"interactions": list(raw), "version": 1})


def messages(report: Report) -> str:
    return "\n".join(str(v) for v in report.violations)


# -- the reference document ------------------------------------------------------------------


def test_missing_spec_fails_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "cloudflare-openapi-ai-vectorize.json"
    with pytest.raises(SpecMissingError, match=r"not found at .*cloudflare-openapi"):
        load_spec(missing)


def test_spec_path_is_inside_the_repository() -> None:
    repo_root = Path(__file__).resolve().parents[2]
    assert repo_root / "tests" / "reference" / SPEC_PATH.name == SPEC_PATH
    assert SPEC_PATH.is_file()


# -- real recorded exchanges (/ai/v1: outside the 2024 spec) ------------------------------------


@pytest.mark.parametrize("path", RECORDED_FILES, ids=[p.name for p in RECORDED_FILES])
def test_real_openai_compat_recordings_are_outside_the_spec_and_clean(
    checker: OpenAPIChecker, path: Path
) -> None:
    data = load_cassette(path)
    report = checker.check_cassette(data)
    assert report.violations == [], messages(report)
    assert len(report.outside_spec) == len(data["interactions"]) > 0
    assert all("/ai/v1" in line for line in report.outside_spec)
    assert report.checked == []
    assert secret_problems(path.read_text(encoding="utf-8"), ["sk-not-in-there"]) == []


def test_the_reference_recordings_exist() -> None:
    assert len(RECORDED_FILES) == 4


def _streaming_recording() -> dict[str, Any]:
    return load_cassette(RECORDED / "test_cloudflare_simple_streaming_request.yaml")


def test_real_stream_without_done_is_reported(checker: OpenAPIChecker) -> None:
    data = _streaming_recording()
    body = data["interactions"][0]["response"]["body"]
    assert "data: [DONE]" in body["string"]
    body["string"] = body["string"].replace("data: [DONE]\n\n", "")
    report = checker.check_cassette(data)
    assert "does not end with `data: [DONE]`" in messages(report)


def test_real_stream_with_a_broken_chunk_is_reported(checker: OpenAPIChecker) -> None:
    data = _streaming_recording()
    body = data["interactions"][0]["response"]["body"]
    body["string"] = body["string"].replace('"choices":', '"choizes":', 1)
    report = checker.check_cassette(data)
    assert "'choices' is a required property" in messages(report)


def test_real_chat_completion_without_choices_is_reported(checker: OpenAPIChecker) -> None:
    data = load_cassette(RECORDED / "test_cloudflare_data_extraction.yaml")
    interaction = data["interactions"][0]
    response = orjson.loads(interaction["response"]["body"]["string"])
    assert response["object"] == "chat.completion"
    del response["choices"]
    interaction["response"]["body"]["string"] = orjson.dumps(response).decode()
    report = checker.check_cassette(data)
    assert [v.index for v in report.violations] == [0]
    assert "OpenAI chat.completion" in report.violations[0].schema
    assert "'choices' is a required property" in report.violations[0].message


def test_openai_embeddings_need_data(checker: OpenAPIChecker) -> None:
    request = {"model": BGE, "input": ["a", "b"]}
    good = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}]}
    passing = check(
        checker, exchange("POST", f"{BASE}/ai/v1/embeddings", body=request, response=good)
    )
    failing = check(
        checker, exchange("POST", f"{BASE}/ai/v1/embeddings", body=request, response={"x": []})
    )
    assert passing.violations == []
    assert passing.outside_spec
    assert "'data' is a required property" in messages(failing)


# -- Vectorize ---------------------------------------------------------------------------------


CREATE = {"name": "docs-index", "config": {"dimensions": 768, "metric": "cosine"}}


def test_valid_create_index_passes(checker: OpenAPIChecker) -> None:
    report = check(checker, exchange("POST", INDEXES, body=CREATE, response=ok(INDEX)))
    assert report.violations == [], messages(report)
    assert report.checked == [
        f"#0 POST /accounts/{ACCOUNT}/vectorize/v2/indexes"
        " -> POST /accounts/{account_id}/vectorize/v2/indexes"
    ]


def test_create_index_with_a_preset_passes(checker: OpenAPIChecker) -> None:
    body = {"name": "preset-index", "config": {"preset": BGE}}
    report = check(checker, exchange("POST", INDEXES, body=body, response=ok(INDEX)))
    assert report.violations == [], messages(report)


def test_create_index_answered_201_uses_the_200_schema(checker: OpenAPIChecker) -> None:
    good = check(checker, exchange("POST", INDEXES, body=CREATE, status=201, response=ok(INDEX)))
    bad_index = {**INDEX, "config": {"dimensions": "768", "metric": "cosine"}}
    bad = check(checker, exchange("POST", INDEXES, body=CREATE, status=201, response=ok(bad_index)))
    assert good.violations == [], messages(good)
    assert "responses/200" in messages(bad)


def test_create_index_with_string_dimensions_is_reported(checker: OpenAPIChecker) -> None:
    body = {"name": "docs-index", "config": {"dimensions": "768", "metric": "cosine"}}
    report = check(checker, exchange("POST", INDEXES, body=body, response=ok(INDEX)))
    assert len(report.violations) == 1
    violation = report.violations[0]
    assert violation.index == 0
    assert violation.method == "POST"
    assert "requestBody" in violation.schema
    assert "'768' is not of type 'integer'" in violation.message


def test_invalid_response_is_reported(checker: OpenAPIChecker) -> None:
    report = check(checker, exchange("POST", INDEXES, body=CREATE, response={"result": INDEX}))
    text = messages(report)
    assert "responses/200" in text
    assert "'success' is a required property" in text


def test_every_violation_of_a_cassette_is_reported(checker: OpenAPIChecker) -> None:
    bad_body = {"name": "Bad Name!", "config": {"dimensions": 0, "metric": "manhattan"}}
    report = check(
        checker,
        exchange("POST", INDEXES, body=CREATE, response=ok(INDEX)),
        exchange("POST", INDEXES, body=bad_body, response=ok(INDEX)),
        exchange("POST", f"{INDEXES}/docs-index/query", body={"vector": [1], "topK": "5"}),
    )
    assert {v.index for v in report.violations} == {1, 2}
    described = report.describe("x.yaml")
    assert described.startswith(f"{len(report.violations)} contract violation(s) in x.yaml")
    assert "#1 POST" in described and "#2 POST" in described


def test_query_with_string_top_k_is_reported(checker: OpenAPIChecker) -> None:
    body = {"vector": [0.1, 0.2, 0.3], "topK": "5"}
    response = ok({"count": 0, "matches": []})
    report = check(
        checker, exchange("POST", f"{INDEXES}/docs-index/query", body=body, response=response)
    )
    assert "topK: '5' is not of type 'number'" in messages(report)


QUERY_V2 = {"vector": [0.1, 0.2, 0.3], "topK": 3, "returnValues": True, "returnMetadata": "all"}
MATCHES = ok(
    {
        "count": 1,
        "matches": [{"id": "a", "score": 0.9, "values": [0.1, 0.2, 0.3], "metadata": {"k": 1}}],
    }
)


def test_v2_query_return_metadata_all_passes_thanks_to_the_patch(checker: OpenAPIChecker) -> None:
    raw = exchange("POST", f"{INDEXES}/docs-index/query", body=QUERY_V2, response=MATCHES)
    assert check(checker, raw).violations == []
    # The unpatched 2024 document really rejects it (boolean `returnMetadata`).
    unpatched = OpenAPIChecker(load_spec(), patch=False)
    assert "returnMetadata: 'all' is not of type 'boolean'" in messages(check(unpatched, raw))


def test_v2_query_rejects_v1_boolean_and_unknown_return_metadata(checker: OpenAPIChecker) -> None:
    for value in (True, "everything"):
        body = {**QUERY_V2, "returnMetadata": value}
        report = check(checker, exchange("POST", f"{INDEXES}/x/query", body=body, response=MATCHES))
        assert "returnMetadata" in messages(report)


def test_metadata_index_list_by_get_uses_the_post_operation(checker: OpenAPIChecker) -> None:
    uri = f"{INDEXES}/docs-index/metadata_index/list"
    good = ok({"metadataIndexes": [{"propertyName": "genre", "indexType": "string"}]})
    bad = ok({"metadataIndexes": [{"propertyName": "genre", "indexType": "text"}]})
    passing = check(checker, exchange("GET", uri, response=good))
    failing = check(checker, exchange("GET", uri, response=bad))
    assert passing.violations == []
    assert passing.checked[0].endswith(
        "-> POST " + "/accounts/{account_id}/vectorize/v2/indexes/{index_name}/metadata_index/list"
    )
    assert "'text' is not one of" in messages(failing)


def test_get_by_ids_array_result_passes(checker: OpenAPIChecker) -> None:
    vectors = [{"id": "a", "values": [1.0, 0.5], "metadata": {"v": 1}, "namespace": "ns"}]
    uri = f"{INDEXES}/docs-index/get_by_ids"
    good = check(checker, exchange("POST", uri, body={"ids": ["a"]}, response=ok(vectors)))
    bad = check(checker, exchange("POST", uri, body={"ids": ["a"]}, response=ok([{"id": 5}])))
    assert good.violations == [], messages(good)
    assert "5 is not of type 'string'" in messages(bad)


def test_delete_index_with_null_result_passes(checker: OpenAPIChecker) -> None:
    report = check(checker, exchange("DELETE", f"{INDEXES}/docs-index", response=ok(None)))
    assert report.violations == [], messages(report)


def test_vectorize_4xx_validates_against_the_failure_envelope(checker: OpenAPIChecker) -> None:
    uri = f"{INDEXES}/missing-index"
    good = check(checker, exchange("GET", uri, status=404, response=failure(3000, "not found")))
    lying = {**failure(3000, "not found"), "success": True}
    bad = check(checker, exchange("GET", uri, status=404, response=lying))
    assert good.violations == [], messages(good)
    assert "responses/4XX" in messages(bad)
    assert "success: True is not one of [False]" in messages(bad)


def test_undocumented_error_status_checks_the_envelope(checker: OpenAPIChecker) -> None:
    uri = f"{BASE}/ai/run/{BGE}"
    busy = failure(3040, "Capacity temporarily exceeded, please try again.")
    good = check(checker, exchange("POST", uri, body={"text": "a"}, status=429, response=busy))
    bad = check(
        checker,
        exchange(
            "POST", uri, body={"text": "a"}, status=429, response={"success": False, "errors": []}
        ),
    )
    not_json = check(
        checker, exchange("POST", uri, body={"text": "a"}, status=500, response="oops")
    )
    assert good.violations == [], messages(good)
    assert "Cloudflare failure envelope" in messages(bad)
    assert "errors: [] should be non-empty" in messages(bad)
    assert "not JSON" in messages(not_json)


def test_workers_ai_400_with_integer_code_passes(checker: OpenAPIChecker) -> None:
    body = failure(5006, "AiError: Bad input")
    uri = f"{BASE}/ai/run/{BGE}"
    report = check(checker, exchange("POST", uri, body={"text": "a"}, status=400, response=body))
    assert report.violations == [], messages(report)


def test_vectorize_list_is_outside_the_spec_but_envelope_checked(checker: OpenAPIChecker) -> None:
    uri = f"{INDEXES}/docs-index/list?count=10"
    result = {
        "count": 1,
        "totalCount": 1,
        "isTruncated": False,
        "nextCursor": None,
        "vectors": [{"id": "a"}],
    }
    good = check(checker, exchange("GET", uri, response=ok(result)))
    bad = check(checker, exchange("GET", uri, response={"result": result, "success": True}))
    assert good.violations == [], messages(good)
    assert good.outside_spec and "Vectorize list vectors" in good.outside_spec[0]
    assert "'errors' is a required property" in messages(bad)


# -- NDJSON --------------------------------------------------------------------------------------


def _ndjson(*lines: dict[str, Any]) -> str:
    return "".join(orjson.dumps(line).decode() + "\n" for line in lines)


def _insert(body: str, verb: str = "insert") -> dict[str, Any]:
    uri = f"{INDEXES}/docs-index/{verb}"
    return exchange(
        "POST", uri, body=body, request_type="application/x-ndjson", response=ok(MUTATION)
    )


def test_valid_ndjson_insert_and_upsert_pass(checker: OpenAPIChecker) -> None:
    body = _ndjson(
        {"id": "a", "values": [0.1, 0.2], "metadata": {"k": "v"}},
        {"id": "b", "values": [1, 2], "namespace": "tenant-a"},
    )
    report = check(checker, _insert(body), _insert(body, "upsert"))
    assert report.violations == [], messages(report)
    assert len(report.checked) == 2


def test_ndjson_line_without_values_is_reported(checker: OpenAPIChecker) -> None:
    body = _ndjson({"id": "a", "values": [0.1]}, {"id": "b", "metadata": {}})
    report = check(checker, _insert(body))
    assert len(report.violations) == 1
    assert "line 2: (body): 'values' is a required property" in report.violations[0].message
    assert "x-ndjson" in report.violations[0].schema


def test_ndjson_bad_lines_are_reported(checker: OpenAPIChecker) -> None:
    long_id = "é" * 40  # 40 characters, 80 bytes
    body = (
        _ndjson({"id": long_id, "values": [1.0]}, {"id": "c", "values": ["x"], "extra": 1})
        + "{not json\n"
    )
    text = messages(check(checker, _insert(body)))
    assert "line 1: id is longer than 64 bytes" in text
    assert "line 2: values/0: 'x' is not of type 'number'" in text
    assert "'extra' was unexpected" in text
    assert "line 3 is not JSON" in text


def test_ndjson_in_a_multipart_upload_is_checked(checker: OpenAPIChecker) -> None:
    boundary = "XyZ"
    part = _ndjson({"id": "a"})
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="vectors"; '
        f'filename="vectors.ndjson"\r\nContent-Type: application/x-ndjson\r\n\r\n'
        f"{part}\r\n--{boundary}--\r\n"
    )
    raw = _insert(body)
    raw["request"]["headers"]["Content-Type"] = [f"multipart/form-data; boundary={boundary}"]
    assert "'values' is a required property" in messages(check(checker, raw))


# -- Workers AI /ai/run ------------------------------------------------------------------------


EMBEDDING = ok({"shape": [1, 3], "data": [[0.1, 0.2, 0.3]]})


def test_bge_text_list_passes_and_uses_the_model_specific_path(checker: OpenAPIChecker) -> None:
    report = check(
        checker, exchange("POST", f"{BASE}/ai/run/{BGE}", body={"text": ["a"]}, response=EMBEDDING)
    )
    assert report.violations == [], messages(report)
    assert report.checked[0].endswith("-> POST /accounts/{account_id}/ai/run/" + BGE)


def test_bge_text_number_is_reported(checker: OpenAPIChecker) -> None:
    report = check(
        checker, exchange("POST", f"{BASE}/ai/run/{BGE}", body={"text": 5}, response=EMBEDDING)
    )
    assert len(report.violations) == 1
    assert "text: 5 is not valid under any of the given schemas" in report.violations[0].message
    assert "ai/run/@cf/baai/bge-base-en-v1.5 requestBody" in report.violations[0].schema


def test_unknown_model_uses_the_generic_run_operation(checker: OpenAPIChecker) -> None:
    uri = f"{BASE}/ai/run/@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
    report = check(checker, exchange("POST", uri, body=body, response=ok({"response": "hello"})))
    assert report.violations == [], messages(report)
    assert report.checked[0].endswith("-> POST " + GENERIC_RUN_TEMPLATE)
    # The generic operation's task shapes are loose (an "Object Detection" input is any
    # object), so its request check catches little; the response is still checked.
    bad = check(checker, exchange("POST", uri, body=body, response=ok(5)))
    assert "responses/200" in messages(bad)
    assert "result: 5 is not valid under any of the given schemas" in messages(bad)
    no_envelope = check(checker, exchange("POST", uri, body=body, response={"result": {}}))
    assert "'success' is a required property" in messages(no_envelope)
    not_json = check(checker, exchange("POST", uri, body="{messages", response=ok({})))
    assert "request body is not JSON" in messages(not_json)


def test_gateway_urls_map_to_workers_ai_operations(checker: OpenAPIChecker) -> None:
    for uri in (f"{GATEWAY}/{BGE}", f"{GATEWAY}/run/{BGE}"):
        good = check(checker, exchange("POST", uri, body={"text": ["a"]}, response=EMBEDDING))
        bad = check(checker, exchange("POST", uri, body={"text": 5}, response=EMBEDDING))
        assert good.violations == [], messages(good)
        assert good.checked[0].endswith("ai/run/" + BGE)
        assert "text: 5" in messages(bad)
    assert api_path_of(f"{GATEWAY}/v1/chat/completions") == (
        f"/accounts/{ACCOUNT}/ai/v1/chat/completions",
        "",
    )
    other = check(checker, exchange("POST", f"{GATEWAY[:-11]}/openai/chat/completions", body={}))
    assert other.violations == [] and other.ignored


def test_unknown_path_is_reported_as_unmatched(checker: OpenAPIChecker) -> None:
    report = check(
        checker, exchange("POST", f"{INDEXES}/docs-index/bogus", body={}, response=ok({}))
    )
    assert len(report.violations) == 1
    assert report.violations[0].schema == "route"
    assert report.violations[0].message.startswith("unmatched")


def test_undocumented_method_is_reported(checker: OpenAPIChecker) -> None:
    report = check(
        checker, exchange("PUT", f"{INDEXES}/docs-index", body=CREATE, response=ok(INDEX))
    )
    assert "PUT is not documented" in messages(report)


def test_non_cloudflare_traffic_is_ignored(checker: OpenAPIChecker) -> None:
    report = check(
        checker,
        exchange("GET", "https://example.com/client/v4/accounts/x/ai/models/search"),
        exchange("GET", "https://api.cloudflare.com/client/v4/user/tokens/verify", response=ok({})),
    )
    assert report.violations == []
    assert len(report.ignored) == 2


# -- streams and encodings ---------------------------------------------------------------------


STREAM = 'data: {"response":"Hel"}\n\ndata: {"response":"lo","p":"abc"}\n\ndata: [DONE]\n\n'


def _stream(body: str) -> dict[str, Any]:
    uri = f"{BASE}/ai/run/@cf/meta/llama-3.1-8b-instruct"
    request = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    return exchange("POST", uri, body=request, response=body, response_type="text/event-stream")


def test_native_stream_passes(checker: OpenAPIChecker) -> None:
    report = check(checker, _stream(STREAM))
    assert report.violations == [], messages(report)


def test_stream_without_done_is_reported(checker: OpenAPIChecker) -> None:
    report = check(checker, _stream(STREAM.replace("data: [DONE]\n\n", "")))
    assert len(report.violations) == 1
    assert "framing" in report.violations[0].schema
    assert "does not end with `data: [DONE]`" in report.violations[0].message


def test_sse_framing_problems() -> None:
    payloads, problems = sse_events(STREAM)
    assert payloads == [{"response": "Hel"}, {"response": "lo", "p": "abc"}] and problems == []
    assert sse_events("")[1] == ["empty event stream"]
    _, problems = sse_events('event: x\ndata: {"a":1}\n\ndata: [DONE]')
    assert any("not a `data:` line" in p for p in problems)
    assert any("not terminated" in p for p in problems)
    _, problems = sse_events("data: [DONE]\n\ndata: {oops}\n\n")
    assert any("not the last event" in p for p in problems)
    assert any("not JSON" in p for p in problems)


def test_gzip_response_is_decoded(checker: OpenAPIChecker) -> None:
    def gzipped(value: Any) -> dict[str, Any]:
        raw = exchange("POST", INDEXES, body=CREATE)
        raw["response"]["body"]["string"] = gzip.compress(orjson.dumps(value))
        raw["response"]["headers"]["Content-Encoding"] = ["gzip"]
        return raw

    assert check(checker, gzipped(ok(INDEX))).violations == []
    assert "'success' is a required property" in messages(check(checker, gzipped({"result": {}})))
    broken = gzipped(ok(INDEX))
    broken["response"]["body"]["string"] = b"not gzip"
    assert "not valid ['gzip'] data" in messages(check(checker, broken))


def test_interaction_from_vcr_normalises_headers_and_bodies() -> None:
    raw = exchange("POST", INDEXES, body=CREATE, response=ok(INDEX))
    raw["request"]["body"] = orjson.dumps(CREATE)  # a `!!binary` body loads as bytes
    it = Interaction.from_vcr(raw, 7)
    assert it.index == 7 and it.status == 200 and it.method == "POST"
    assert it.request_headers["content-type"] == "application/json"
    assert orjson.loads(it.request_body) == CREATE
    assert orjson.loads(it.response_body)["result"] == INDEX


def test_the_loaded_document_is_not_modified_by_patching() -> None:
    original = load_spec()
    snapshot = copy.deepcopy(original)
    OpenAPIChecker(original)
    assert original == snapshot


# -- secrets -----------------------------------------------------------------------------------


def _cassette_text(**headers: list[str]) -> str:
    raw = exchange("GET", f"{INDEXES}/docs-index", response=ok(INDEX), request_headers=headers)
    return str(yaml.safe_dump({"interactions": [raw], "version": 1}))


def test_redacted_credentials_pass() -> None:
    text = _cassette_text(
        Authorization=["REDACTED"], **{"cf-aig-authorization": ["Bearer REDACTED"]}
    )
    assert secret_problems(text) == []


def test_unredacted_authorization_headers_are_reported() -> None:
    token = "Bearer abcDEF123ghiJKL456mnoPQR789stuVWX0yz12"
    problems = secret_problems(_cassette_text(authorization=[token]))
    assert any("'authorization' is not redacted" in p for p in problems)
    assert all(token[7:] not in p for p in problems)  # the report does not leak the secret
    problems = secret_problems(_cassette_text(**{"cf-aig-authorization": ["gw-secret-value"]}))
    assert any("'cf-aig-authorization' is not redacted" in p for p in problems)


def test_env_listed_secrets_are_found_anywhere() -> None:
    secrets = secrets_from_env(" gateway-test-token-0123456789 , ,other ")
    assert secrets == ["gateway-test-token-0123456789", "other"]
    text = _cassette_text(**{"x-custom": ["gateway-test-token-0123456789"]})
    assert any("CF_TEST_SECRETS" in p for p in secret_problems(text, secrets))
    assert secret_problems(_cassette_text(), secrets) == []


def test_real_account_ids_in_uris_are_reported() -> None:
    text = _cassette_text().replace(ACCOUNT, "023e105f4ecef8ad9ca31a8372d0c353")
    problems = secret_problems(text)
    assert len(problems) == 1 and "32-hex id" in problems[0]
    assert secret_problems(_cassette_text()) == []


def test_placeholders() -> None:
    for value in ("REDACTED", "Bearer REDACTED", "<API_TOKEN>", "***", "", "[redacted]"):
        assert is_placeholder(value), value
    for value in ("Bearer abcDEF123", "replay-token-not-a-secret", "gw-secret"):
        assert not is_placeholder(value), value


def test_binary_answers_are_accepted_only_where_the_model_declares_them() -> None:
    from tests.contract.openapi_check import _catalog_declares

    run = "/accounts/0123456789abcdef0123456789abcdef/ai/run/"
    assert _catalog_declares(run + "@cf/stabilityai/stable-diffusion-xl-base-1.0", "image/png")
    assert _catalog_declares(run + "@cf/deepgram/aura-1", "audio/mpeg; charset=binary")
    assert not _catalog_declares(run + "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "image/png")
    assert not _catalog_declares(run + "@cf/stabilityai/stable-diffusion-xl-base-1.0", "audio/mpeg")
