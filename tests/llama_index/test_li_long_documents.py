"""A long document through the README's LlamaIndex example, on the emulator.

LlamaIndex's default splitter makes 1,024-token chunks; ``@cf/baai/bge-base-en-v1.5`` takes
512 tokens per input and Cloudflare refuses a longer one with error 5006, failing the whole
request. The emulator refuses the same way (checked first, so the other tests mean something);
``WorkersAIEmbedding`` cuts over-long chunks to fit with a warning naming the chunk size to
use (default), or refuses them before sending (``long_inputs="error"``).
"""

from __future__ import annotations

import itertools
import random
import warnings
from collections.abc import Iterator

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter

from cloudflare_ai import InputTruncatedWarning, ValidationError, VectorizeClient, WorkersAIClient
from cloudflare_ai.errors import APIError
from cloudflare_ai.llama_index import VectorizeVectorStore, WorkersAIEmbedding
from cloudflare_ai.tokens import estimate_tokens, truncate_to_tokens
from cloudflare_ai_local import LocalCloudflare

pytestmark = pytest.mark.emulator

BGE = "@cf/baai/bge-base-en-v1.5"
SENTENCES = [
    "Vectorize stores embeddings next to their metadata so that filters can narrow a search.",
    "A metadata index must exist before the vectors it should filter are written.",
    "AI Gateway caches identical requests and reports the cache status in a response header.",
    "Workers AI streams generated tokens as server-sent events that end with a done marker.",
    "Rate limits are counted per model and per minute, and a retry should honour Retry-After.",
    "Each namespace keeps its own vectors, and a query searches one namespace or all of them.",
    "Deleting a document removes every node that was split from it, one batch at a time.",
    "The embedding model turns every chunk of text into a vector of 768 numbers.",
]
_names = itertools.count()


def long_document(words: int = 3000, seed: int = 7) -> str:
    """About ``words`` words of English prose in paragraphs, the same on every run."""
    rnd = random.Random(seed)
    paragraphs, count = [], 0
    while count < words:
        paragraph = " ".join(rnd.choice(SENTENCES) for _ in range(5))
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return "\n\n".join(paragraphs)


@pytest.fixture(scope="module")
def cf() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as emulator:
        yield emulator


@pytest.fixture
def env(cf: LocalCloudflare, monkeypatch: pytest.MonkeyPatch) -> LocalCloudflare:
    """Adapters built from the environment, as the README builds them."""
    for name, value in cf.env.items():
        monkeypatch.setenv(name, value)
    return cf


@pytest.fixture
def store(env: LocalCloudflare) -> Iterator[VectorizeVectorStore]:
    store = VectorizeVectorStore(index_name=f"long-docs-{next(_names)}", wait_for_writes=True)
    yield store
    store.delete_index(missing_ok=True)
    store.close()


def _stored(cf: LocalCloudflare, index: str) -> int:
    with VectorizeClient(
        account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url
    ) as db:
        return len(list(db.iter_ids(index)))


def _default_chunks(text: str) -> list[str]:
    """The chunks LlamaIndex's default splitter makes of ``text``, as embedded."""
    return [
        n.get_content() for n in SentenceSplitter().get_nodes_from_documents([Document(text=text)])
    ]


def test_the_emulator_refuses_an_over_long_input_like_cloudflare(env: LocalCloudflare) -> None:
    chunks = _default_chunks(long_document())
    assert len(chunks) >= 3
    assert all(estimate_tokens(c) > 512 for c in chunks[:-1])  # all but the remainder
    with WorkersAIClient() as ai:
        # run() sends the input as given (no client-side fitting).
        with pytest.raises(APIError) as refused:
            ai.run(BGE, {"text": chunks[:2]})
        assert refused.value.status_code == 400
        assert refused.value.code == 5006
        # At the limit exactly the emulator accepts: it counts as the client does.
        fitted = truncate_to_tokens(chunks[0], 512)
        assert estimate_tokens(fitted) <= 512
        assert ai.run(BGE, {"text": [fitted]}).result["shape"] == [1, 768]


def test_readme_example_indexes_a_long_document(
    env: LocalCloudflare, store: VectorizeVectorStore
) -> None:
    text = long_document()
    assert 3000 <= len(text.split()) < 3100
    with pytest.warns(InputTruncatedWarning) as caught:
        index = VectorStoreIndex.from_documents(
            [Document(text=text, metadata={"topic": "notes"})],
            embed_model=WorkersAIEmbedding(),
            storage_context=StorageContext.from_defaults(vector_store=store),
        )
    truncated = [w for w in caught if issubclass(w.category, InputTruncatedWarning)]
    message = str(truncated[0].message)
    assert "512 tokens" in message
    assert "SentenceSplitter(chunk_size=280)" in message
    assert "Settings.chunk_size = 280" in message
    chunks = len(_default_chunks(text))
    assert _stored(env, store.index_name) == chunks  # every chunk written
    hits = index.as_retriever(similarity_top_k=3).retrieve("What does AI Gateway cache?")
    assert len(hits) == 3
    assert any("AI Gateway caches" in h.node.get_content() for h in hits)


def test_the_truncated_embedding_is_that_of_the_beginning(env: LocalCloudflare) -> None:
    [chunk, *_] = _default_chunks(long_document())
    model = WorkersAIEmbedding()
    with pytest.warns(InputTruncatedWarning):
        whole = model.get_text_embedding(chunk)
    beginning = model.get_text_embedding(truncate_to_tokens(chunk, 512))
    assert whole == beginning


def test_long_inputs_error_refuses_before_sending(
    env: LocalCloudflare, store: VectorizeVectorStore
) -> None:
    with pytest.raises(ValidationError) as refused:
        VectorStoreIndex.from_documents(
            [Document(text=long_document())],
            embed_model=WorkersAIEmbedding(long_inputs="error"),
            storage_context=StorageContext.from_defaults(vector_store=store),
        )
    message = str(refused.value)
    assert f"{BGE}'s limit of 512 tokens" in message
    assert "SentenceSplitter(chunk_size=280)" in message
    with pytest.raises(APIError):  # nothing was written: the index was never even created
        _stored(env, store.index_name)


def test_the_advised_chunk_size_fits_without_truncation(
    env: LocalCloudflare, store: VectorizeVectorStore
) -> None:
    text = long_document()
    splitter = SentenceSplitter(chunk_size=280, chunk_overlap=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputTruncatedWarning)
        VectorStoreIndex.from_documents(
            [Document(text=text)],
            embed_model=WorkersAIEmbedding(long_inputs="error"),
            storage_context=StorageContext.from_defaults(vector_store=store),
            transformations=[splitter],
        )
    assert _stored(env, store.index_name) == len(
        splitter.get_nodes_from_documents([Document(text=text)])
    )


async def test_async_embedding_of_long_chunks(env: LocalCloudflare) -> None:
    chunks = _default_chunks(long_document())
    model = WorkersAIEmbedding()
    over = sum(estimate_tokens(c) > 512 for c in chunks)
    with pytest.warns(InputTruncatedWarning, match=f"{over} of {len(chunks)} texts"):
        vectors = await model.aget_text_embedding_batch(chunks)
    assert len(vectors) == len(chunks)
    strict = WorkersAIEmbedding(long_inputs="error")
    with pytest.raises(ValidationError, match="chunk_size=280"):
        await strict.aget_text_embedding_batch(chunks)
    with pytest.raises(ValidationError, match="chunk_size=280"):
        await strict.aget_query_embedding(chunks[0])
