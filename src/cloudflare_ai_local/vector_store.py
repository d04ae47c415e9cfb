"""Vectorize v2 storage: SQLite for durability, numpy for exact nearest-neighbour search.

Every write is a *mutation* with a uuid. Mutations queue up and are applied in order once
``write_delay`` seconds have passed (at once when it is 0), each in one SQLite transaction,
so a crash leaves every vector of a batch fully present or fully absent. Reads first apply
the mutations that are due, which reproduces Vectorize's eventual consistency.

The authoritative copy lives in memory (loaded from SQLite on open): per index, records
(id, namespace, metadata) plus ONE float32 matrix that every write updates in place (see
``Rows``), used for brute-force scoring. There is no other copy of the values in memory, and
no rebuild after a write, so the first query after a large upsert is as fast as any other.

Without a data directory (an in-memory store) the ``vectors`` table stays empty: nothing
could ever read it back (there is no restart to survive), and inserting 5,000 rows of 3 KiB
cost about as much as the rest of the store's work for a 5,000-vector upsert, besides
doubling the memory the values take. Index definitions and metadata indexes still go to
SQLite. Each mutation runs its fallible steps (serialising metadata, SQL) before it touches
the in-memory state, so a failed one changes nothing; a file-backed store additionally
reloads from the database after a failure.
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
);
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class VectorRecord:
    """One stored vector's identity and metadata; its values live in the index's matrix.

    ``indexed`` is the metadata-index snapshot taken at write time. ``row`` is the vector's
    row in ``IndexState.rows`` (it changes when a delete moves the last row into a hole).
    """

    id: str
    namespace: str | None
    metadata: dict[str, Any] | None
    indexed: dict[str, Any]
    row: int = -1


@dataclass(slots=True)
class NewVector:
    """A validated vector from an insert/upsert request, not yet stored.

    ``values`` is the float32 row, as raw bytes or as a float32 array (a view into a
    request's matrix, so parsing does not copy every row).
    """

    id: str
    values: bytes | npt.NDArray[np.float32]
    namespace: str | None
    metadata: dict[str, Any] | None


_MIN_CAPACITY = 64


def _snapshot_key(indexed: Mapping[str, Any]) -> bytes:
    """A hashable key for an indexed-metadata snapshot: its canonical JSON.

    JSON keeps ``1``, ``1.0`` and ``true`` apart (equal, with equal hashes, in Python, but
    different to filters), so they never share an entry.
    """
    return orjson.dumps(indexed, option=orjson.OPT_SORT_KEYS)


class Rows:
    """The float32 matrix of one index, kept in step with every write.

    Rows ``0..n-1`` are live, in no particular order; ``records[i]`` owns row ``i``. Writes
    overwrite a replaced vector's row in place and append new vectors (the arrays grow by
    doubling, so appends are amortised O(1) per row); a delete moves the last row into the
    hole. Next to the matrix are the rows' norms (for cosine and euclidean scores), a
    namespace code per row (``-1`` for no namespace) and an indexed-snapshot code per row, so
    namespace and metadata filters become numpy comparisons plus one predicate call per
    *distinct* snapshot rather than per vector.

    This is the only in-memory copy of the values; records carry no bytes of their own.
    """

    __slots__ = (
        "_namespaces",
        "_snapshot_values",
        "_snapshots",
        "dims",
        "matrix",
        "n",
        "namespace_codes",
        "norms",
        "records",
        "snapshot_codes",
    )

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.n = 0
        self.matrix: npt.NDArray[np.float32] = np.empty((0, dims), dtype=np.float32)
        self.norms: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self.namespace_codes: npt.NDArray[np.int32] = np.empty(0, dtype=np.int32)
        self.snapshot_codes: npt.NDArray[np.int32] = np.empty(0, dtype=np.int32)
        self.records: list[VectorRecord] = []
        self._namespaces: dict[str, int] = {}
        self._snapshots: dict[bytes, int] = {}
        self._snapshot_values: list[dict[str, Any]] = []

    # --- codes -----------------------------------------------------------------------------

    def namespace_code(self, namespace: str | None, *, add: bool = False) -> int | None:
        """The code of ``namespace`` (``-1`` for None); None when unknown and not ``add``."""
        if namespace is None:
            return -1
        code = self._namespaces.get(namespace)
        if code is None and add:
            code = self._namespaces[namespace] = len(self._namespaces)
        return code

    def snapshot_code(self, indexed: Mapping[str, Any]) -> int:
        key = _snapshot_key(indexed)
        code = self._snapshots.get(key)
        if code is None:
            code = self._snapshots[key] = len(self._snapshot_values)
            self._snapshot_values.append(dict(indexed))
        return code

    def snapshots(self) -> list[dict[str, Any]]:
        """Every distinct snapshot seen, indexed by code (some may no longer be in use)."""
        return self._snapshot_values

    def _compact_snapshots(self) -> None:
        """Forget snapshots no live row uses (called when the table outgrows the rows)."""
        self._snapshots = {}
        self._snapshot_values = []
        for i in range(self.n):
            self.snapshot_codes[i] = self.snapshot_code(self.records[i].indexed)

    # --- storage ---------------------------------------------------------------------------

    def _reserve(self, total: int) -> None:
        capacity = len(self.norms)
        if total <= capacity:
            return
        capacity = max(_MIN_CAPACITY, capacity * 2, total)
        matrix = np.empty((capacity, self.dims), dtype=np.float32)
        matrix[: self.n] = self.matrix[: self.n]
        self.matrix = matrix
        for name in ("norms", "namespace_codes", "snapshot_codes"):
            old = getattr(self, name)
            grown = np.empty(capacity, dtype=old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)

    def _shrink(self) -> None:
        """Give memory back once at most a quarter of the capacity is in use."""
        capacity = len(self.norms)
        if capacity <= _MIN_CAPACITY or self.n * 4 > capacity:
            return
        capacity = max(_MIN_CAPACITY, self.n * 2)
        self.matrix = self.matrix[:capacity].copy()
        self.norms = self.norms[:capacity].copy()
        self.namespace_codes = self.namespace_codes[:capacity].copy()
        self.snapshot_codes = self.snapshot_codes[:capacity].copy()

    def put(
        self,
        records: Sequence[VectorRecord],
        values: npt.NDArray[np.float32],
        existing: Mapping[str, VectorRecord],
    ) -> None:
        """Store ``records`` (distinct ids) with ``values`` (one row each).

        A record whose id is in ``existing`` takes over that vector's row; the others are
        appended. ``existing`` is not modified.
        """
        count = len(records)
        if not count:
            return
        # room for the appended rows only (replacements reuse theirs)
        self._reserve(self.n + sum(1 for r in records if r.id not in existing))
        targets = np.empty(count, dtype=np.intp)
        ns_codes = np.empty(count, dtype=np.int32)
        snap_codes = np.empty(count, dtype=np.int32)
        row_of: list[int] = []
        ns_of: list[int] = []
        snap_of: list[int] = []
        owners = self.records
        namespaces = self._namespaces
        for record in records:
            old = existing.get(record.id)
            if old is None:
                row = self.n
                self.n += 1
                owners.append(record)
            else:
                row = old.row
                owners[row] = record
            record.row = row
            row_of.append(row)
            ns = record.namespace
            if ns is None:
                ns_of.append(-1)
            else:
                code = namespaces.get(ns)
                if code is None:
                    code = namespaces[ns] = len(namespaces)
                ns_of.append(code)
            snap_of.append(self.snapshot_code(record.indexed))
        targets[:] = row_of
        ns_codes[:] = ns_of
        snap_codes[:] = snap_of
        self.matrix[targets] = values
        self.norms[targets] = _row_norms(values)
        self.namespace_codes[targets] = ns_codes
        self.snapshot_codes[targets] = snap_codes
        if len(self._snapshot_values) > 2 * self.n + 1024:
            self._compact_snapshots()

    def remove(self, records: Iterable[VectorRecord]) -> None:
        """Drop ``records`` (each currently stored): the last row moves into each hole."""
        for record in records:
            row, last = record.row, self.n - 1
            if row != last:
                moved = self.records[last]
                self.matrix[row] = self.matrix[last]
                self.norms[row] = self.norms[last]
                self.namespace_codes[row] = self.namespace_codes[last]
                self.snapshot_codes[row] = self.snapshot_codes[last]
                self.records[row] = moved
                moved.row = row
            self.records.pop()
            self.n = last
            record.row = -1
        self._shrink()

    def reindex(self, records: Iterable[VectorRecord]) -> None:
        """Recompute the snapshot codes of ``records`` after their ``indexed`` changed."""
        for record in records:
            self.snapshot_codes[record.row] = self.snapshot_code(record.indexed)

    def values(self, record: VectorRecord) -> npt.NDArray[np.float32]:
        """A copy of ``record``'s row (safe to keep after later writes)."""
        row: npt.NDArray[np.float32] = self.matrix[record.row].copy()
        return row


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
    rows: Rows = field(init=False)

    def __post_init__(self) -> None:
        self.rows = Rows(self.dimensions)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "config": {"dimensions": self.dimensions, "metric": self.metric},
            "created_on": self.created_on,
            "modified_on": self.modified_on,
        }


