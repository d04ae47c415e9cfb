"""Texts over the embedding model's input limit, through LangChain's ``WorkersAIEmbeddings`` and
the core ``embed`` (both APIs), against the emulator, which refuses over-long inputs with
5006 as Cloudflare does."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from cloudflare_ai import (
    AsyncWorkersAIClient,
    InputTruncatedWarning,
    ValidationError,
    WorkersAIClient,
)
from cloudflare_ai.errors import APIError
from cloudflare_ai.langchain import WorkersAIEmbeddings
from cloudflare_ai.tokens import estimate_tokens, truncate_to_tokens
from cloudflare_ai_local import LocalCloudflare
from tests.llama_index.test_li_long_documents import long_document

pytestmark = pytest.mark.emulator

LONG = long_document(words=600)
SHORT = "Vectorize stores embeddings next to their metadata."


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def conn(cf: LocalCloudflare) -> dict[str, str]:
    return {"account_id": cf.account_id, "api_token": cf.api_token, "base_url": cf.base_url}


def test_the_fixture_text_is_too_long_for_bge(conn: dict[str, str]) -> None:
    assert estimate_tokens(LONG) > 512
    with WorkersAIClient(**conn) as ai, pytest.raises(APIError) as refused:
        ai.run("@cf/baai/bge-base-en-v1.5", {"text": [SHORT, LONG]})
    assert refused.value.code == 5006


def test_embed_documents_cuts_long_texts_with_a_warning(conn: dict[str, str]) -> None:
    model = WorkersAIEmbeddings(**conn)
    with pytest.warns(InputTruncatedWarning, match="1 of 2 texts") as caught:
        vectors = model.embed_documents([SHORT, LONG])
    assert "RecursiveCharacterTextSplitter(chunk_size=1000)" in str(caught[0].message)
    assert len(vectors) == 2
    assert vectors[0] == model.embed_query(SHORT)  # the short one is untouched
    assert vectors[1] == model.embed_query(truncate_to_tokens(LONG, 512))


async def test_async_paths_cut_the_same_way(conn: dict[str, str]) -> None:
    model = WorkersAIEmbeddings(**conn)
    with pytest.warns(InputTruncatedWarning):
        vectors = await model.aembed_documents([LONG])
    with pytest.warns(InputTruncatedWarning, match="the text is longer"):
        query = await model.aembed_query(LONG)
    assert vectors[0] == query
    assert query == await model.aembed_query(truncate_to_tokens(LONG, 512))


def test_long_inputs_error_refuses_before_sending(
    cf: LocalCloudflare, conn: dict[str, str]
) -> None:
    model = WorkersAIEmbeddings(**conn, long_inputs="error")
    with pytest.raises(ValidationError) as refused:
        model.embed_documents([SHORT, LONG, SHORT])
    assert refused.value.position == 1
    assert "limit of 512 tokens" in str(refused.value)
    assert "chunk_size=280" in str(refused.value)
    with pytest.raises(ValidationError):
        model.embed_query(LONG)
    assert model.embed_documents([SHORT]) == [model.embed_query(SHORT)]


@pytest.mark.parametrize("api", ["native", "openai"])
async def test_core_embed_fits_inputs_on_both_apis(conn: dict[str, str], api: str) -> None:
    with WorkersAIClient(**conn) as ai, pytest.warns(InputTruncatedWarning):
        sync = ai.embed([LONG], api=api).vectors  # type: ignore[arg-type]
    async with AsyncWorkersAIClient(**conn) as aai:
        with pytest.warns(InputTruncatedWarning):
            result = await aai.embed([LONG], api=api)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="long_inputs must be"):
            await aai.embed([SHORT], long_inputs="cut")  # type: ignore[arg-type]
    assert result.vectors == sync


def test_models_without_a_stated_limit_are_sent_as_given(conn: dict[str, str]) -> None:
    # bge-m3 states a 60,000-token context window, not a per-input limit: nothing is cut.
    with WorkersAIClient(**conn) as ai:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InputTruncatedWarning)
            [vector] = ai.embed([LONG], model="@cf/baai/bge-m3").vectors
    assert len(vector) == 1024
