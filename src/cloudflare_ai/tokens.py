"""Input-length limits of embedding models and a conservative token estimate, in one place.

The BGE embedding models take at most 512 tokens per input (the catalog's
``max_input_tokens``); Cloudflare refuses a longer input with error 5006 and fails the whole
request. The client checks every text against the limit before sending and cuts (or
refuses) what is too long; the local emulator refuses with the same estimate and the same
limit, so what the client sends is what the emulator accepts.

The estimate is not BGE's WordPiece tokenizer (which this package does not ship): it is
meant never to count fewer tokens than WordPiece does on ordinary prose. UNCERTAIN: it is a
heuristic, checked by reasoning about WordPiece rather than against Cloudflare's tokenizer;
text made of rare identifiers or random strings can still tokenize longer, and Cloudflare then
refuses it as before.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from .models import get_model

#: What to do with a text longer than the model's input limit: cut it to fit (with an
#: :class:`InputTruncatedWarning`), or raise :class:`~cloudflare_ai.errors.ValidationError`
#: before anything is sent.
LongInputs = Literal["truncate", "error"]

#: ``[CLS]`` and ``[SEP]``, which BERT-style models add to every input. UNCERTAIN: whether
#: Cloudflare's 512 counts them; counting them is the safe side.
SPECIAL_TOKENS: Final = 2

#: Pieces of text and what each costs at most:
#: * a run of ASCII letters: one token per four letters, at least one (WordPiece keeps common
#:   English words whole and splits rarer ones into pieces that are rarely shorter);
#: * a run of digits: one token per two digits (BERT's vocabulary splits long numbers);
#: * any other visible character (punctuation, accented and non-Latin letters, CJK, emoji):
#:   one token each (BERT splits punctuation and CJK into single characters).
_PIECE = re.compile(r"[A-Za-z]+|[0-9]+|\S")


def _chars_per_token(piece: str) -> int:
    first = piece[0]
    if first.isascii():
        if first.isalpha():
            return 4
        if first.isdigit():
            return 2
    return 1


def _cost(piece: str) -> int:
    per_token = _chars_per_token(piece)
    return 1 if per_token == 1 else -(-len(piece) // per_token)


#: Ratios of LlamaIndex's chunk tokens (tiktoken ``cl100k_base``) and of characters to this
#: estimate, measured on this package's corpus (Markdown with tables and code): at least 0.57
#: tokens and 2.1 characters per estimated token, 0.72 tokens on average. Rounded down.
_CHUNK_TOKENS_PER_ESTIMATED: Final = 0.55
_CHARS_PER_ESTIMATED: Final = 2.0


class InputTruncatedWarning(UserWarning):
    """A text was longer than the embedding model's input limit and was cut to fit: only its
    beginning was embedded."""


#: The same costs as one match per token: a run of n ASCII letters is ceil(n / 4) matches of
#: up to four letters, a run of digits ceil(n / 2) matches of up to two, any other visible
#: character one. Counting matches runs in the regex engine, with no Python call per piece:
#: every embedding answer is metered with this estimate (``/ai/run`` reports no tokens).
_TOKEN = re.compile(r"[A-Za-z]{1,4}|[0-9]{1,2}|[^\sA-Za-z0-9]")


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` takes as one embedding input, counted on the high side (see the module
    docstring), special tokens included."""
    return SPECIAL_TOKENS + len(_TOKEN.findall(text))


def input_token_limit(model: str) -> int | None:
    """The most tokens one input of ``model`` may have, from the model table; None when the
    table states none (the model is unknown, or has only a context window)."""
    info = get_model(model)
    return info.max_input_tokens if info is not None else None


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest beginning of ``text`` whose :func:`estimate_tokens` is at most ``limit``
    (cut between pieces where possible, inside a long piece otherwise)."""
    budget = limit - SPECIAL_TOKENS
    end = 0
    for match in _PIECE.finditer(text):
        cost = _cost(match.group())
        if cost > budget:
            if budget > 0:
                end = match.start() + budget * _chars_per_token(match.group())
            break
        budget -= cost
        end = match.end()
    else:
        return text
    return text[:end].rstrip()


def suggested_chunk_size(limit: int) -> int:
    """A chunk size in LlamaIndex's tokens (tiktoken) whose chunks fit ``limit`` by
    :func:`estimate_tokens`, rounded down to a multiple of 10 (280 for a limit of 512)."""
    size = int((limit - SPECIAL_TOKENS) * _CHUNK_TOKENS_PER_ESTIMATED)
    return max(10, size - size % 10)


def suggested_chunk_chars(limit: int) -> int:
    """The same in characters (LangChain's text splitters), rounded down to a multiple of 100
    (1000 for a limit of 512)."""
    size = int((limit - SPECIAL_TOKENS) * _CHARS_PER_ESTIMATED)
    return max(100, size - size % 100)


def chunk_advice(limit: int) -> str:
    """How to make chunks fit a limit, for error and warning messages."""
    size, chars = suggested_chunk_size(limit), suggested_chunk_chars(limit)
    return (
        f"split documents into smaller chunks, e.g. LlamaIndex "
        f"`SentenceSplitter(chunk_size={size})` or `Settings.chunk_size = {size}` (tokens), "
        f"LangChain `RecursiveCharacterTextSplitter(chunk_size={chars})` (characters)"
    )
