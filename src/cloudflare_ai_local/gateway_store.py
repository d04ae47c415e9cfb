"""AI Gateway storage: each gateway's settings and its request log, in SQLite.

One database file (``gateway.sqlite3`` in the emulator's ``data_dir``, or in memory) holds two
tables: ``gateways`` (the settings the management API reads and writes) and ``logs`` (one row
per logged request, with its request and response bodies). Log queries are SQL, so filters,
ordering and paging stay fast with many thousands of entries. Every write is one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

DB_FILE = "gateway.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gateways (
    id TEXT PRIMARY KEY, settings TEXT NOT NULL, created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, gateway_id TEXT NOT NULL,
    event_id TEXT NOT NULL, created_at REAL NOT NULL, path TEXT NOT NULL, provider TEXT NOT NULL,
    model TEXT, model_type TEXT, request_type TEXT, status_code INTEGER NOT NULL,
    success INTEGER NOT NULL, cached INTEGER NOT NULL, cache_status TEXT NOT NULL,
    duration REAL NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,
    neurons REAL, cost REAL, metadata TEXT NOT NULL, step INTEGER, attempts INTEGER NOT NULL,
    feedback INTEGER, score REAL, options TEXT NOT NULL, request_content_type TEXT,
    response_content_type TEXT, request_head TEXT NOT NULL, response_head TEXT NOT NULL,
    request_body BLOB, response_body BLOB
);
CREATE INDEX IF NOT EXISTS logs_by_time ON logs (gateway_id, created_at);
"""


