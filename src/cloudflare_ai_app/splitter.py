"""A plain text splitter, used by ``cloudflare-ai ingest`` when LlamaIndex is not installed.

Markdown is cut at its headings first (``#`` lines outside fenced code blocks; each section
keeps its heading line, so a chunk says what it is about). Every section, or a whole text file,
is then packed into chunks of at most ``chunk_size`` tokens from whole paragraphs; a paragraph
that is too long is cut into sentences, and a sentence that is too long into words. Neighbouring
chunks of a section share up to ``chunk_overlap`` tokens of whole paragraphs or sentences.

Tokens are counted with the library's estimate (:func:`cloudflare_ai.tokens.estimate_tokens`,
without the model's two special tokens), the same one the client uses to check an embedding
input against the model's limit: a chunk of at most that model's limit is never cut. The
estimate is additive over words and marks, so a chunk's size is the sum of its parts'. The
output depends only on the text and the two sizes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from cloudflare_ai.tokens import SPECIAL_TOKENS, estimate_tokens, truncate_to_tokens

_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
#: After . ! ? … (and a closing quote or bracket) white space ends a sentence; after the
#: ideographic full stop and the fullwidth ! and ? none is needed.
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?…])|(?<=[.!?…][\"')\]]))\s+(?=\S)|(?<=[\u3002\uff01\uff1f])\s*(?=\S)"
)


def count_tokens(text: str) -> int:
    """The library's token estimate of ``text`` as part of one input (see the module's
    docstring)."""
    return estimate_tokens(text) - SPECIAL_TOKENS


def markdown_sections(text: str) -> list[str]:
    """``text`` cut before each heading that follows some body text (a heading directly over
    a sub-heading stays with it); headings inside fenced code do not count."""
    sections: list[list[str]] = [[]]
    fence: str | None = None
    has_body = False
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line.lstrip().startswith(fence):
            fence = None
        elif fence is None and _HEADING.match(line):
            if has_body:
                sections.append([])
                has_body = False
            sections[-1].append(line)
            continue
        has_body = has_body or bool(line.strip())
        sections[-1].append(line)
    return [joined for lines in sections if (joined := "\n".join(lines).strip())]


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks; a fenced code block stays in one piece."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line.lstrip().startswith(fence):
            fence = None
        if fence is None and not line.strip():
            if current:
                blocks.append("\n".join(current).strip())
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current).strip())
    return [b for b in blocks if b]


def sentences(text: str) -> list[str]:
    return [sentence for _, sentence in _sentences(text)]


def _sentences(text: str) -> Iterator[tuple[str, str]]:
    """(what separated it from the previous one: " " or "", sentence) for each sentence."""
    start, gap = 0, ""
    for end in _SENTENCE_END.finditer(text):
        if sentence := text[start : end.start()].strip():
            yield gap, sentence
        start, gap = end.end(), " " if end.group() else ""
    if sentence := text[start:].strip():
        yield gap, sentence


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    #: What joins this piece to the one before it in a chunk: a paragraph break, a space, or
    #: nothing between the parts of a word too long for a chunk.
    joiner: str
    tokens: int  # count_tokens(text)

    @classmethod
    def of(cls, text: str, joiner: str) -> _Piece:
        return cls(text, joiner, count_tokens(text))


def _size(parts: list[_Piece]) -> int:
    """``count_tokens`` of the joined parts, or a little more (parts of a long word may count
    a token more than the whole word): the counts add up because the joiners are white space."""
    return sum(p.tokens for p in parts)


def _word_pieces(sentence: str, limit: int, joiner: str) -> Iterator[_Piece]:
    """A sentence too long for a chunk as words; a word too long as fragments."""
    for word in sentence.split():
        if count_tokens(word) <= limit:
            yield _Piece.of(word, joiner)
        else:
            parts = []
            while word:
                part = truncate_to_tokens(word, limit + SPECIAL_TOKENS) or word[:1]
                parts.append(part)
                word = word[len(part) :]
            yield _Piece.of(parts[0], joiner)
            yield from (_Piece.of(part, "") for part in parts[1:])
        joiner = " "


def _pieces(text: str, limit: int) -> Iterator[_Piece]:
    """Paragraphs, or their sentences, or their words: each at most ``limit`` tokens."""
    for paragraph in paragraphs(text):
        if count_tokens(paragraph) <= limit:
            yield _Piece.of(paragraph, "\n\n")
            continue
        for number, (gap, sentence) in enumerate(_sentences(paragraph)):
            joiner = gap if number else "\n\n"
            if count_tokens(sentence) <= limit:
                yield _Piece.of(sentence, joiner)
            else:
                yield from _word_pieces(sentence, limit, joiner)


def _pack(pieces: Iterator[_Piece], chunk_size: int, chunk_overlap: int) -> list[str]:
    """Consecutive pieces, as many as fit, per chunk; a new chunk starts with the previous
    one's last pieces that fit in ``chunk_overlap``."""
    chunks: list[str] = []
    current: list[_Piece] = []
    tokens = 0  # running total of ``current``, as in ``_size``
    fresh = 0  # pieces of ``current`` that no earlier chunk holds
    for piece in pieces:
        if current and tokens + piece.tokens > chunk_size:
            if fresh:
                chunks.append(_join(current))
            carried: list[_Piece] = []
            for previous in reversed(current):
                if _size([previous, *carried]) > chunk_overlap:
                    break
                carried.insert(0, previous)
            while carried and _size([*carried, piece]) > chunk_size:
                carried.pop(0)
            current, fresh = carried, 0
            tokens = _size(current)
        tokens += piece.tokens
        current.append(piece)
        fresh += 1
    if fresh:
        chunks.append(_join(current))
    return chunks


def _join(parts: list[_Piece]) -> str:
    return "".join((p.joiner if i else "") + p.text for i, p in enumerate(parts))


def split_text(text: str, *, chunk_size: int, chunk_overlap: int, markdown: bool) -> list[str]:
    """Chunks of ``text`` of at most ``chunk_size`` estimated tokens, in order."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError(
            f"chunk_overlap must be at least 0 and below chunk_size ({chunk_size}), "
            f"not {chunk_overlap}"
        )
    sections = markdown_sections(text) if markdown else [text]
    chunks: list[str] = []
    for section in sections:
        chunks.extend(_pack(_pieces(section, chunk_size), chunk_size, chunk_overlap))
    return [c for c in chunks if c.strip()]
