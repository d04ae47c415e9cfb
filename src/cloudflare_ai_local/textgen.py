"""Local stand-in for Workers AI text generation: an extractive answerer, not a language model.

The last user message is the question; the other messages (system, user, tool results) are
the context. Context sentences are scored by how many of the question's content words they
share, and the best one to three are returned in context order. Everything is deterministic,
so tests can assert on answers. Tokens are counted by :func:`count_tokens`, a regex that
approximates the BPE tokenizers of the served models (see there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ENGINE_NAME = "extractive-answerer/1.0"
NOT_FOUND = "I could not find that in the provided context."

#: One match per token, approximating the byte-level BPE tokenizers of the Llama 3, Qwen,
#: Gemma and Mistral models Workers AI serves, which Cloudflare counts against context windows:
#:
#: * a run of ASCII letters: one token per six letters, at least one (common English words are
#:   one token, longer and rarer ones split);
#: * a run of digits: one token per three digits (Llama 3 and cl100k split numbers so);
#: * a run of other letters that are not CJK (accented Latin, Cyrillic, Greek, Arabic, ...):
#:   one token per two letters;
#: * any other visible character: one token each. That covers punctuation, which BPE mostly
#:   keeps apart from words, emoji (counted low: they take several byte tokens), and CJK
#:   ideographs, kana and hangul, which those tokenizers give one token or more each.
#:
#: Measured against tiktoken's cl100k_base (whose byte-level BPE Llama 3's extends) and
#: o200k_base, this counts 1.2 to 1.3 times their tokens on English prose, Markdown and code
#: (one token per four letters counted 1.4 to 1.6 times), 0.9 to 1.6 times on Japanese,
#: Chinese and Korean, 1.0 to 2.2 times on Russian and 0.9 on numbers. The count of word runs
#: used before this counted English about right but CJK text at 0.2 to 0.6 times, so long
#: Japanese prompts passed here and failed on Cloudflare. This count is never more than about
#: 10% low, so a prompt that overflows a context window on Cloudflare overflows it here, or
#: comes within 10% of it.
#:
#: Whitespace costs nothing: BPE glues a single space to the word after it. Every
#: non-whitespace character is matched, so the pieces of :func:`pieces` cover the text.
_CJK = (
    "\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff00-\uffef"
    "\U00020000-\U0003ffff"
)
_SUBWORD = rf"[A-Za-z]{{1,6}}|[0-9]{{1,3}}|[^\W\d_A-Za-z{_CJK}]{{1,2}}|[^\sA-Za-z0-9]"
_SUBWORDS = re.compile(_SUBWORD)
#: A token with the whitespace before it: what one streamed chunk carries.
_PIECE = re.compile(rf"\s*(?:{_SUBWORD})")
_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_ARITH = re.compile(r"(-?\d+(?:\.\d+)?)\s*([-+*/x\u00d7])\s*(-?\d+(?:\.\d+)?)")

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "else",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "doing",
        "have",
        "has",
        "had",
        "having",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "it",
        "its",
        "they",
        "them",
        "their",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "no",
        "nor",
        "not",
        "only",
        "own",
        "same",
        "so",
        "than",
        "too",
        "very",
        "can",
        "will",
        "just",
        "should",
        "would",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "about",
        "into",
        "over",
        "under",
        "again",
        "further",
        "once",
        "up",
        "down",
        "out",
        "off",
        "tell",
        "please",
        "give",
        "me",
        "know",
        "also",
        "get",
        "set",
    ]
)


def count_tokens(text: str) -> int:
    """Tokens in ``text`` as the served models' tokenizers roughly count them (see ``_SUBWORD``):
    CJK characters one each, ASCII words one per six letters. Deterministic and a single
    regex pass, so usage and context-window checks cost little even on long prompts."""
    return len(_SUBWORDS.findall(text))


def pieces(text: str) -> list[str]:
    """``text`` cut into its tokens, each with the whitespace before it, so the concatenation is
    ``text`` minus trailing whitespace and ``len(pieces(text)) == count_tokens(text)``. A
    completion streams these pieces and counts them as its completion tokens, and
    ``max_tokens`` cuts after that many of them: usage, streaming and truncation agree."""
    return _PIECE.findall(text)


def content_words(text: str) -> set[str]:
    out = set()
    for word in _WORDS.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        out.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return out


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def message_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") in ("text", "input_text", None)
        ]
        return "\n".join(parts)
    if content is None:
        return ""
    return str(content)


@dataclass(frozen=True, slots=True)
class Conversation:
    """The question, its context and every input text of a request."""

    question: str
    context: str
    all_text: str
    last_role: str
    #: Text of the tool results that end the conversation (an agent's observation).
    tool_results: str = ""

    @property
    def prompt_tokens(self) -> int:
        return count_tokens(self.all_text)


#: A trailing "Answer:" cue that prompt templates put after the question.
_ANSWER_CUE = re.compile(r"\n\s*answer\s*:\s*$", re.IGNORECASE)
_QUESTION_MARKER = re.compile(r"(?:^|\n)\s*(?:question|query)\s*:\s*", re.IGNORECASE)


def split_question(text: str) -> tuple[str, str]:
    """(context, question) of a message that carries both, as RAG prompt templates write it
    ("Context: … Question: …", or the question in the last paragraph after the context)."""
    markers = list(_QUESTION_MARKER.finditer(text))
    if markers:
        marker = markers[-1]
        question = _ANSWER_CUE.sub("", text[marker.end() :]).strip()
        return text[: marker.start()].strip(), question
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    last = paragraphs[-1].strip() if paragraphs else ""
    if len(paragraphs) > 1 and last.endswith("?") and len(last.split()) <= 40:
        return "\n\n".join(paragraphs[:-1]), last
    return "", text


def conversation_from(body: Mapping[str, Any]) -> Conversation:
    """Split a prompt-style or messages-style body into question and context."""
    if isinstance(body.get("prompt"), str):
        prompt = str(body["prompt"])
        context, question = split_question(prompt)
        return Conversation(question, context, prompt, "user")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raw = body.get("input")
        text = raw if isinstance(raw, str) else ""
        return Conversation(text, "", text, "user")
    texts = [
        (str(m.get("role", "")), message_text(m.get("content")))
        for m in messages
        if isinstance(m, Mapping)
    ]
    last_user = max((i for i, (role, _) in enumerate(texts) if role == "user"), default=-1)
    question = texts[last_user][1] if last_user >= 0 else ""
    context = "\n".join(
        text
        for i, (role, text) in enumerate(texts)
        if i != last_user and role in ("system", "user", "tool", "developer")
    )
    inline_context, question = split_question(question)
    if inline_context:
        context = f"{context}\n{inline_context}" if context else inline_context
    all_text = "\n".join(text for _, text in texts)
    last_role = texts[-1][0] if texts else "user"
    trailing: list[str] = []
    for role, text in reversed(texts):
        if role != "tool":
            break
        trailing.insert(0, text)
    return Conversation(question, context, all_text, last_role, "\n".join(trailing))


def _arithmetic(question: str) -> str | None:
    if len(question.split()) > 12:  # only short questions such as "What is 1 + 1?"
        return None
    match = _ARITH.search(question)
    if not match:
        return None
    a, op, b = float(match.group(1)), match.group(2), float(match.group(3))
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op in ("*", "x", "\u00d7"):
        value = a * b
    elif b != 0:
        value = a / b
    else:
        return None
    shown = int(value) if value == int(value) else round(value, 6)
    return f"{match.group(0)} = {shown}."


def best_sentences(question: str, context: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` context sentences sharing the most content words with the question."""
    wanted = content_words(question)
    candidates = sentences(context)
    if not wanted or not candidates:
        return []
    scored = [(len(wanted & content_words(s)), i) for i, s in enumerate(candidates)]
    top = max(score for score, _ in scored)
    if top == 0:
        return []
    best = sorted(scored, key=lambda si: (-si[0], si[1]))[:limit]
    keep = sorted(i for score, i in best if score * 2 >= top)
    return [candidates[i] for i in keep]


