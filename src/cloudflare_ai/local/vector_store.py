"""Vectorize v2 storage: SQLite for durability, numpy for exact nearest-neighbour search.

Every write is a *mutation* with a uuid. Mutations queue up and are applied in order once
``write_delay`` seconds have passed (at once when it is 0), each in one SQLite transaction,
so a crash leaves every vector of a batch fully present or fully absent. Reads first apply
the mutations that are due, which reproduces Vectorize's eventual consistency.

The authoritative copy lives in memory (loaded from SQLite on open); a float32 matrix per
index is rebuilt lazily after writes and used for brute-force scoring.
"""

from __future__ import annotations

import bisect
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from .filters import Predicate, indexed_snapshot

DB_FILE = "vectorize.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS indexes (
    name TEXT PRIMARY KEY, description TEXT NOT NULL, dimensions INTEGER NOT NULL,
    metric TEXT NOT NULL, created_on TEXT NOT NULL, modified_on TEXT NOT NULL,
    processed_mutation TEXT, processed_at TEXT
);
CREATE TABLE IF NOT EXISTS metadata_indexes (
    index_name TEXT NOT NULL, property_name TEXT NOT NULL, index_type TEXT NOT NULL,
    PRIMARY KEY (index_name, property_name)
);
CREATE TABLE IF NOT EXISTS vectors (
    index_name TEXT NOT NULL, id TEXT NOT NULL, namespace TEXT, vals BLOB NOT NULL,
    metadata BLOB, indexed BLOB, PRIMARY KEY (index_name, id)
) WITHOUT ROWID;
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class VectorRecord:
    """One stored vector. ``indexed`` is the metadata-index snapshot taken at write time."""

    id: str
    values: bytes
    namespace: str | None
    metadata: dict[str, Any] | None
    indexed: dict[str, Any]

    def array(self) -> npt.NDArray[np.float32]:
        return np.frombuffer(self.values, dtype=np.float32)


@dataclass(slots=True)
class NewVector:
    """A validated vector from an insert/upsert request, not yet stored."""

    id: str
    values: bytes
    namespace: str | None
    metadata: dict[str, Any] | None


@dataclass(slots=True)
class _Matrix:
    ids: list[str]
    records: list[VectorRecord]
    matrix: npt.NDArray[np.float32]
    norms: npt.NDArray[np.float32]
    namespaces: npt.NDArray[Any]


@dataclass(slots=True)
class IndexState:
    name: str
    description: str
    dimensions: int
    metric: str
    created_on: str
    modified_on: str
    processed_mutation: str | None = None
    processed_at: str | None = None
    metadata_indexes: dict[str, str] = field(default_factory=dict)
    vectors: dict[str, VectorRecord] = field(default_factory=dict)
    cache: _Matrix | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "config": {"dimensions": self.dimensions, "metric": self.metric},
            "created_on": self.created_on,
            "modified_on": self.modified_on,
        }

    def matrix(self) -> _Matrix:
        if self.cache is None:
            records = list(self.vectors.values())
            n, d = len(records), self.dimensions
            if n:
                mat = np.frombuffer(b"".join(r.values for r in records), dtype=np.float32)
                mat = mat.reshape(n, d)
            else:
                mat = np.zeros((0, d), dtype=np.float32)
            namespaces = np.array([r.namespace for r in records], dtype=object)
            self.cache = _Matrix(
                [r.id for r in records],
                records,
                mat,
                np.linalg.norm(mat, axis=1).astype(np.float32),
                namespaces,
            )
        return self.cache


@dataclass(slots=True)
class Mutation:
    id: str
    index: str
    due: float
    apply: Callable[[sqlite3.Connection, IndexState], None]


@dataclass(slots=True)
class Match:
    record: VectorRecord
    score: float


