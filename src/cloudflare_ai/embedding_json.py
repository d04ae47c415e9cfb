"""Embedding answers read straight into numpy arrays.

An embedding answer is almost nothing but numbers: 100 vectors of 768 dimensions are about
1 MB of JSON. Decoding that into Python floats and then copying them into numpy cost about
80 µs per vector, the largest single cost of an ingestion on the client. simdjson parses the
text into its own tape and copies the numbers of ``data`` into one buffer, which numpy reads
without a Python object per value (about 25 µs per vector on the same answers).

Only the shapes of a successful answer are read here, for both endpoints:

* ``/ai/run/{model}``: ``{"result": {"shape": [n, d], "data": [[...], ...]}, "success": true}``
  (``result.usage`` when Cloudflare reports it);
* ``/ai/v1/embeddings``: ``{"data": [{"index": i, "embedding": [...]}, ...], "usage": {...}}``.

Anything else (an error envelope, rows of differing lengths, a value that is not a number,
items out of order, a body that is not JSON) gives ``None``: the caller then decodes the body
the general way, which raises the usual typed errors with Cloudflare's messages.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import simdjson

Float64Matrix = np.ndarray[Any, np.dtype[np.float64]]

_local = threading.local()


def _parser() -> Any:
    """This thread's parser (a parser holds one document at a time, so threads do not share
    one)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = simdjson.Parser()
    return parser


def _parse(content: bytes) -> Any:
    try:
        return _parser().parse(content)
    except RuntimeError:
        # A proxy of the previous document is still alive somewhere (an exception's frame):
        # this thread gets a fresh parser rather than waiting for it to be collected.
        _local.parser = simdjson.Parser()
        return _local.parser.parse(content)


def _matrix(rows: Any) -> Float64Matrix | None:
    """The numbers of a JSON array of equal-length number arrays as an (n, d) matrix, or
    ``None`` when it is anything else."""
    if not isinstance(rows, simdjson.Array):
        return None
    n = len(rows)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float64)
    width = -1
    for row in rows:
        if not isinstance(row, simdjson.Array) or (width != -1 and len(row) != width):
            return None
        width = len(row)
    # as_buffer flattens nested arrays and refuses anything that is not a number.
    flat = np.frombuffer(rows.as_buffer(of_type="d"), dtype=np.float64)
    if flat.size != n * width:
        return None
    return flat.reshape(n, width)


def _brackets(value: Any, skip: str | None = None) -> int:
    """How many ``[`` the JSON text of ``value`` holds (arrays, and the character inside
    strings), leaving out the member ``skip`` of an object. Members are read one by one
    (``items()`` would turn the skipped matrix into Python floats)."""
    if isinstance(value, simdjson.Object | dict):
        return sum(key.count("[") + _brackets(value.get(key)) for key in value if key != skip)
    if isinstance(value, simdjson.Array | list):
        return 1 + sum(_brackets(item) for item in value)
    return value.count("[") if isinstance(value, str) else 0


def _plain(value: Any) -> Any:
    """A proxy (object or array) as Python values; scalars are already Python values."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def native_embeddings(content: bytes) -> tuple[Float64Matrix, Any] | None:
    """``(vectors, usage)`` of a successful ``/ai/run`` embedding answer, or ``None``."""
    try:
        doc = _parse(content)
        if not isinstance(doc, simdjson.Object) or doc.get("success") is not True:
            return None
        result = doc.get("result")
        if not isinstance(result, simdjson.Object):
            return None
        matrix = _matrix(result.get("data"))
        # as_buffer flattens nested arrays: a row like [3, [4]] would pass for [3, 4]. The
        # body's "[" count tells: one per row, one around them, and those of everything else.
        others = _brackets(doc, skip="result") + _brackets(result, skip="data")
        if matrix is None or content.count(b"[") != matrix.shape[0] + 1 + others:
            return None
        return matrix, _plain(result.get("usage"))
    except (ValueError, TypeError, KeyError):
        return None
    finally:
        doc = result = None  # release the proxies: the parser is reused


def openai_embeddings(content: bytes) -> tuple[Float64Matrix, Any] | None:
    """``(vectors, usage)`` of an ``/ai/v1/embeddings`` answer whose items are in index
    order, or ``None``."""
    try:
        doc = _parse(content)
        if not isinstance(doc, simdjson.Object):
            return None
        items = doc.get("data")
        if not isinstance(items, simdjson.Array):
            return None
        n = len(items)
        if n == 0:
            return None
        rows: list[simdjson.Array] = []
        for position, item in enumerate(items):
            if not isinstance(item, simdjson.Object) or item.get("index", position) != position:
                return None
            embedding = item.get("embedding")
            if not isinstance(embedding, simdjson.Array) or len(embedding) != len(
                rows[0] if rows else embedding
            ):
                return None
            rows.append(embedding)
        others = _brackets(doc, skip="data") + sum(_brackets(i, skip="embedding") for i in items)
        if content.count(b"[") != n + 1 + others:  # nested arrays (see native_embeddings)
            return None
        matrix = np.empty((n, len(rows[0])), dtype=np.float64)
        for position, row in enumerate(rows):
            matrix[position] = np.frombuffer(row.as_buffer(of_type="d"), dtype=np.float64)
        return matrix, _plain(doc.get("usage"))
    except (ValueError, TypeError, KeyError):
        return None
    finally:
        # Release the proxies: the parser is reused.
        doc = items = item = embedding = row = rows = None  # type: ignore[assignment]
