"""The built-in splitter that ``cloudflare-ai ingest`` uses when LlamaIndex is not installed."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudflare_ai.errors import ValidationError
from cloudflare_ai_app.ingest import resolve_splitter, split
from cloudflare_ai_app.splitter import count_tokens, markdown_sections, split_text

GUIDE = """# Vectorize

Vectorize stores vectors.

## Metadata filters

Create the metadata index before you write the vectors. Older vectors never match a filter.

```bash
# this is a shell comment, not a heading

wrangler vectorize create-metadata-index docs --property-name topic --type string
```

## Limits
### Per index

Five million vectors per index.
"""


def test_markdown_is_cut_at_headings_and_each_chunk_keeps_its_heading() -> None:
    chunks = split_text(GUIDE, chunk_size=256, chunk_overlap=32, markdown=True)
    assert [c.splitlines()[0] for c in chunks] == [
        "# Vectorize",
        "## Metadata filters",
        "## Limits",
    ]
    filters = chunks[1]
    assert "before you write the vectors" in filters
    assert "# this is a shell comment" in filters  # fenced code is not a heading
    assert filters.rstrip().endswith("```")  # and the fence is kept whole
    assert chunks[2] == "## Limits\n### Per index\n\nFive million vectors per index."


def test_text_files_are_not_cut_at_hash_lines() -> None:
    chunks = split_text(GUIDE, chunk_size=256, chunk_overlap=0, markdown=False)
    assert len(chunks) == 1


def test_long_sections_are_packed_by_sentences_within_the_size_with_overlap() -> None:
    body = " ".join(f"Fact number {i} is worth remembering." for i in range(200))
    chunks = split_text(f"# Facts\n\n{body}\n", chunk_size=64, chunk_overlap=16, markdown=True)
    assert len(chunks) > 5
    assert all(count_tokens(c) <= 64 for c in chunks)
    assert chunks[0].startswith("# Facts\n\nFact number 0 is")
    assert "Fact number 199 is worth remembering." in chunks[-1]
    for before, after in itertools.pairwise(chunks):
        last_sentence = before.rsplit(". ", 1)[-1]
        assert after.startswith(last_sentence.removesuffix(".")), (before, after)
        assert count_tokens(last_sentence) <= 16
    without = split_text(f"# Facts\n\n{body}\n", chunk_size=64, chunk_overlap=0, markdown=True)
    assert len(without) < len(chunks)
    assert "".join(without).count("Fact number 100 is") == 1


def test_words_and_characters_are_the_last_resort() -> None:
    chunks = split_text("x" * 1000 + " tail", chunk_size=50, chunk_overlap=0, markdown=False)
    assert all(count_tokens(c) <= 50 for c in chunks)
    assert "".join(chunks).replace(" ", "") == "x" * 1000 + "tail"


def test_cjk_characters_count_one_token_each() -> None:
    text = "向量数据库存储向量。" * 60  # no spaces: one "word" to a whitespace splitter
    assert count_tokens(text) >= len(text)
    chunks = split_text(text, chunk_size=50, chunk_overlap=10, markdown=False)
    assert all(count_tokens(c) <= 50 for c in chunks)
    assert len(chunks) >= len(text) // 50
    assert all(c.endswith("。") for c in chunks)  # cut between sentences
    assert "".join(split_text(text, chunk_size=50, chunk_overlap=0, markdown=False)) == text


def test_the_same_text_always_gives_the_same_chunks() -> None:
    first = split_text(GUIDE * 20, chunk_size=40, chunk_overlap=8, markdown=True)
    assert first == split_text(GUIDE * 20, chunk_size=40, chunk_overlap=8, markdown=True)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, 20), (10, -1)])
def test_impossible_sizes_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk"):
        split_text("text", chunk_size=size, chunk_overlap=overlap, markdown=False)


def test_a_heading_over_a_sub_heading_stays_with_it() -> None:
    assert markdown_sections("# A\n## B\ntext\n# C\nmore") == ["# A\n## B\ntext", "# C\nmore"]


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("abcdefgh .!?#`\n\t,-'\"é")), min_size=0, max_size=3000
    ),
    size=st.integers(min_value=1, max_value=80),
    markdown=st.booleans(),
)
def test_nothing_is_lost_and_nothing_is_too_long(text: str, size: int, markdown: bool) -> None:
    chunks = split_text(text, chunk_size=size, chunk_overlap=0, markdown=markdown)
    assert all(count_tokens(c) <= size for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(st.sampled_from(["alpha", "beta.", "gamma!", "delta", "\n\n", "# h\n"])),
    size=st.integers(min_value=8, max_value=60),
    overlap=st.integers(min_value=0, max_value=7),
)
def test_with_overlap_every_word_is_still_there(words: list[str], size: int, overlap: int) -> None:
    text = " ".join(words)
    chunks = split_text(text, chunk_size=size, chunk_overlap=overlap, markdown=True)
    assert all(count_tokens(c) <= size for c in chunks)
    joined = " ".join(chunks)
    for word in {w.strip() for w in words if w.strip()}:
        assert word in joined


# --- which splitter ingest uses -------------------------------------------------------------


def test_without_llama_index_the_built_in_splitter_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_splitter("auto") == "llama-index"  # installed in the dev environment
    monkeypatch.setitem(sys.modules, "llama_index.core.node_parser", None)
    assert resolve_splitter("auto") == "builtin"
    chunks = split(Path("guide.md"), GUIDE, chunk_size=256, chunk_overlap=32)
    assert chunks == split_text(GUIDE, chunk_size=256, chunk_overlap=32, markdown=True)
    with pytest.raises(ValidationError, match=r"pip install 'cloudflare-ai\[llama-index\]'"):
        resolve_splitter("llama-index")


def test_the_built_in_splitter_can_be_chosen_with_llama_index_installed() -> None:
    assert resolve_splitter("builtin") == "builtin"
    chunks = split(Path("guide.md"), GUIDE, chunk_size=256, chunk_overlap=32, splitter="builtin")
    assert chunks[0].startswith("# Vectorize")