def answer(conv: Conversation) -> str:
    """The deterministic reply to ``conv``."""
    if conv.last_role == "tool" and conv.tool_results.strip():
        # After a tool call, answer from what the tools returned.
        found = best_sentences(conv.question, conv.tool_results)
        return " ".join(found or sentences(conv.tool_results)[:3] or [conv.tool_results.strip()])
    if conv.context.strip():
        found = best_sentences(conv.question, conv.context)
        return " ".join(found) if found else NOT_FOUND
    arith = _arithmetic(conv.question)
    if arith:
        return arith
    first = sentences(conv.question)
    gist = first[0] if first else conv.question.strip()
    words = gist.split()
    if len(words) > 40:
        gist = " ".join(words[:40]) + " ..."
    return f"You said: {gist}" if gist else "Hello from the local Workers AI emulator."


@dataclass(frozen=True, slots=True)
class Completion:
    """Generated text as streamable pieces, with its finish reason and token usage."""

    pieces: list[str]
    finish_reason: str
    prompt_tokens: int
    #: Tokens a real model generated, when it says (a piece may hold several, or a token
    #: none, such as half of a character); None means one per piece.
    generated_tokens: int | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def completion_tokens(self) -> int:
        if self.generated_tokens is not None:
            return self.generated_tokens
        return len(self.pieces)

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def complete(
    text: str, prompt_tokens: int, max_tokens: int | None, stop: Iterable[str] = ()
) -> Completion:
    """Cut ``text`` at the first stop sequence and after ``max_tokens`` tokens (:func:`pieces`),
    which may fall inside a word, as a real model's output does."""
    finish = "stop"
    cut = len(text)
    for seq in stop:
        if seq:
            pos = text.find(seq)
            if 0 <= pos < cut:
                cut = pos
    text = text[:cut]
    parts = pieces(text)
    if max_tokens is not None and len(parts) > max_tokens:
        parts = parts[: max(max_tokens, 0)]
        finish = "length"
    return Completion(parts, finish, prompt_tokens)


def stop_sequences(value: Any) -> Sequence[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str)]
    return []