def _row_norms(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The L2 norm of each row (einsum: one pass, no temporary the size of ``values``)."""
    norms: npt.NDArray[np.float32] = np.sqrt(np.einsum("ij,ij->i", values, values))
    return norms


def _as_row(values: bytes | npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    if isinstance(values, bytes | bytearray | memoryview):
        return np.frombuffer(values, dtype=np.float32)
    return np.asarray(values, dtype=np.float32)


@dataclass(slots=True)
class Mutation:
    id: str
    index: str
    due: float
    apply: Callable[[sqlite3.Connection, IndexState], None]


@dataclass(slots=True)
class Match:
    """One query result; ``values`` is a copy of the vector's row."""

    record: VectorRecord
    score: float
    values: npt.NDArray[np.float32]


def _dump_without(indexed: Mapping[str, Any], prop: str) -> bytes | None:
    """``indexed`` minus ``prop`` as stored in the ``indexed`` column (None when empty)."""
    remaining = {k: v for k, v in indexed.items() if k != prop}
    return orjson.dumps(remaining) if remaining else None


class VectorStore:
    """All Vectorize indexes of one emulator. Thread-safe; every public method takes the lock."""

    def __init__(self, data_dir: Path | str | None = None, write_delay: float = 0.0) -> None:
        self.write_delay = write_delay
        self._lock = threading.RLock()
        self._persistent = data_dir is not None  # vector rows go to SQLite only if they can last
        if data_dir is None:
            target = ":memory:"
        else:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            target = str(Path(data_dir) / DB_FILE)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        # 64 KiB pages (only takes effect on a new database, before its first table): a
        # 3 KiB vector row fits in one page instead of spilling into overflow pages, which
        # makes a 5,000-vector write about four times faster to store.
        self._db.execute("PRAGMA page_size=65536")
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
        for state in self.indexes.values():
            self._load_vectors(state)

    def _load_vectors(self, state: IndexState, chunk: int = 4096) -> None:
        """Fill ``state``'s records and matrix from the database, ``chunk`` rows at a time."""
        buffer = np.empty((chunk, state.dimensions), dtype=np.float32)
        records: list[VectorRecord] = []
        cursor = self._db.execute(
            "SELECT id, namespace, vals, metadata, indexed FROM vectors WHERE index_name=?",
            (state.name,),
        )
        while batch := cursor.fetchmany(chunk):
            records.clear()
            for i, (vid, ns, vals, meta, indexed) in enumerate(batch):
                buffer[i] = np.frombuffer(vals, dtype=np.float32)
                records.append(
                    VectorRecord(
                        vid,
                        ns,
                        orjson.loads(meta) if meta else None,
                        orjson.loads(indexed) if indexed else {},
                    )
                )
            state.rows.put(records, buffer[: len(records)], state.vectors)
            for record in records:
                state.vectors[record.id] = record

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
                    if self._persistent:  # (an in-memory database holds no vectors to reload)
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
        persistent = self._persistent

        def apply(db: sqlite3.Connection, state: IndexState) -> None:
            chosen: dict[str, NewVector] = {}
            for vec in batch:
                if replace or (vec.id not in state.vectors and vec.id not in chosen):
                    chosen[vec.id] = vec
            if not chosen:
                return
            records = [
                VectorRecord(
                    v.id,
                    v.namespace,
                    v.metadata,
                    indexed_snapshot(v.metadata, state.metadata_indexes),
                )
                for v in chosen.values()
            ]
            # one C loop over the rows (they are views into the request's matrix, or bytes)
            values = np.array([_as_row(v.values) for v in chosen.values()], dtype=np.float32)
            # Every statement that can fail (serialising metadata, SQLite) runs before the
            # in-memory state changes; a failure rolls the transaction back and reloads.
            dumps = orjson.dumps
            if persistent:
                raw = values.data.cast("B")  # zero-copy slices of the rows for SQLite
                width = 4 * state.dimensions
                db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            state.name,
                            r.id,
                            r.namespace,
                            raw[i * width : (i + 1) * width],
                            dumps(r.metadata) if r.metadata is not None else None,
                            dumps(r.indexed) if r.indexed else None,
                        )
                        for i, r in enumerate(records)
                    ],
                )
            else:  # no table to write, but metadata must still be JSON (as it would be stored)
                for r in records:
                    if r.metadata is not None:
                        dumps(r.metadata)
            state.rows.put(records, values, state.vectors)
            for r in records:
                state.vectors[r.id] = r

        with self._lock:
            return self._enqueue(index, apply)

    def delete_ids(self, index: str, ids: Iterable[str]) -> str:
        doomed = list(dict.fromkeys(ids))

        def apply(db: sqlite3.Connection, state: IndexState) -> None:
            present = [state.vectors[i] for i in doomed if i in state.vectors]
            db.executemany(
                "DELETE FROM vectors WHERE index_name=? AND id=?",
                [(state.name, r.id) for r in present],
            )
            state.rows.remove(present)
            for r in present:
                del state.vectors[r.id]

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
            # UNCERTAIN: deleting a metadata index drops the values it indexed.
            changed = [r for r in state.vectors.values() if prop in r.indexed]
            db.executemany(
                "UPDATE vectors SET indexed=? WHERE index_name=? AND id=?",
                [(_dump_without(r.indexed, prop), state.name, r.id) for r in changed],
            )
            state.metadata_indexes.pop(prop, None)  # memory changes once the SQL succeeded
            for r in changed:
                r.indexed.pop(prop, None)
            state.rows.reindex(changed)

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
        """The ``top_k`` best matches, best first, by the index's metric.

        The namespace restricts first, then the metadata filter; both select rows of the
        incrementally maintained matrix, so a query right after a write costs what any other
        query costs.
        """
        with self._lock:
            self.apply_due()
            state = self.indexes[index]
            store = state.rows
            n = store.n
            rows: npt.NDArray[np.intp] | None = None
            if namespace is not None:
                code = store.namespace_code(namespace)
                if code is None:
                    return []
                rows = np.flatnonzero(store.namespace_codes[:n] == code)
            if predicate is not None:
                codes = store.snapshot_codes[:n] if rows is None else store.snapshot_codes[rows]
                table = store.snapshots()
                if len(table) <= len(codes):
                    passes = np.fromiter(
                        (predicate(s) for s in table), dtype=bool, count=len(table)
                    )
                    keep = passes[codes]
                else:  # more distinct snapshots than candidates: test each candidate once
                    keep = np.fromiter(
                        (predicate(table[c]) for c in codes.tolist()), dtype=bool, count=len(codes)
                    )
                selected = np.flatnonzero(keep)
                rows = selected if rows is None else rows[selected]
            q = np.ascontiguousarray(vector, dtype=np.float32)
            if rows is None:
                dots = store.matrix[:n] @ q
                norms = store.norms[:n]
            elif len(rows) * 3 > n:
                # most rows survive: one pass over the whole matrix beats copying the subset
                dots = (store.matrix[:n] @ q)[rows]
                norms = store.norms[rows]
            else:
                dots = store.matrix[rows] @ q
                norms = store.norms[rows]
            if dots.shape[0] == 0:
                return []
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
            for pos in best.tolist():
                row = pos if rows is None else int(rows[pos])
                record = store.records[row]
                out.append(Match(record, float(scores[pos]), store.values(record)))
            return out

    def vector_values(self, index: str, vector_id: str) -> npt.NDArray[np.float32] | None:
        with self._lock:
            self.apply_due()
            state = self.indexes[index]
            record = state.vectors.get(vector_id)
            return None if record is None else state.rows.values(record)

    def get_ids(
        self, index: str, ids: Sequence[str]
    ) -> list[tuple[VectorRecord, npt.NDArray[np.float32]]]:
        """The stored vectors among ``ids`` (first occurrence order), each with its values."""
        with self._lock:
            self.apply_due()
            state = self.indexes[index]
            vectors = state.vectors
            return [
                (vectors[i], state.rows.values(vectors[i]))
                for i in dict.fromkeys(ids)
                if i in vectors
            ]

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
