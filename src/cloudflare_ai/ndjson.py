"""NDJSON bodies for Vectorize writes, and the chunking that keeps each request in limits.

Values are written at float32 precision (Vectorize stores float32), as the shortest decimal
that reads back to the same float32: about 58 % of the bytes of Python's 17-digit doubles.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from . import limits

_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def encode_vector(
    vector_id: str,
    values: np.ndarray[Any, np.dtype[np.float32]],
    metadata: Mapping[str, Any] | None = None,
    namespace: str | None = None,
) -> bytes:
    """One NDJSON line (with its newline)."""
    record: dict[str, Any] = {"id": vector_id, "values": values}
    if namespace is not None:
        record["namespace"] = namespace
    if metadata:
        record["metadata"] = metadata
    return orjson.dumps(record, option=_NUMPY | orjson.OPT_APPEND_NEWLINE)


def read_ndjson(body: bytes) -> Iterator[dict[str, Any]]:
    """The records of an NDJSON body (blank lines skipped)."""
    for line in body.splitlines():
        if line.strip():
            record = orjson.loads(line)
            if not isinstance(record, dict):
                raise ValueError("each NDJSON line must be a JSON object")
            yield record


@dataclass(slots=True)
class Chunk:
    """One request's worth of encoded vectors."""

    ids: list[str] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def body(self) -> bytes:
        """The request body. Joined once: the lines are then replaced by it, so a write in
        flight holds its vectors once, not twice (and a retry sends the same bytes)."""
        if len(self.lines) != 1:
            self.lines[:] = [b"".join(self.lines)]
        return self.lines[0] if self.lines else b""


def chunk_lines(
    items: Iterable[tuple[str, bytes]],
    *,
    max_vectors: int = limits.MAX_VECTORS_PER_WRITE,
    max_bytes: int = limits.MAX_WRITE_BYTES,
) -> Iterator[Chunk]:
    """Group (id, line) pairs into chunks of at most ``max_vectors`` and ``max_bytes``."""
    current = Chunk()
    for vector_id, line in items:
        if len(line) > max_bytes:
            raise ValueError(f"vector {vector_id!r} alone is larger than {max_bytes} bytes")
        if current.ids and (
            len(current.ids) >= max_vectors or current.size + len(line) > max_bytes
        ):
            yield current
            current = Chunk()
        current.ids.append(vector_id)
        current.lines.append(line)
        current.size += len(line)
    if current.ids:
        yield current


class ChunkBuffer:
    """Encoded vectors gathered into request bodies as they come: each line is appended to
    the body being filled, so a line's own bytes live only until it is copied. (Kept as
    separate objects until their write ended, thousands of ~10 KB lines fragmented the heap
    of a long ingestion: its resident memory crept up by ~100 MB over 100,000 vectors.)"""

    def __init__(
        self,
        *,
        max_vectors: int = limits.MAX_VECTORS_PER_WRITE,
        max_bytes: int = limits.MAX_WRITE_BYTES,
    ) -> None:
        self.max_vectors = max_vectors
        self.max_bytes = max_bytes
        self._ids: list[str] = []
        self._body = bytearray()

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        """The ids gathered and not yet taken."""
        return self._ids

    def add(self, vector_id: str, line: bytes) -> Chunk | None:
        """Append one line; returns the full chunk it closed, if adding it closed one."""
        if len(line) > self.max_bytes:
            raise ValueError(f"vector {vector_id!r} alone is larger than {self.max_bytes} bytes")
        full = None
        if self._ids and len(self._body) + len(line) > self.max_bytes:
            full = self.take()
        self._ids.append(vector_id)
        self._body += line
        if len(self._ids) >= self.max_vectors:
            if full is not None:  # pragma: no cover - a line cannot close two chunks
                raise AssertionError("two chunks closed by one line")
            full = self.take()
        return full

    def take(self) -> Chunk:
        """The vectors gathered so far as one chunk (empty if none), and a fresh buffer."""
        body = bytes(self._body)
        chunk = Chunk(self._ids, [body], len(body))
        self._ids, self._body = [], bytearray()
        return chunk
