"""A deterministic local engine for Cloudflare's evaluator models (``@cf/cloudflare/clef``,
``clef-flash``, ``clef-omni``), which answer typed questions about a ``state`` instead of
chatting.

Every question is answered in the shape its type asks for, from word overlap between the
question (and each option or level) and the state, so the answers are stable and follow the
content: ``noul`` (yes/no) → the probability of yes; ``choice`` → a probability per option, the
likeliest option and a confidence; ``score`` → a probability per rubric level, the
probability-weighted level, the legend and a confidence. UNCERTAIN: the real models judge
meaning, which word overlap only approximates.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

ENGINE_NAME = "overlap-evaluator/1.0"
_WORD = re.compile(r"[a-z0-9]+")


def is_evaluator(input_schema: Mapping[str, Any], output_schema: Mapping[str, Any]) -> bool:
    """Whether a model's schemas are those of an evaluator (``questions`` in, ``answers`` out)."""
    return "questions" in input_schema.get("properties", {}) and "answers" in output_schema.get(
        "properties", {}
    )


def _words(value: Any) -> set[str]:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return set(_WORD.findall(text.lower()))


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a) if a else 0.0


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    weights = [math.exp(4 * (s - top)) for s in scores]
    total = sum(weights)
    return [round(w / total, 6) for w in weights]


def _answer(question: Mapping[str, Any], state: set[str]) -> dict[str, Any]:
    kind = question.get("type")
    asked = _words(question.get("instructions", ""))
    if kind == "noul":
        return {"type": "noul", "noul": round(0.1 + 0.8 * _overlap(asked, state), 6)}
    criteria = question.get("criteria")
    if kind == "choice" and isinstance(criteria, Mapping):
        options = [str(k) for k in criteria]
        scores = [_overlap(_words(k) | _words(v), state) for k, v in criteria.items()]
        probabilities = _softmax(scores)
        best = max(range(len(options)), key=lambda i: probabilities[i])
        return {
            "type": "choice",
            "choice": options[best],
            "probabilities": dict(zip(options, probabilities, strict=True)),
            "confidence": probabilities[best],
        }
    levels = list(criteria) if isinstance(criteria, list) else []
    if not levels:
        levels = ["low", "high"]
    scores = [_overlap(_words(level), state) for level in levels]
    probabilities = _softmax(scores)
    return {
        "type": "score",
        "score": round(sum(i * p for i, p in enumerate(probabilities)), 6),
        "legend": {str(i): level for i, level in enumerate(levels)},
        "probabilities": {str(i): p for i, p in enumerate(probabilities)},
        "confidence": max(probabilities),
    }


def evaluate(model: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluator's ``result`` for a schema-valid request body."""
    state = _words(body.get("state", ""))
    questions = body.get("questions") or {}
    answers = {
        str(qid): _answer(q, state) for qid, q in questions.items() if isinstance(q, Mapping)
    }
    asked = sum(len(_words(q)) for q in questions.values())
    return {
        "model": str(body.get("model") or model.rsplit("/", 1)[-1]).strip(),
        "answers": answers,
        "usage": {"input_tokens": len(state) + asked, "output_tokens": 4 * len(answers)},
    }
