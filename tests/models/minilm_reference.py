"""all-MiniLM-L6-v2 computed in plain numpy from the fp32 ``model.safetensors`` whose sha256
is the one Hugging Face publishes for sentence-transformers/all-MiniLM-L6-v2: the reference
the int8 ONNX export (from another publisher, with no upstream hash) is checked against.

A BERT encoder as the model's ``config.json`` describes it: 6 layers, 12 heads of 32, hidden
384, feed-forward 1536 with GELU (erf form), layer-norm epsilon 1e-12, mean pooling over the
attention mask, then L2 normalisation (sentence-transformers' recipe for this model). The
safetensors file is read by its documented layout: an 8-byte little-endian header length, a
JSON header of tensor names, dtypes, shapes and byte offsets, then the raw data."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

LAYERS, HEADS, EPS = 6, 12, 1e-12
_erf = np.vectorize(math.erf, otypes=[np.float64])


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header: dict[str, Any] = json.loads(data[8 : 8 + size])
    body = memoryview(data)[8 + size :]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = array.astype(np.float64)
    return tensors


def _norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def embed(weights: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """The unit sentence vector of one tokenised text (no padding, so no mask needed)."""
    n = len(ids)
    x = (
        weights["embeddings.word_embeddings.weight"][ids]
        + weights["embeddings.position_embeddings.weight"][:n]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    x = _norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
    width = x.shape[1] // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"

        def heads(t: np.ndarray) -> np.ndarray:
            return t.reshape(n, HEADS, width).transpose(1, 0, 2)

        q = heads(_dense(x, weights, f"{p}.attention.self.query"))
        k = heads(_dense(x, weights, f"{p}.attention.self.key"))
        v = heads(_dense(x, weights, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(width)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, HEADS * width)
        x = _norm(
            x + _dense(context, weights, f"{p}.attention.output.dense"),
            weights[f"{p}.attention.output.LayerNorm.weight"],
            weights[f"{p}.attention.output.LayerNorm.bias"],
        )
        hidden = _dense(x, weights, f"{p}.intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + _erf(hidden / math.sqrt(2.0)))
        x = _norm(
            x + _dense(hidden, weights, f"{p}.output.dense"),
            weights[f"{p}.output.LayerNorm.weight"],
            weights[f"{p}.output.LayerNorm.bias"],
        )
    pooled = x.mean(axis=0)
    return pooled / np.linalg.norm(pooled)
