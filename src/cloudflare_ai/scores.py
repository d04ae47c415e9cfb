"""What a Vectorize score means, per index metric, and the two conversions the adapters use.

Vectorize returns a raw score whose direction depends on the index's metric: cosine
similarity (``-1..1``, higher is closer), euclidean distance (``>= 0``, lower is closer) and the
*negative* dot product (lower is closer; UNCERTAIN whether live scores are negated as the docs
say — the emulator follows the docs).

* :func:`similarity` — higher is closer, on the metric's natural scale: the cosine similarity
  as returned, ``1 / (1 + d)`` for a euclidean distance, the dot product itself. LlamaIndex
  reports these (its cut-offs are written against cosine similarities).
* :func:`relevance` — in ``[0, 1]``, 1 for the closest, as LangChain's
  ``similarity_search_with_relevance_scores`` requires: ``(s + 1) / 2`` for cosine,
  ``1 / (1 + d)`` for euclidean, the logistic function of the dot product for dot-product.

Both are monotone in closeness, so they never reorder results.
:func:`similarities` computes :func:`similarity` from vectors, for results ranked here rather
than by Vectorize (a search restricted to given ids).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, get_args

import numpy as np

from .errors import ValidationError
from .limits import Metric

__all__ = ["Metric", "relevance", "relevance_fn", "similarities", "similarity"]


def _check(metric: str) -> None:
    if metric not in get_args(Metric):
        raise ValidationError(f"unknown Vectorize metric {metric!r}", item=metric)


def similarity(metric: str, score: float) -> float:
    """A Vectorize score as a similarity where higher is closer (see the module docstring)."""
    _check(metric)
    if metric == "euclidean":
        return 1.0 / (1.0 + max(score, 0.0))
    if metric == "dot-product":
        return -score
    return score


def _cosine_relevance(score: float) -> float:
    return min(1.0, max(0.0, (score + 1.0) / 2.0))


def _euclidean_relevance(distance: float) -> float:
    return 1.0 / (1.0 + max(distance, 0.0))


def _dot_product_relevance(score: float) -> float:
    # score = -(q · v): the logistic function of the dot product, computed without overflow.
    if score >= 0:
        e = math.exp(-score)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(score))


_RELEVANCE: dict[str, Callable[[float], float]] = {
    "cosine": _cosine_relevance,
    "euclidean": _euclidean_relevance,
    "dot-product": _dot_product_relevance,
}


def relevance_fn(metric: str) -> Callable[[float], float]:
    """The function mapping a raw Vectorize score of ``metric`` to a relevance in ``[0, 1]``."""
    _check(metric)
    return _RELEVANCE[metric]


def relevance(metric: str, score: float) -> float:
    """A raw Vectorize score as a relevance in ``[0, 1]`` (1 = closest)."""
    return relevance_fn(metric)(score)


def similarities(query: Any, matrix: np.ndarray[Any, Any], metric: str) -> list[float]:
    """:func:`similarity` of every row of ``matrix`` to ``query``, computed from the values."""
    _check(metric)
    q = np.asarray(query, dtype=np.float64)
    rows = np.asarray(matrix, dtype=np.float64)
    if metric == "euclidean":
        return [1.0 / (1.0 + float(d)) for d in np.linalg.norm(rows - q, axis=1)]
    dots = rows @ q
    if metric == "dot-product":
        return [float(d) for d in dots]
    norms = np.linalg.norm(rows, axis=1) * float(np.linalg.norm(q))
    norms[norms == 0] = 1.0
    return [float(s) for s in dots / norms]