class VectorStore:
    """All Vectorize indexes of one emulator. Thread-safe; every public method takes the lock."""

    def __init__(self, data_dir: Path | str | None = None, write_delay: float = 0.0) -> None:
        self.write_delay = write_delay
        self._lock = threading.RLock()
        if data_dir is None:
            target = ":memory:"
        else:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            target = str(Path(data_dir) / DB_FILE)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if data_dir else "PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._pending: deque[Mutation] = deque()
        self.indexes: dict[str, IndexState] = {}
        self._load()

    # --- lifecycle -------------------------------------------------------------------------

    def _load(self) -> None:
        for row in self._db.execute(
            "SELECT name, description, dimensions, metric, created_on, modified_on, "
            "processed_mutation, processed_at FROM indexes"
        ):
            self.indexes[row[0]] = IndexState(*row)
        for name, prop, kind in self._db.execute(
            "SELECT index_name, property_name, index_type FROM metadata_indexes"
        ):
            if name in self.indexes:
                self.indexes[name].metadata_indexes[prop] = kind
        for name, vid, ns, vals, meta, indexed in self._db.execute(
            "SELECT index_name, id, namespace, vals, metadata, indexed FROM vectors"
        ):
            state = self.indexes.get(name)
            if state is not None:
                state.vectors[vid] = VectorRecord(
                    vid,
                    bytes(vals),
                    ns,
                    orjson.loads(meta) if meta else None,
                    orjson.loads(indexed) if indexed else {},
                )

    def close(self) -> None:
        """Apply every queued mutation (so nothing accepted is lost), then close the file."""
        with self._lock:
            self.apply_due(force=True)
            self._db.close()

    # --- mutations -------------------------------------------------------------------------

    def apply_due(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            while self._pending and (force or self._pending[0].due <= now):
                mutation = self._pending.popleft()
                state = self.indexes.get(mutation.index)
                if state is None:
                    continue  # the index was deleted meanwhile
                stamp = now_iso()
                self._db.execute("BEGIN")
                try:
                    mutation.apply(self._db, state)
                    self._db.execute(
                        "UPDATE indexes SET processed_mutation=?, processed_at=? WHERE name=?",
                        (mutation.id, stamp, state.name),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    self.indexes = {}
                    self._load()  # back to what the database holds
                    raise
                state.processed_mutation = mutation.id
                state.processed_at = stamp

    def _enqueue(self, index: str, apply: Callable[[sqlite3.Connection, IndexState], None]) -> str:
        mutation_id = str(uuid.uuid4())
        self._pending.append(
            Mutation(mutation_id, index, time.monotonic() + self.write_delay, apply)
        )
        if self.write_delay <= 0:
            self.apply_due()
        return mutation_id

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    # --- indexes ---------------------------------------------------------------------------

    def create_index(self, name: str, dimensions: int, metric: str, description: str) -> IndexState:
        with self._lock:
            stamp = now_iso()
            # UNCERTAIN: a fresh index reports a creation pseudo-mutation as processed.
            state = IndexState(
                name, description, dimensions, metric, stamp, stamp, str(uuid.uuid4()), stamp
            )
            self._db.execute(
                "INSERT INTO indexes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    description,
                    dimensions,
                    metric,
                    stamp,
                    stamp,
                    state.processed_mutation,
                    stamp,
                ),
            )
            self.indexes[name] = state
            return state

    def delete_index(self, name: str) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            for table, col in (
                ("vectors", "index_name"),
                ("metadata_indexes", "index_name"),
                ("indexes", "name"),
            ):
                self._db.execute(f"DELETE FROM {table} WHERE {col}=?", (name,))
            self._db.execute("COMMIT")
            self.indexes.pop(name, None)
            self._pending = deque(m for m in self._pending if m.index != name)

    def get(self, name: str) -> IndexState | None:
        with self._lock:
            self.apply_due()
            return self.indexes.get(name)

    # --- vector writes ---------------------------------------------------------------------

    def write(self, index: str, vectors: Sequence[NewVector], replace: bool) -> str:
        """Queue an upsert (``replace``) or insert (first write wins) of ``vectors``."""
        batch = list(vectors)

        def apply(db: sqlite3.Connection, state: IndexState) -> None:
            chosen: dict[str, NewVector] = {}
            for vec in batch:
                if replace or (vec.id not in state.vectors and vec.id not in chosen):
                    chosen[vec.id] = vec
            records = [
                VectorRecord(
                    v.id,
                    v.values,
                    v.namespace,
                    v.metadata,
                    indexed_snapshot(v.metadata, state.metadata_indexes),
                )
                for v in chosen.values()
            ]
            db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        state.name,
                        r.id,
                        r.namespace,
                        r.values,
                        orjson.dumps(r.metadata) if r.metadata is not None else None,
                        orjson.dumps(r.indexed) if r.indexed else None,
                    )
                    for r in records
                ],
            )
            for r in records:
                state.vectors[r.id] = r
            if records:
                state.cache = None

        with self._lock:
            return self._enqueue(index, apply)

    def delete_ids(self, index: str, ids: Iterable[str]) -> str:
        doomed = list(dict.fromkeys(ids))

        def apply(db: sqlite3.Connection, state: IndexState) -> None:
            present = [i for i in doomed if i in state.vectors]
            db.executemany(
                "DELETE FROM vectors WHERE index_name=? AND id=?",
                [(state.name, i) for i in present],
            )
            for i in present:
                del state.vectors[i]
            if present:
                state.cache = None

        with self._lock:
            return self._enqueue(index, apply)

    def create_metadata_index(self, index: str, prop: str, kind: str) -> str:
        def apply(db: sqlite3.Connection, state: IndexState) -> None:
            db.execute(
                "INSERT OR REPLACE INTO metadata_indexes VALUES (?, ?, ?)", (state.name, prop, kind)
            )
            state.metadata_indexes[prop] = kind

        with self._lock:
            return self._enqueue(index, apply)

    def delete_metadata_index(self, index: str, prop: str) -> str:
        def apply(db: sqlite3.Connection, state: IndexState) -> None:
            db.execute(
                "DELETE FROM metadata_indexes WHERE index_name=? AND property_name=?",
                (state.name, prop),
            )
            state.metadata_indexes.pop(prop, None)
            # UNCERTAIN: deleting a metadata index drops the values it indexed.
            changed = [r for r in state.vectors.values() if prop in r.indexed]
            for r in changed:
                r.indexed.pop(prop, None)
            db.executemany(
                "UPDATE vectors SET indexed=? WHERE index_name=? AND id=?",
                [
                    (orjson.dumps(r.indexed) if r.indexed else None, state.name, r.id)
                    for r in changed
                ],
            )

        with self._lock:
            return self._enqueue(index, apply)

    # --- reads -----------------------------------------------------------------------------

    def query(
        self,
        index: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        namespace: str | None,
        predicate: Predicate | None,
    ) -> list[Match]:
        """The ``top_k`` best matches, best first, by the index's metric."""
        with self._lock:
            self.apply_due()
            state = self.indexes[index]
            cached = state.matrix()
            mat, norms = cached.matrix, cached.norms
            rows: npt.NDArray[np.intp] | None = None
            if namespace is not None:
                rows = np.flatnonzero(cached.namespaces == namespace)
            if predicate is not None:
                candidates = range(len(cached.ids)) if rows is None else rows.tolist()
                rows = np.fromiter(
                    (i for i in candidates if predicate(cached.records[int(i)].indexed)),
                    dtype=np.intp,
                )
            if rows is not None:
                mat, norms = mat[rows], norms[rows]
            if mat.shape[0] == 0:
                return []
            q = np.ascontiguousarray(vector, dtype=np.float32)
            dots = mat @ q
            if state.metric == "cosine":
                denom = norms * np.float32(np.linalg.norm(q))
                denom[denom == 0] = np.float32(1.0)
                scores = dots / denom
                order_key = -scores
            elif state.metric == "euclidean":
                # UNCERTAIN: plain L2 distance (not squared); lower is closer.
                sq = norms * norms + np.float32(q @ q) - 2 * dots
                scores = np.sqrt(np.maximum(sq, 0))
                order_key = scores
            else:  # dot-product: negative dot product, lower is closer (per the docs)
                scores = -dots
                order_key = scores
            k = min(top_k, len(scores))
            if k < len(scores):
                part = np.argpartition(order_key, k - 1)[:k]
            else:
                part = np.arange(len(scores))
            best = part[np.argsort(order_key[part], kind="stable")]
            out = []
            for pos in best:
                row = int(pos) if rows is None else int(rows[int(pos)])
                out.append(Match(cached.records[row], float(scores[int(pos)])))
            return out

    def vector_values(self, index: str, vector_id: str) -> npt.NDArray[np.float32] | None:
        with self._lock:
            self.apply_due()
            record = self.indexes[index].vectors.get(vector_id)
            return None if record is None else record.array()

    def get_ids(self, index: str, ids: Sequence[str]) -> list[VectorRecord]:
        with self._lock:
            self.apply_due()
            vectors = self.indexes[index].vectors
            return [vectors[i] for i in dict.fromkeys(ids) if i in vectors]

    def list_ids(self, index: str, count: int, after: str | None) -> tuple[list[str], int, bool]:
        """Ids in lexicographic order after ``after``: (page, total, truncated)."""
        with self._lock:
            self.apply_due()
            ids = sorted(self.indexes[index].vectors)
            start = 0
            if after is not None:
                start = bisect.bisect_right(ids, after)
            page = ids[start : start + count]
            return page, len(ids), start + count < len(ids)

    def metadata_indexes(self, index: str) -> Mapping[str, str]:
        with self._lock:
            self.apply_due()
            return dict(self.indexes[index].metadata_indexes)
