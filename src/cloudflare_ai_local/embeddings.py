"""Local stand-in for Workers AI embedding models: signed feature hashing, not a neural model.

Each text becomes lower-cased word features plus character 3- and 4-grams of each word,
hashed with blake2b (stable across processes, unlike ``hash``) into the model's dimensions
with a sign bit, then L2-normalised to float32. Texts that share words or word pieces get
a high cosine similarity, which is what retrieval tests need, and the same text always maps
to the same vector.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

ENGINE_NAME = "feature-hash-embedder/1.0"

_WORD = re.compile(r"\w+", re.UNICODE)
_WORD_WEIGHT = 1.0
_GRAM_WEIGHT = 0.35
_CACHE_LIMIT = 500_000

FloatMatrix = npt.NDArray[np.float32]


class HashingEmbedder:
    """Deterministic feature-hashing embedder for one model (``salt``) and ``dimensions``."""

    def __init__(self, dimensions: int, salt: str) -> None:
        self.dimensions = dimensions
        self._salt = salt.encode()
        self._cache: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = {}

    def _slot(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8, key=self._salt[:64]).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dimensions, (1.0 if (value >> 63) & 1 else -1.0)

    def _word_features(self, word: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        feats: list[tuple[str, float]] = [("w:" + word, _WORD_WEIGHT)]
        padded = f"<{word}>"
        for n in (3, 4):
            feats.extend(
                ("g:" + padded[i : i + n], _GRAM_WEIGHT) for i in range(len(padded) - n + 1)
            )
        idx = np.empty(len(feats), dtype=np.int64)
        val = np.empty(len(feats), dtype=np.float32)
        for k, (feat, weight) in enumerate(feats):
            slot, sign = self._slot(feat)
            idx[k] = slot
            val[k] = sign * weight
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[word] = (idx, val)
        return idx, val

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """An ``(len(texts), dimensions)`` float32 matrix of unit vectors."""
        n, d = len(texts), self.dimensions
        flat_idx: list[npt.NDArray[np.int64]] = []
        flat_val: list[npt.NDArray[np.float32]] = []
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            if not words:  # still a valid vector: hash the raw text
                words = [text.strip() or "<empty>"]
            offset = row * d
            for word in words:
                idx, val = self._word_features(word)
                flat_idx.append(idx + offset)
                flat_val.append(val)
        if not flat_idx:
            return np.zeros((n, d), dtype=np.float32)
        summed = np.bincount(
            np.concatenate(flat_idx), weights=np.concatenate(flat_val), minlength=n * d
        )
        matrix = summed.reshape(n, d).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        unit: FloatMatrix = (matrix / norms).astype(np.float32, copy=False)
        return unit


_EMBEDDERS: dict[tuple[int, str], HashingEmbedder] = {}


def embedder_for(model: str, dimensions: int, pooling: str = "mean") -> HashingEmbedder:
    """The shared embedder of ``model`` (cls pooling gets its own, incompatible space)."""
    salt = model if pooling == "mean" else f"{model}#cls"
    key = (dimensions, salt)
    emb = _EMBEDDERS.get(key)
    if emb is None:
        emb = _EMBEDDERS[key] = HashingEmbedder(dimensions, salt)
    return emb
