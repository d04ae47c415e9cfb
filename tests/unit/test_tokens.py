"""The embedding models' input limits and the conservative token estimate (cloudflare_ai.tokens),
shared by the client (which cuts or refuses long texts) and the emulator (which refuses them)."""

from __future__ import annotations

import re

import pytest

from cloudflare_ai.tokens import (
    SPECIAL_TOKENS,
    chunk_advice,
    estimate_tokens,
    input_token_limit,
    suggested_chunk_chars,
    suggested_chunk_size,
    truncate_to_tokens,
)

PROSE = (
    "Vectorize stores embeddings next to their metadata, so that filters can narrow a search. "
    "A metadata index must exist before the vectors it filters are written; vectors written "
    "earlier never match. AI Gateway caches identical requests for 3600 seconds (cf-aig-cache-"
    "ttl) and reports HIT or MISS. Ünïcode, 日本語 and emoji 🙂 count one token a character."
)


def test_limits_come_from_the_model_table() -> None:
    assert input_token_limit("@cf/baai/bge-base-en-v1.5") == 512
    assert input_token_limit("@cf/baai/bge-small-en-v1.5") == 512
    assert input_token_limit("@cf/baai/bge-large-en-v1.5") == 512
    # bge-m3 states only a context window (and has Cloudflare's own truncate_inputs option);
    # unknown models have no limit the client could enforce.
    assert input_token_limit("@cf/baai/bge-m3") is None
    assert input_token_limit("@cf/unknown/model") is None


def test_estimate_is_never_below_one_token_per_word_or_mark() -> None:
    # A WordPiece tokenizer gives every word and every punctuation mark at least one token,
    # plus [CLS] and [SEP]: the estimate must not count fewer.
    word_like = len(re.findall(r"\w+|[^\w\s]", PROSE))
    assert estimate_tokens(PROSE) >= word_like + SPECIAL_TOKENS
    assert estimate_tokens("") == SPECIAL_TOKENS


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("cat", 1),
        ("information", 3),  # long words count one token per four letters
        ("1234567", 4),  # one per two digits
        ("a, b.", 4),  # marks count one each
        ("日本語", 3),  # CJK: one per character
        ("café", 2),  # "caf" + "é"
    ],
)
def test_estimate_of_pieces(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens + SPECIAL_TOKENS


@pytest.mark.parametrize("limit", [3, 10, 64, 512])
@pytest.mark.parametrize(
    "text",
    [PROSE * 20, "x" * 5000, "9" * 3000, "日本語のテキスト" * 400, "word " * 2000],
    ids=["prose", "one-long-word", "digits", "cjk", "short-words"],
)
def test_truncation_keeps_the_longest_beginning_that_fits(text: str, limit: int) -> None:
    cut = truncate_to_tokens(text, limit)
    assert cut, "something is always kept"
    assert text.startswith(cut)
    assert estimate_tokens(cut) <= limit
    # One more character of the original (past trailing space) would not fit.
    longer = text[: len(cut) + 1]
    while longer != text and not longer[-1].strip():
        longer = text[: len(longer) + 1]
    assert estimate_tokens(longer) > limit


def test_a_text_within_the_limit_is_kept_whole() -> None:
    assert truncate_to_tokens(PROSE, estimate_tokens(PROSE)) == PROSE
    assert truncate_to_tokens(PROSE, estimate_tokens(PROSE) - 1) != PROSE


def test_advice_names_chunk_sizes_for_both_frameworks() -> None:
    assert suggested_chunk_size(512) == 280
    assert suggested_chunk_chars(512) == 1000
    advice = chunk_advice(512)
    assert "SentenceSplitter(chunk_size=280)" in advice
    assert "Settings.chunk_size = 280" in advice
    assert "RecursiveCharacterTextSplitter(chunk_size=1000)" in advice


def test_the_one_regex_estimate_equals_the_piece_by_piece_definition() -> None:
    """``estimate_tokens`` counts matches of one regex (fast, on every embedding answer); it
    must equal the documented rule applied piece by piece."""
    import random

    from cloudflare_ai import tokens

    def by_pieces(text: str) -> int:
        return tokens.SPECIAL_TOKENS + sum(map(tokens._cost, tokens._PIECE.findall(text)))

    rng = random.Random(3)
    alphabet = "abcXYZ0123456789 \t\n.,;:!?é中😀-_/()[]{}'\"ñß\u00a0\u2003"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert tokens.estimate_tokens(text) == by_pieces(text), repr(text)
