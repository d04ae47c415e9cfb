"""The main job, end to end: index a small corpus in Vectorize and answer a question with
Workers AI from what retrieval finds, streaming the answer and citing its sources.

Runs on the local emulator unless Cloudflare credentials are set.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, TextIO

from cloudflare_ai.costs import FREE_NEURONS_PER_DAY
from cloudflare_ai.documents import TEXT_KEY
from cloudflare_ai.models import DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL, require_model
from cloudflare_ai.usage import UsageTracker, track_usage
from cloudflare_ai.vectorize import Vector, VectorizeClient
from cloudflare_ai.workers_ai import WorkersAIClient

from .corpus import Passage, load_corpus

DEMO_INDEX = "cloudflare-ai-demo"
DEFAULT_QUESTION = "When do I have to create a metadata index for Vectorize filters to work?"


def ingest(
    workers_ai: WorkersAIClient,
    vectorize: VectorizeClient,
    passages: list[Passage],
    *,
    index: str = DEMO_INDEX,
    embedding_model: str = DEFAULT_EMBEDDING_MODEL,
) -> int:
    """Create the index (and its ``topic`` metadata index, before any write) and upsert the
    passages with their text in metadata. Safe to re-run: ids come from content."""
    dims = require_model(embedding_model).dimensions
    assert dims is not None
    vectorize.ensure_index(
        index, dimensions=dims, metric="cosine", metadata_indexes={"topic": "string"}
    )
    vectors = workers_ai.embed([p.text for p in passages], model=embedding_model).vectors
    records = [
        Vector(
            p.id,
            values,
            {TEXT_KEY: p.text, "source": p.source, "title": p.title, **p.metadata},
        )
        for p, values in zip(passages, vectors, strict=True)
    ]
    return vectorize.upsert(index, records, wait=True, wait_timeout=120).count


def retrieve(
    workers_ai: WorkersAIClient,
    vectorize: VectorizeClient,
    question: str,
    *,
    index: str = DEMO_INDEX,
    top_k: int = 3,
    filter: dict[str, Any] | None = None,
    embedding_model: str = DEFAULT_EMBEDDING_MODEL,
) -> list[dict[str, Any]]:
    """The best passages for a question: one embedding request, one query."""
    [vector] = workers_ai.embed([question], model=embedding_model).vectors
    result = vectorize.query(index, vector, top_k=top_k, filter=filter, return_metadata="all")
    return [{**(m.metadata or {}), "score": m.score, "id": m.id} for m in result.matches]


def prompt_messages(question: str, passages: list[dict[str, Any]]) -> list[dict[str, str]]:
    context = "\n\n".join(f"[{i}] {p[TEXT_KEY]}" for i, p in enumerate(passages, 1))
    return [
        {
            "role": "system",
            "content": "Answer the question using only the numbered context passages. "
            "If they do not contain the answer, say so.\n\nContext:\n" + context,
        },
        {"role": "user", "content": question},
    ]


def answer_stream(
    workers_ai: WorkersAIClient,
    question: str,
    passages: list[dict[str, Any]],
    *,
    model: str = DEFAULT_CHAT_MODEL,
) -> Iterator[str]:
    """The answer's text as it streams."""
    for chunk in workers_ai.stream_chat(model, prompt_messages(question, passages), max_tokens=256):
        if chunk.text:
            yield chunk.text


def run(
    question: str = DEFAULT_QUESTION, *, out: TextIO = sys.stdout, frameworks: bool = True
) -> str:
    """Ingest the bundled corpus, retrieve for ``question`` and stream a grounded answer:
    with the core client, then through LangChain and LlamaIndex (``frameworks``)."""
    from .environment import cloudflare_or_local

    with cloudflare_or_local() as connection, track_usage() as usage:
        print(connection.description, file=out)
        kwargs = connection.client_kwargs()
        with WorkersAIClient(**kwargs) as workers_ai, VectorizeClient(**kwargs) as vectorize:
            passages = load_corpus()
            count = ingest(workers_ai, vectorize, passages)
            print(f"Indexed {count} passages from the bundled corpus in '{DEMO_INDEX}'.", file=out)
            print(f"\nQuestion: {question}\n", file=out)
            found = retrieve(workers_ai, vectorize, question)
            print("Answer (core client, streamed): ", end="", file=out, flush=True)
            parts = []
            for text in answer_stream(workers_ai, question, found):
                parts.append(text)
                print(text, end="", file=out, flush=True)
            print("\n\nSources:", file=out)
            for number, passage in enumerate(found, 1):
                print(
                    f"  [{number}] {passage['source']} ({passage['title']}), "
                    f"score {passage['score']:.3f}",
                    file=out,
                )
            filtered = retrieve(
                workers_ai, vectorize, "How do retries work?", filter={"topic": "ai-gateway"}
            )
            print(
                "\nFiltered retrieval (topic = ai-gateway) for 'How do retries work?': "
                + ", ".join(p["source"] for p in filtered),
                file=out,
            )
        if frameworks:
            from . import demo_frameworks

            demo_frameworks.run(connection, question, out)
        print_usage(usage, out)
        return "".join(parts)


def print_usage(usage: UsageTracker, out: TextIO) -> None:
    """What the run used and cost, per model, at the catalog's prices."""
    total = usage.total
    print(
        f"\nThis run: {total.calls} Workers AI calls, {total.total_tokens} tokens, "
        f"{total.neurons:.1f} neurons (${total.cost_usd:.6f}; {FREE_NEURONS_PER_DAY:,} neurons "
        "a day are free)",
        file=out,
    )
    for model, figures in sorted(usage.by_model.items()):
        print(
            f"  {model}: {figures.calls} calls, {figures.total_tokens} tokens, "
            f"{figures.neurons:.1f} neurons",
            file=out,
        )


if __name__ == "__main__":  # pragma: no cover
    run(" ".join(sys.argv[1:]) or DEFAULT_QUESTION)
