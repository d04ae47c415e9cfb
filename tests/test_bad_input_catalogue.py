"""A catalogue of bad inputs: each gets a clear, typed error naming the offending item.

Every case is a row of :data:`CASES`: an id, a callable performing the bad call, the expected
exception class (from :mod:`cloudflare_ai`), a regex its message must match (naming the id,
key, position, model or parameter at fault) and where the error must come from:

* ``before_send=True``: refused by the client itself. The clients run on an
  :class:`httpx.MockTransport` that records requests, and the test asserts none was made.
* ``before_send=False``: only the server can know (unknown model, wrong credentials, index
  state). These run against the in-process emulator, :class:`cloudflare_ai_local.LocalCloudflare`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from cloudflare_ai import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    VectorizeClient,
    WorkersAIClient,
)
from cloudflare_ai_local import LocalCloudflare
from tests.unit._support import (
    ACCOUNT,
    CHAT_MODEL,
    FAST,
    TOKEN,
    Recorder,
    ai_client,
    clear_env,
    envelope,
    json_response,
    vz_client,
)

IDX = "docs"
DIMS = 3
GOOD = [0.1, 0.2, 0.3]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City"}},
        },
    },
}
USER = [{"role": "user", "content": "hi"}]


# --- the harness each case runs in ------------------------------------------------------------


@dataclass
class Harness:
    """What a case's callable may use. ``ai``/``vz`` point at the mock transport (offline
    cases) or at the emulator (server cases)."""

    ai: WorkersAIClient
    vz: VectorizeClient
    recorder: Recorder | None = None
    cf: LocalCloudflare | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def client_kwargs(self) -> dict[str, Any]:
        assert self.cf is not None
        return {
            "account_id": self.cf.account_id,
            "api_token": self.cf.api_token,
            "base_url": self.cf.base_url,
            "retry": FAST,
            "max_retries": 0,
        }

    def emulator_ai(self, **overrides: Any) -> WorkersAIClient:
        client = WorkersAIClient(**{**self.client_kwargs(), **overrides})
        self.closers.append(client.close)
        return client

    def emulator_vz(self, **overrides: Any) -> VectorizeClient:
        client = VectorizeClient(**{**self.client_kwargs(), **overrides})
        self.closers.append(client.close)
        return client


Call = Callable[[Harness], Any]


@dataclass(frozen=True)
class Case:
    id: str
    call: Call
    exc: type[BaseException]
    match: str
    before_send: bool = True
    attrs: dict[str, Any] = field(default_factory=dict)
    bug: str | None = None


def vec(vector_id: Any = "v1", values: Any = None, **extra: Any) -> dict[str, Any]:
    return {"id": vector_id, "values": GOOD if values is None else values, **extra}


def upsert(*vectors: dict[str, Any]) -> Call:
    return lambda h: h.vz.upsert(IDX, list(vectors), dimensions=DIMS)


def query(**options: Any) -> Call:
    vector = options.pop("vector", GOOD)
    return lambda h: h.vz.query(IDX, vector, **options)


def chat(messages: Any = USER, **options: Any) -> Call:
    return lambda h: h.ai.chat(CHAT_MODEL, messages, **options)


#: A 1x1 PNG as a data: URL.
_PNG_URL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGO4IyIHAALe"
    "AQ/k/y65AAAAAElFTkSuQmCC"
)


def _image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def vision_chat(url: str) -> Call:
    model = "@cf/meta/llama-4-scout-17b-16e-instruct"
    return lambda h: h.ai.chat(model, [{"role": "user", "content": [_image_part(url)]}])


def offline_ai(**kwargs: Any) -> Call:
    """Build a Workers AI client from these settings (on the recording transport)."""

    def call(h: Harness) -> Any:
        assert h.recorder is not None
        kwargs.setdefault("api_token", TOKEN)
        kwargs.setdefault("account_id", ACCOUNT)
        client = ai_client(h.recorder, **{k: v for k, v in kwargs.items() if v is not None})
        return client.chat(CHAT_MODEL, USER)

    return call


def gateway(**options: Any) -> Call:
    return offline_ai(gateway={"id": "my-gateway", **options})


def _langchain_store(h: Harness) -> Any:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from cloudflare_ai.langchain import VectorizeVectorStore

    store = VectorizeVectorStore(
        DeterministicFakeEmbedding(size=DIMS), IDX, account_id=ACCOUNT, api_token=TOKEN
    )
    store._client = h.vz  # the recording client: anything sent would be counted
    return store


def lc_add_oversized_document(h: Harness) -> Any:
    store = _langchain_store(h)
    return store.add_texts(["short", "x" * 11_000], ids=["small-doc", "big-doc"])


def lc_or_across_keys(h: Harness) -> Any:
    store = _langchain_store(h)
    return store.similarity_search("hello", filter={"$or": [{"a": 1}, {"b": 2}]})


def lc_bind_unknown_tool_choice(h: Harness) -> Any:
    from cloudflare_ai.langchain import ChatWorkersAI

    model = ChatWorkersAI(account_id=ACCOUNT, api_token=TOKEN)
    return model.bind_tools([WEATHER_TOOL], tool_choice="nope")


def li_filter(*filters: Any, condition: str = "and") -> Call:
    def call(h: Harness) -> Any:
        from llama_index.core.vector_stores.types import (
            FilterCondition,
            FilterOperator,
            MetadataFilter,
            MetadataFilters,
        )

        from cloudflare_ai.llama_index.filters import to_vectorize_filter

        made = [
            MetadataFilter(key=k, value=v, operator=getattr(FilterOperator, op))
            for k, op, v in filters
        ]
        return to_vectorize_filter(
            MetadataFilters(filters=made, condition=getattr(FilterCondition, condition.upper()))
        )

    return call


# --- server-only cases (emulator) ---------------------------------------------------------------


def server_dimension_mismatch(h: Harness) -> Any:
    admin = h.emulator_vz()
    admin.create_index("dims-four", dimensions=4, exist_ok=True)
    # dimensions=3 claims the wrong size, so only the server can notice.
    return h.emulator_vz().upsert("dims-four", [vec("short-vector")], dimensions=3)


def server_query_dimension_mismatch(h: Harness) -> Any:
    h.emulator_vz().create_index("dims-four-q", dimensions=4, exist_ok=True)
    return h.emulator_vz().query("dims-four-q", GOOD)  # fresh client: no cached dimensions


def server_duplicate_index(h: Harness) -> Any:
    h.vz.create_index("dup-index", dimensions=DIMS)
    return h.vz.create_index("dup-index", dimensions=DIMS)


CASES: list[Case] = [
    # --- Vectorize writes -----------------------------------------------------------------
    Case("id-65-bytes", upsert(vec("a" * 65)), ValidationError, r"'a{65}' at position 0: id is 65"),
    Case(
        "id-multibyte-over-64-bytes",
        upsert(vec("é" * 33)),
        ValidationError,
        r"'é{33}' at position 0: id is 66 bytes; Vectorize allows 64",
    ),
    Case("id-empty", upsert(vec("v0"), vec("")), ValidationError, r"vector id '' at position 1"),
    Case("id-not-a-string", upsert(vec(7)), ValidationError, r"vector id 7 at position 0"),
    Case(
        "duplicate-ids-one-write",
        upsert(vec("x"), vec("y"), vec("x")),
        ValidationError,
        r"'x' appears twice .*positions 0 and 2",
    ),
    Case(
        "duplicate-ids-in-generator-write",
        lambda h: h.vz.upsert(IDX, (vec(i) for i in ["a", "b", "a"]), dimensions=DIMS),
        ValidationError,
        r"'a' appears twice .*positions 0 and 2",
    ),
    Case(
        "namespace-over-64-bytes",
        upsert(vec(namespace="n" * 65)),
        ValidationError,
        r"namespace 'n+'\.\.\. is 65 bytes.*vector 'v1' at position 0",
    ),
    Case(
        "metadata-over-10-KiB",
        upsert(vec(metadata={"blob": "x" * 11_000})),
        ValidationError,
        r"vector 'v1' at position 0: metadata is \d+ bytes of JSON; Vectorize allows 10240",
    ),
    Case(
        "metadata-key-with-dot",
        upsert(vec(metadata={"a.b": 1})),
        ValidationError,
        r"vector 'v1' at position 0: metadata key 'a\.b'",
    ),
    Case(
        "metadata-key-with-quote",
        upsert(vec(metadata={'say"hi': 1})),
        ValidationError,
        r"metadata key 'say\"hi'",
    ),
    Case(
        "metadata-key-with-dollar",
        upsert(vec(metadata={"nested": {"$x": 1}})),
        ValidationError,
        r"metadata key 'nested\.\$x'",
    ),
    Case(
        "metadata-value-datetime",
        upsert(vec(metadata={"when": datetime(2026, 1, 1, tzinfo=UTC)})),
        ValidationError,
        r"metadata 'when' has type datetime",
    ),
    Case(
        "metadata-nested-list",
        upsert(vec(metadata={"tags": [["a"]]})),
        ValidationError,
        r"metadata 'tags'\[0\] is a nested container",
    ),
    Case(
        "metadata-int-over-64-bits",
        upsert(vec(metadata={"big": 2**70})),
        ValidationError,
        r"metadata 'big' is an integer outside 64 bits",
    ),
    Case(
        "metadata-nan",
        upsert(vec(metadata={"score": math.nan})),
        ValidationError,
        r"metadata 'score' is nan",
    ),
    Case(
        "values-nan",
        upsert(vec(values=[0.1, math.nan, 0.3])),
        ValidationError,
        r"vector 'v1' at position 0: value \[1\] is nan",
    ),
    Case(
        "values-infinity",
        upsert(vec("ok", [0.1, 0.2, 0.3]), vec("v2", [0.1, 0.2, -math.inf])),
        ValidationError,
        r"vector 'v2' at position 1: value \[2\] is -inf",
    ),
    Case(
        "values-float32-overflow",
        upsert(vec(values=[1e39, 0.0, 0.0])),
        ValidationError,
        r"vector 'v1' at position 0: value \[0\] = 1e\+39 overflows float32",
    ),
    Case(
        "values-wrong-length",
        upsert(vec(values=[0.1, 0.2])),
        ValidationError,
        r"vector 'v1' at position 0: has 2 values but the index has 3 dimensions",
    ),
    Case(
        "values-empty",
        upsert(vec(values=[])),
        ValidationError,
        r"vector 'v1' at position 0: values must be a non-empty flat list",
    ),
    Case(
        "values-not-numbers",
        upsert(vec(values=["a", "b", "c"])),
        ValidationError,
        r"vector 'v1' at position 0: values must be a sequence of numbers",
    ),
    Case(
        "vector-missing-values",
        lambda h: h.vz.upsert(IDX, [{"id": "v1"}], dimensions=DIMS),
        ValidationError,
        r"vector at position 0 needs 'id' and 'values'",
    ),
    Case(
        "write-to-invalid-index-name",
        lambda h: h.vz.upsert("Bad Index", [vec()], dimensions=DIMS),
        ValidationError,
        r"index name 'Bad Index'",
    ),
    # --- Vectorize queries ------------------------------------------------------------------
    Case("top-k-0", query(top_k=0), ValidationError, r"top_k must be a positive integer, got 0"),
    Case("top-k-101", query(top_k=101), ValidationError, r"top_k=101 exceeds .* cap of 100"),
    Case(
        "top-k-51-with-values",
        query(top_k=51, return_values=True),
        ValidationError,
        r"top_k=51 exceeds .* cap of 50 with return_values",
    ),
    Case(
        "top-k-51-with-all-metadata",
        query(top_k=51, return_metadata="all"),
        ValidationError,
        r"top_k=51 .* return_metadata='all'",
    ),
    Case(
        "return-metadata-invalid",
        query(return_metadata="some"),
        ValidationError,
        r"return_metadata must be 'none', 'indexed' or 'all', got 'some'",
    ),
    Case(
        "query-vector-nan",
        query(vector=[math.nan, 0.0, 0.0]),
        ValidationError,
        r"vector 'query'.*value \[0\] is nan",
    ),
    Case(
        "query-without-vector",
        query(vector=None),
        ValidationError,
        r"query needs a vector or a vector_id",
    ),
    Case(
        "query-namespace-too-long",
        query(namespace="ns" * 40),
        ValidationError,
        r"namespace 'n[ns]+'\.\.\. is 80 bytes",
    ),
    Case(
        "filter-or",
        query(filter={"$or": [{"a": 1}, {"b": 2}]}),
        ValidationError,
        r"filter key '\$or'.*no logical operators",
    ),
    Case(
        "filter-key-starting-with-dollar",
        query(filter={"$price": 3}),
        ValidationError,
        r"filter key '\$price'",
    ),
    Case(
        "filter-unknown-operator",
        query(filter={"title": {"$regex": "^a"}}),
        ValidationError,
        r"filter 'title': operator '\$regex' is not supported",
    ),
    Case(
        "filter-empty-in",
        query(filter={"tag": {"$in": []}}),
        ValidationError,
        r"filter 'tag' \$in: needs a non-empty list",
    ),
    Case(
        "filter-two-lower-bounds",
        query(filter={"price": {"$gt": 1, "$gte": 2}}),
        ValidationError,
        r"filter 'price': range operators may only combine one lower bound",
    ),
    Case(
        "filter-range-with-equality",
        query(filter={"price": {"$lt": 9, "$eq": 3}}),
        ValidationError,
        r"filter 'price': range operators may only combine",
    ),
    Case(
        "filter-range-on-boolean",
        query(filter={"price": {"$gt": True}}),
        ValidationError,
        r"filter 'price' \$gt: range operators take a string or number",
    ),
    Case(
        "filter-nested-value",
        query(filter={"tag": {"$eq": {"x": 1}}}),
        ValidationError,
        r"filter 'tag' \$eq: value \{'x': 1\} must be a string, number or boolean",
    ),
    Case(
        "filter-2048-bytes",
        query(filter={"body": "x" * 2100}),
        ValidationError,
        r"filter is \d+ bytes of JSON; Vectorize needs it under 2048",
    ),
    Case(
        "filter-exactly-2048-bytes",
        query(filter={"k": "x" * 2040}),
        ValidationError,
        r"filter is 2048 bytes of JSON; Vectorize needs it under 2048",
    ),
    Case(
        "query-vector-id-empty",
        query(vector=None, vector_id=""),
        ValidationError,
        r"vector id '' must be a non-empty string",
    ),
    Case(
        "query-namespace-empty",
        query(namespace=""),
        ValidationError,
        r"namespace '' must be a non-empty string",
    ),
    Case(
        "filter-empty-path-segment",
        query(filter={"a..b": 1}),
        ValidationError,
        r"filter key 'a\.\.b' is not a valid property path",
    ),
    # --- Vectorize indexes, listing, metadata indexes, ids -------------------------------------
    Case(
        "index-name-invalid",
        lambda h: h.vz.create_index("My_Index", dimensions=DIMS),
        ValidationError,
        r"index name 'My_Index' must start with a lower-case letter",
    ),
    Case(
        "index-name-too-long",
        lambda h: h.vz.create_index("a" * 65, dimensions=DIMS),
        ValidationError,
        r"index name 'a{65}' is longer than 64 bytes",
    ),
    Case(
        "dimensions-0",
        lambda h: h.vz.create_index("idx", dimensions=0),
        ValidationError,
        r"dimensions=0 is outside Vectorize's range 1\.\.1536",
    ),
    Case(
        "dimensions-1537",
        lambda h: h.vz.create_index("idx", dimensions=1537),
        ValidationError,
        r"dimensions=1537 is outside",
    ),
    Case(
        "unknown-preset",
        lambda h: h.vz.create_index("idx", preset="@cf/nope/embed"),
        ValidationError,
        r"unknown preset '@cf/nope/embed'",
    ),
    Case(
        "preset-and-dimensions",
        lambda h: h.vz.create_index("idx", dimensions=DIMS, preset="@cf/baai/bge-base-en-v1.5"),
        ValidationError,
        r"either dimensions/metric or preset",
    ),
    Case(
        "unknown-metric",
        lambda h: h.vz.create_index("idx", dimensions=DIMS, metric="manhattan"),  # type: ignore[arg-type]
        ValidationError,
        r"metric must be one of .*, got 'manhattan'",
    ),
    Case(
        "list-count-0",
        lambda h: h.vz.list_vectors(IDX, count=0),
        ValidationError,
        r"count must be 1\.\.1000, got 0",
    ),
    Case(
        "list-count-1001",
        lambda h: h.vz.list_vectors(IDX, count=1001),
        ValidationError,
        r"count must be 1\.\.1000, got 1001",
    ),
    Case(
        # A dotted path indexes a nested value (accepted; UNCERTAIN upstream), but not an
        # empty segment.
        "metadata-index-empty-path-segment",
        lambda h: h.vz.create_metadata_index(IDX, "author..name"),
        ValidationError,
        r"metadata index property 'author\.\.name'",
    ),
    Case(
        "metadata-index-bad-type",
        lambda h: h.vz.create_metadata_index(IDX, "year", "date"),
        ValidationError,
        r"index_type must be one of string, number, boolean, got 'date'",
    ),
    Case(
        "get-by-ids-single-string",
        lambda h: h.vz.get_by_ids(IDX, "v1"),  # type: ignore[arg-type]
        ValidationError,
        r"ids must be a list of strings, not a single string",
    ),
    Case(
        "delete-by-ids-long-id",
        lambda h: h.vz.delete_by_ids(IDX, ["ok", "z" * 70]),
        ValidationError,
        r"vector 'z{70}' at position 1: id is 70 bytes",
    ),
    # --- Workers AI -------------------------------------------------------------------------
    Case(
        "embed-empty-text",
        lambda h: h.ai.embed(["fine", "   "]),
        ValidationError,
        r"text #1 is empty",
    ),
    Case(
        "embed-non-string",
        lambda h: h.ai.embed(["fine", 3]),  # type: ignore[list-item]
        ValidationError,
        r"text #1 must be a string, got int",
    ),
    Case(
        "embed-batch-size-over-model-limit",
        lambda h: h.ai.embed(["a"], batch_size=10_000),
        ValidationError,
        r"batch_size 10000 exceeds @cf/baai/bge-base-en-v1\.5's limit of \d+",
    ),
    Case(
        "embed-batch-size-0",
        lambda h: h.ai.embed(["a"], batch_size=0),
        ValidationError,
        r"batch_size must be at least 1, got 0",
    ),
    Case(
        "messages-and-prompt",
        chat(prompt="hi"),
        ValidationError,
        r"exactly one of messages=\.\.\. or prompt=\.\.\.",
    ),
    Case(
        "neither-messages-nor-prompt",
        chat(None),
        ValidationError,
        r"exactly one of messages=\.\.\. or prompt=\.\.\.",
    ),
    Case("empty-prompt", chat(None, prompt=""), ValidationError, r"prompt must not be empty"),
    Case("empty-messages", chat([]), ValidationError, r"messages must not be empty"),
    Case(
        "message-without-role",
        chat([{"role": "system", "content": "be brief"}, {"content": "hi"}]),
        ValidationError,
        r"message #1 must be a mapping with a 'role'",
    ),
    Case(
        "tool-without-name",
        chat(tools=[WEATHER_TOOL, {"type": "function", "function": {"description": "x"}}]),
        ValidationError,
        r"tool #1 has no name",
    ),
    Case(
        "tool-parameters-not-object",
        chat(tools=[{"name": "get_weather", "parameters": {"type": "array"}}]),
        ValidationError,
        r"tool 'get_weather' \(#0\): parameters must be a JSON Schema of type 'object'",
    ),
    Case(
        "tool-property-without-type",
        chat(
            tools=[
                {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"city": {"title": "C"}}},
                }
            ]
        ),
        ValidationError,
        r"tool 'get_weather' \(#0\): property 'city' has no type",
    ),
    Case(
        "tool-choice-unknown-tool",
        chat(tools=[WEATHER_TOOL], tool_choice="nope"),
        ValidationError,
        r"tool_choice 'nope' names no offered tool \(offered: get_weather\)",
    ),
    Case(
        "unknown-chat-option",
        chat(temprature=0.2),
        TypeError,
        r"unexpected chat options: temprature",
    ),
    # --- images in chat ---------------------------------------------------------------------
    Case(
        "image-for-a-text-model",
        chat([{"role": "user", "content": [_image_part(_PNG_URL)]}]),
        ValidationError,
        rf"{re.escape(CHAT_MODEL)} does not take images .*llama-4-scout",
        attrs={"item": CHAT_MODEL},
    ),
    Case(
        "image-not-an-image",
        vision_chat("data:image/png;base64,bm90IGFuIGltYWdl"),
        ValidationError,
        r"message #0 part #0 is not a readable image",
        attrs={"field": "message #0 part #0"},
    ),
    Case(
        "image-remote-url-in-core",
        vision_chat("https://example.com/cat.png"),
        ValidationError,
        r"message #0 part #0: Workers AI takes images only as data: URLs",
    ),
    Case(
        "image-two-for-llama-3.2-vision",
        lambda h: h.ai.chat(
            "@cf/meta/llama-3.2-11b-vision-instruct",
            [{"role": "user", "content": [_image_part(_PNG_URL), _image_part(_PNG_URL)]}],
        ),
        ValidationError,
        r"takes one image per request, got 2",
    ),
    # --- configuration ----------------------------------------------------------------------
    Case(
        "missing-account-id",
        lambda h: WorkersAIClient(api_token=TOKEN),
        ConfigurationError,
        r"account_id=\.\.\. or set CLOUDFLARE_ACCOUNT_ID",
    ),
    Case(
        "missing-api-token",
        lambda h: VectorizeClient(account_id=ACCOUNT),
        ConfigurationError,
        r"api_token=\.\.\. or set CLOUDFLARE_API_TOKEN",
    ),
    Case(
        "token-with-whitespace",
        offline_ai(api_token="abc def"),
        ConfigurationError,
        r"API token contains white space",
    ),
    Case(
        "bad-base-url",
        offline_ai(base_url="ftp://example.com"),
        ConfigurationError,
        r"base_url 'ftp://example\.com' must start with http:// or https://",
    ),
    Case(
        "gateway-cache-ttl-10",
        gateway(cache_ttl=10),
        ConfigurationError,
        r"cache_ttl: cache_ttl=10 is outside AI Gateway's range 60\.\.2592000",
    ),
    Case(
        "gateway-cache-ttl-over-a-month",
        gateway(cache_ttl=30 * 24 * 3600 + 1),
        ConfigurationError,
        r"cache_ttl=2592001 is outside",
    ),
    Case(
        "gateway-6-metadata-entries",
        gateway(metadata={f"k{i}": i for i in range(6)}),
        ConfigurationError,
        r"at most 5 metadata entries; got 6 \(k0, k1, k2, k3, k4, k5\)",
    ),
    Case(
        "gateway-max-attempts-6",
        gateway(max_attempts=6),
        ConfigurationError,
        r"max_attempts=6 must be 1\.\.5",
    ),
    Case(
        "gateway-retry-delay-6000",
        gateway(retry_delay_ms=6000),
        ConfigurationError,
        r"retry_delay_ms=6000 must be 0\.\.5000",
    ),
    Case(
        "gateway-id-with-slash",
        offline_ai(gateway="team/prod"),
        ConfigurationError,
        r"gateway id 'team/prod' must be a single path segment",
    ),
    Case(
        "gateway-bad-base-url",
        gateway(base_url="gateway.example"),
        ConfigurationError,
        r"gateway base_url 'gateway\.example'",
    ),
    Case(
        "gateway-unknown-option",
        gateway(cache_tll=60),
        ConfigurationError,
        r"cache_tll",
    ),
    Case(
        "per-call-gateway-invalid",
        chat(gateway={"id": "gw", "max_attempts": 0}),
        ConfigurationError,
        r"max_attempts=0 must be 1\.\.5",
    ),
    # --- LangChain adapters -------------------------------------------------------------------
    Case(
        "langchain-document-too-large",
        lc_add_oversized_document,
        ValidationError,
        r"document 'big-doc' at position 1 is too large for Vectorize",
    ),
    Case(
        "langchain-or-across-keys",
        lc_or_across_keys,
        ValidationError,
        r"OR across different properties \('a' and 'b'\)",
    ),
    Case(
        "langchain-bind-tools-unknown-choice",
        lc_bind_unknown_tool_choice,
        ValidationError,
        r"tool_choice 'nope'.*get_weather",
    ),
    # --- LlamaIndex filters ---------------------------------------------------------------------
    Case(
        "llama-index-or-across-keys",
        li_filter(("a", "EQ", 1), ("b", "EQ", 2), condition="or"),
        ValidationError,
        r"OR across different properties \('a' and 'b'\)",  # the same words as LangChain's
    ),
    Case(
        "llama-index-contains",
        li_filter(("tags", "CONTAINS", "x")),
        ValidationError,
        r"filter on 'tags': operator CONTAINS",
    ),
    Case(
        "llama-index-not",
        li_filter(("a", "EQ", 1), condition="not"),
        ValidationError,
        r"Vectorize has no NOT.*a == 1",
    ),
    # --- only the server can know (emulator) ----------------------------------------------------
    Case(
        "server-unknown-model",
        lambda h: h.ai.chat("@cf/nope/no-such-model", prompt="hi"),
        NotFoundError,
        r"No such model @cf/nope/no-such-model",
        before_send=False,
        attrs={"code": 5007},
    ),
    Case(
        "server-vision-chat-non-image",
        lambda h: h.ai.run(
            "@cf/meta/llama-4-scout-17b-16e-instruct",
            {
                "messages": [
                    {"role": "user", "content": [_image_part("data:image/png;base64,AAAA")]}
                ]
            },
        ),
        InvalidRequestError,
        r"/messages/0/content/0/image_url/url' is not an image",
        before_send=False,
        attrs={"code": 5006},
    ),
    Case(
        "server-unknown-embedding-model",
        lambda h: h.ai.embed(["hi"], model="@cf/nope/embedder"),
        NotFoundError,
        r"No such model @cf/nope/embedder",
        before_send=False,
        attrs={"code": 5007},
    ),
    Case(
        "server-wrong-token",
        lambda h: h.emulator_ai(api_token="wrong-token").chat(CHAT_MODEL, prompt="hi"),
        AuthenticationError,
        r"Authentication error",
        before_send=False,
        attrs={"status_code": 401},
    ),
    Case(
        "server-wrong-account",
        lambda h: h.emulator_vz(account_id="f" * 32).list_indexes(),
        PermissionDeniedError,
        # The account id is not echoed (paths are shown relative to the account).
        r"Authentication error \(GET /vectorize/v2/indexes\)",
        before_send=False,
        attrs={"status_code": 403},
    ),
    Case(
        "server-schema-invalid-raw-input",
        lambda h: h.ai.run(CHAT_MODEL, {"promptt": "hi"}),
        InvalidRequestError,
        r"Bad input: .*required properties at '/' are 'prompt'.*'messages'",
        before_send=False,
        attrs={"code": 5006},
    ),
    Case(
        "server-dimension-mismatch-on-write",
        server_dimension_mismatch,
        InvalidRequestError,
        r"id \"short-vector\", expected 4 dimensions, and got 3 .*dims-four/upsert",
        before_send=False,
    ),
    Case(
        "server-dimension-mismatch-on-query",
        server_query_dimension_mismatch,
        InvalidRequestError,
        r"expected 4 dimensions, and got 3 .*dims-four-q/query",
        before_send=False,
    ),
    Case(
        "server-missing-index",
        lambda h: h.vz.get_index("no-such-index"),
        NotFoundError,
        r"index\.not_found: no-such-index",
        before_send=False,
    ),
    Case(
        "server-duplicate-index",
        server_duplicate_index,
        ConflictError,
        r"duplicate_name: dup-index",
        before_send=False,
        attrs={"code": 3002, "status_code": 409},
    ),
]


def _params() -> Iterator[Any]:
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {case.bug}")] if case.bug else []
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as cf:
        yield cf


@pytest.fixture
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    clear_env(monkeypatch)
    case: Case = request.node.callspec.params["case"]
    if case.before_send:
        recorder = Recorder(lambda _: json_response(200, envelope({"mutationId": "m-1"})))
        h = Harness(ai=ai_client(recorder), vz=vz_client(recorder), recorder=recorder)
    else:
        cf: LocalCloudflare = request.getfixturevalue("emulator")
        h = Harness(ai=None, vz=None, cf=cf)  # type: ignore[arg-type]
        h.ai, h.vz = h.emulator_ai(), h.emulator_vz()
    h.closers += [h.ai.close, h.vz.close]
    yield h
    for close in h.closers:
        close()


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert sum(not c.before_send for c in CASES) >= 7


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input_is_refused_clearly(case: Case, harness: Harness) -> None:
    with pytest.raises(case.exc) as info:
        case.call(harness)
    message = str(info.value)
    assert re.search(case.match, message, re.DOTALL), (
        f"{case.id}: message does not name the offending item: {message!r}"
    )
    for name, value in case.attrs.items():
        assert getattr(info.value, name) == value, (name, getattr(info.value, name))
    if case.before_send:
        assert harness.recorder is not None
        assert harness.recorder.count == 0, [str(r.url) for r in harness.recorder.requests]
        assert TOKEN not in message