def iso(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 UTC with a ``Z``, as Cloudflare writes times."""
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def parse_time(value: str) -> float:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC) as seconds since the epoch."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(slots=True)
class GatewayRecord:
    """The settings of one gateway, named as in the management API."""

    id: str
    cache_invalidate_on_update: bool = False
    #: Seconds responses stay cached when a request sends no ``cf-aig-cache-ttl``; None or 0
    #: means caching is off unless a request asks for it.
    cache_ttl: int | None = None
    collect_logs: bool = True
    rate_limiting_interval: int | None = None
    rate_limiting_limit: int | None = None
    rate_limiting_technique: str = "fixed"
    #: Requests must carry ``cf-aig-authorization: Bearer <token>``.
    authentication: bool = False
    #: Gateway-wide retry defaults (the ``cf-aig-*`` request headers win).
    retry_max_attempts: int | None = None
    retry_delay: int | None = None
    retry_backoff: str | None = None
    #: Most logs kept (None: no limit), and what happens at the limit.
    log_management: int | None = None
    log_management_strategy: str | None = None
    created_at: str = ""
    modified_at: str = ""

    def settings(self) -> dict[str, Any]:
        """Everything but the id and the two times."""
        return {
            k: v for k, v in asdict(self).items() if k not in ("id", "created_at", "modified_at")
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SETTING_NAMES: tuple[str, ...] = tuple(
    f.name for f in fields(GatewayRecord) if f.name not in ("id", "created_at", "modified_at")
)


@dataclass(slots=True)
class GatewayLogEntry:
    """One gateway request as the gateway's log shows it (bodies are stored beside it)."""

    id: str
    event_id: str
    gateway_id: str
    #: The request's URL path (the logs API shows the part after the gateway id).
    path: str
    model: str | None
    status: int
    cache_status: str
    metadata: dict[str, Any]
    step: int | None
    duration_ms: float
    created_at: float
    options: dict[str, Any] = field(default_factory=dict)
    provider: str = "workers-ai"
    model_type: str | None = None
    request_type: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    neurons: float | None = None
    cost: float | None = None
    #: Upstream calls made for this request (1 + retries).
    attempts: int = 1
    feedback: int | None = None
    score: float | None = None
    request_content_type: str | None = None
    response_content_type: str | None = None
    #: Request and response headers as text, secrets removed.
    request_head: str = ""
    response_head: str = ""

    @property
    def success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def cached(self) -> bool:
        return self.cache_status == "HIT"


_LOG_COLUMNS = (
    "id, event_id, gateway_id, path, model, status_code, cache_status, metadata, step, "
    "duration, created_at, options, provider, model_type, request_type, tokens_in, tokens_out, "
    "neurons, cost, attempts, feedback, score, request_content_type, response_content_type, "
    "request_head, response_head"
)


def _entry(row: Sequence[Any]) -> GatewayLogEntry:
    values = list(row)
    values[7] = orjson.loads(values[7])
    values[11] = orjson.loads(values[11])
    return GatewayLogEntry(*values)


# --- log queries -----------------------------------------------------------------------------

#: Filter keys of the logs API and the SQL expression each reads.
FILTER_COLUMNS: dict[str, str] = {
    "id": "id",
    "event_id": "event_id",
    "created_at": "created_at",
    "request_content_type": "request_content_type",
    "response_content_type": "response_content_type",
    "request_type": "request_type",
    "success": "success",
    "cached": "cached",
    "provider": "provider",
    "model": "model",
    "model_type": "model_type",
    "cost": "cost",
    "tokens": "(tokens_in + tokens_out)",
    "tokens_in": "tokens_in",
    "tokens_out": "tokens_out",
    "duration": "duration",
    "feedback": "feedback",
}
BOOLEAN_KEYS = frozenset({"success", "cached"})
NUMBER_KEYS = frozenset({"cost", "tokens", "tokens_in", "tokens_out", "duration", "feedback"})
METADATA_KEYS = frozenset({"metadata.key", "metadata.value"})
OPERATORS = frozenset({"eq", "neq", "contains", "lt", "gt", "lte", "gte"})
ORDER_COLUMNS: dict[str, str] = {
    "created_at": "created_at",
    "provider": "provider",
    "model": "model",
    "model_type": "model_type",
    "success": "success",
    "cached": "cached",
    "cost": "cost",
    "tokens_in": "tokens_in",
    "tokens_out": "tokens_out",
    "duration": "duration",
    "feedback": "feedback",
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One log filter: ``key`` (a :data:`FILTER_COLUMNS` key or ``metadata.key`` /
    ``metadata.value``), an operator and the values it compares with (already converted:
    booleans, numbers, epoch seconds for ``created_at``). Several values of ``eq`` and
    ``contains`` match any of them; ``neq`` matches none of them."""

    key: str
    operator: str
    values: tuple[Any, ...]

    def sql(self) -> tuple[str, list[Any]]:
        values = list(self.values)
        if self.key in METADATA_KEYS:
            return self._metadata_sql(values)
        column = FILTER_COLUMNS[self.key]
        if self.operator in ("lt", "gt", "lte", "gte"):
            sign = {"lt": "<", "gt": ">", "lte": "<=", "gte": ">="}[self.operator]
            return f"{column} {sign} ?", values[:1]
        if self.operator == "contains":
            inner = " OR ".join(f"CAST({column} AS TEXT) LIKE ? ESCAPE '\\'" for _ in values)
            return f"({inner})", [f"%{_like(str(v))}%" for v in values]
        marks = ", ".join("?" for _ in values)
        if self.operator == "neq":
            return f"({column} IS NULL OR {column} NOT IN ({marks}))", values
        return f"{column} IN ({marks})", values

    def _metadata_sql(self, values: list[Any]) -> tuple[str, list[Any]]:
        """A test on the keys or values of a log's metadata object (``json_each``): a value
        ``true``/``false`` matches only a boolean, other text the value written as text."""
        texts = [_metadata_text(v) for v in values]
        tests: list[str] = []
        params: list[Any] = []
        for text in texts:
            if self.key == "metadata.key":
                tests.append("key LIKE ? ESCAPE '\\'" if self.operator == "contains" else "key = ?")
            elif text in ("true", "false") and self.operator != "contains":
                tests.append("type = ?")
            elif self.operator == "contains":
                tests.append("CAST(value AS TEXT) LIKE ? ESCAPE '\\'")
            else:
                tests.append("(type NOT IN ('true', 'false') AND CAST(value AS TEXT) = ?)")
            params.append(f"%{_like(text)}%" if self.operator == "contains" else text)
        inner = " OR ".join(tests)
        test = "NOT EXISTS" if self.operator == "neq" else "EXISTS"
        return f"{test} (SELECT 1 FROM json_each(logs.metadata) WHERE {inner})", params


def _metadata_text(value: Any) -> str:
    """A metadata value as text; booleans as ``true`` / ``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(gateway_id: str, conditions: Sequence[Condition]) -> tuple[str, list[Any]]:
    clauses, params = ["gateway_id = ?"], [gateway_id]
    for condition in conditions:
        clause, values = condition.sql()
        clauses.append(clause)
        params.extend(values)
    return " AND ".join(clauses), params


def _order(order_by: str, direction: str) -> str:
    column = ORDER_COLUMNS.get(order_by, "created_at")
    way = "ASC" if direction == "asc" else "DESC"
    return f"{column} {way}, seq {way}"


# --- the store -------------------------------------------------------------------------------


class GatewayStore:
    """Gateways and logs of one emulator. Thread-safe; every public method takes the lock."""

    def __init__(self, data_dir: Path | str | None = None) -> None:
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
        self._gateways: dict[str, GatewayRecord] = {}
        for gid, settings, created, modified in self._db.execute(
            "SELECT id, settings, created_at, modified_at FROM gateways"
        ):
            known = {k: v for k, v in orjson.loads(settings).items() if k in SETTING_NAMES}
            self._gateways[gid] = GatewayRecord(
                gid, **known, created_at=created, modified_at=modified
            )
        self._closed = False

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    # --- gateways --------------------------------------------------------------------------

    def _save(self, record: GatewayRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO gateways (id, settings, created_at, modified_at) "
            "VALUES (?, ?, ?, ?)",
            (
                record.id,
                orjson.dumps(record.settings()).decode(),
                record.created_at,
                record.modified_at,
            ),
        )

    def get(self, gateway_id: str) -> GatewayRecord | None:
        with self._lock:
            return self._gateways.get(gateway_id)

    def ensure(self, gateway_id: str, defaults: Mapping[str, Any]) -> GatewayRecord:
        """The gateway, created with ``defaults`` on first use of an unknown id."""
        with self._lock:
            record = self._gateways.get(gateway_id)
            if record is None:
                record = self.create(gateway_id, defaults)
            return record

    def create(self, gateway_id: str, settings: Mapping[str, Any]) -> GatewayRecord:
        """A new gateway (the caller checks that the id is free)."""
        with self._lock:
            now = iso(time.time())
            record = GatewayRecord(gateway_id, **settings, created_at=now, modified_at=now)
            self._save(record)
            self._gateways[gateway_id] = record
            return record

    def update(self, gateway_id: str, settings: Mapping[str, Any]) -> GatewayRecord:
        with self._lock:
            old = self._gateways[gateway_id]
            merged = {**old.settings(), **settings}
            record = GatewayRecord(
                gateway_id, **merged, created_at=old.created_at, modified_at=iso(time.time())
            )
            self._save(record)
            self._gateways[gateway_id] = record
            return record

    def delete(self, gateway_id: str) -> GatewayRecord | None:
        """Remove a gateway and its logs; the removed record, or None when unknown."""
        with self._lock:
            record = self._gateways.pop(gateway_id, None)
            if record is not None:
                self._db.execute("BEGIN")
                self._db.execute("DELETE FROM gateways WHERE id = ?", (gateway_id,))
                self._db.execute("DELETE FROM logs WHERE gateway_id = ?", (gateway_id,))
                self._db.execute("COMMIT")
            return record

    def gateways(self) -> list[GatewayRecord]:
        with self._lock:
            return sorted(self._gateways.values(), key=lambda r: (r.created_at, r.id))

    # --- logs ------------------------------------------------------------------------------

    def add_log(
        self,
        entry: GatewayLogEntry,
        request_body: bytes | None,
        response_body: bytes | None,
        keep_at_most: int | None = None,
        strategy: str | None = None,
    ) -> bool:
        """Store ``entry``; False when the gateway's log limit (``keep_at_most``) is reached
        and its strategy is to stop inserting (``DELETE_OLDEST`` drops the oldest instead)."""
        with self._lock:
            if self._closed:
                return False
            self._db.execute("BEGIN")
            try:
                if keep_at_most is not None:
                    (count,) = self._db.execute(
                        "SELECT COUNT(*) FROM logs WHERE gateway_id = ?", (entry.gateway_id,)
                    ).fetchone()
                    if count >= keep_at_most:
                        if strategy != "DELETE_OLDEST":
                            self._db.execute("ROLLBACK")
                            return False
                        self._db.execute(
                            "DELETE FROM logs WHERE seq IN (SELECT seq FROM logs WHERE "
                            "gateway_id = ? ORDER BY created_at, seq LIMIT ?)",
                            (entry.gateway_id, count - keep_at_most + 1),
                        )
                self._db.execute(
                    f"INSERT INTO logs ({_LOG_COLUMNS}, success, cached, request_body, "
                    "response_body) VALUES (" + ", ".join("?" for _ in range(30)) + ")",
                    (
                        entry.id,
                        entry.event_id,
                        entry.gateway_id,
                        entry.path,
                        entry.model,
                        entry.status,
                        entry.cache_status,
                        orjson.dumps(entry.metadata).decode(),
                        entry.step,
                        entry.duration_ms,
                        entry.created_at,
                        orjson.dumps(entry.options).decode(),
                        entry.provider,
                        entry.model_type,
                        entry.request_type,
                        entry.tokens_in,
                        entry.tokens_out,
                        entry.neurons,
                        entry.cost,
                        entry.attempts,
                        entry.feedback,
                        entry.score,
                        entry.request_content_type,
                        entry.response_content_type,
                        entry.request_head,
                        entry.response_head,
                        int(entry.success),
                        int(entry.cached),
                        request_body,
                        response_body,
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return True

    def all_logs(self) -> list[GatewayLogEntry]:
        """Every log of every gateway, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_LOG_COLUMNS} FROM logs ORDER BY seq").fetchall()
        return [_entry(row) for row in rows]

    def query_logs(
        self,
        gateway_id: str,
        conditions: Sequence[Condition] = (),
        *,
        order_by: str = "created_at",
        direction: str = "desc",
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[GatewayLogEntry], int]:
        """One page of the gateway's logs matching every condition, and how many match."""
        where, params = _where(gateway_id, conditions)
        with self._lock:
            (total,) = self._db.execute(
                f"SELECT COUNT(*) FROM logs WHERE {where}", params
            ).fetchone()
            rows = self._db.execute(
                f"SELECT {_LOG_COLUMNS} FROM logs WHERE {where} "
                f"ORDER BY {_order(order_by, direction)} LIMIT ? OFFSET ?",
                [*params, -1 if limit is None else limit, offset],
            ).fetchall()
        return [_entry(row) for row in rows], int(total)

    def get_log(self, gateway_id: str, log_id: str) -> GatewayLogEntry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_LOG_COLUMNS} FROM logs WHERE gateway_id = ? AND id = ?",
                (gateway_id, log_id),
            ).fetchone()
        return None if row is None else _entry(row)

    def log_body(self, gateway_id: str, log_id: str, which: str) -> tuple[bool, bytes | None]:
        """(whether the log exists, its stored ``request`` or ``response`` body)."""
        column = {"request": "request_body", "response": "response_body"}[which]
        with self._lock:
            row = self._db.execute(
                f"SELECT {column} FROM logs WHERE gateway_id = ? AND id = ?",
                (gateway_id, log_id),
            ).fetchone()
        return (row is not None, None if row is None else row[0])

    def body_sizes(self, gateway_id: str, log_id: str) -> tuple[int, int]:
        with self._lock:
            row = self._db.execute(
                "SELECT length(request_body), length(response_body) FROM logs "
                "WHERE gateway_id = ? AND id = ?",
                (gateway_id, log_id),
            ).fetchone()
        return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)

    def edit_log(self, gateway_id: str, log_id: str, changes: Mapping[str, Any]) -> bool:
        """Set ``feedback``, ``score`` and/or ``metadata`` of one log; False when unknown."""
        allowed = {"feedback", "score", "metadata"}
        sets, params = [], []
        for key, value in changes.items():
            if key in allowed:
                sets.append(f"{key} = ?")
                params.append(orjson.dumps(value).decode() if key == "metadata" else value)
        with self._lock:
            if not sets:
                return self.get_log(gateway_id, log_id) is not None
            cursor = self._db.execute(
                f"UPDATE logs SET {', '.join(sets)} WHERE gateway_id = ? AND id = ?",
                [*params, gateway_id, log_id],
            )
            return cursor.rowcount > 0

    def delete_logs(
        self,
        gateway_id: str,
        conditions: Sequence[Condition] = (),
        *,
        order_by: str = "created_at",
        direction: str = "asc",
        limit: int | None = None,
    ) -> int:
        """Delete the matching logs (the first ``limit`` of them in the given order);
        how many were deleted."""
        where, params = _where(gateway_id, conditions)
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM logs WHERE seq IN (SELECT seq FROM logs WHERE "
                f"{where} ORDER BY {_order(order_by, direction)} LIMIT ?)",
                [*params, -1 if limit is None else limit],
            )
            return int(cursor.rowcount)


__all__ = [
    "DB_FILE",
    "SETTING_NAMES",
    "Condition",
    "GatewayLogEntry",
    "GatewayRecord",
    "GatewayStore",
    "iso",
    "parse_time",
]
