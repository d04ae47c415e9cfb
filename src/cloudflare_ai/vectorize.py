"""Vectorize v2 clients: indexes, writes, queries, metadata indexes and waiting for writes.

Besides one method per REST call, the clients own the semantics every caller needs, so the
framework adapters only translate: :meth:`~VectorizeClient.ensure_index` (an index and its
metadata indexes, created and waited for before the first write), ``wait=`` on every mutation
and :meth:`~VectorizeClient.wait_for_writes`, :meth:`~VectorizeClient.select` and
:meth:`~VectorizeClient.delete_matching` (vectors selected by a
:class:`~cloudflare_ai.filters.Filter`), and a warning
(:class:`~cloudflare_ai.filters.UnindexedFilterWarning`) when a query filters on a property
that has no metadata index.

Writes are validated in full before the first byte is sent (for sequences; an iterator is
checked one chunk ahead of sending, to keep memory bounded), encoded as float32 NDJSON,
split at 5000 vectors / 100 MB per request and sent concurrently within ``max_concurrency``.
If a chunk still fails after retries, :class:`~cloudflare_ai.errors.PartialWriteError` says
exactly which ids were written and which were not.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal, Self

import httpx
import numpy as np

from . import limits
from .config import ClientSettings
from .errors import (
    APIError,
    CloudflareError,
    ConflictError,
    MutationTimeoutError,
    NotFoundError,
    PartialWriteError,
    ValidationError,
)
from .filters import Condition, Filter, FilterLike, as_filter, warn_unindexed
from .limits import Metric
from .ndjson import Chunk, chunk_lines, encode_vector
from .transport import AsyncTransport, Request, RetryPolicy, SyncTransport, envelope_result
from .types import (
    Index,
    IndexInfo,
    Match,
    MetadataIndex,
    Mutation,
    QueryResult,
    VectorIdPage,
    VectorRecord,
    WriteResult,
)
from .validation import (
    check_dimensions,
    check_filter,
    check_id,
    check_index_name,
    check_metadata,
    check_namespace,
    check_top_k,
    check_unique_ids,
    check_values,
)

ReturnMetadata = Literal["none", "indexed", "all"]
WriteKind = Literal["insert", "upsert"]
#: What ``wait_for_writes`` waits for: a write's result, one mutation (or its id) or several in
#: the order they were sent.
Mutations = WriteResult | Mutation | str | Sequence[Mutation] | Sequence[str] | None


@dataclass(slots=True)
class Vector:
    """A vector to write: an id, its values, and optional metadata and namespace."""

    id: str
    values: Sequence[float] | np.ndarray[Any, Any]
    metadata: Mapping[str, Any] | None = None
    namespace: str | None = None


VectorLike = Vector | VectorRecord | Mapping[str, Any]


def as_vector(item: VectorLike, position: int) -> Vector:
    if isinstance(item, Vector):
        return item
    if isinstance(item, VectorRecord):
        return Vector(item.id, item.values or [], item.metadata, item.namespace)
    if isinstance(item, Mapping):
        if "id" not in item or "values" not in item:
            raise ValidationError(
                f"vector at position {position} needs 'id' and 'values'", position=position
            )
        return Vector(item["id"], item["values"], item.get("metadata"), item.get("namespace"))
    raise ValidationError(
        f"vector at position {position} must be a Vector or a mapping, got {type(item).__name__}",
        position=position,
    )


def _encode(vector: Vector, dimensions: int | None, position: int) -> tuple[str, bytes]:
    vector_id = check_id(vector.id, position)
    values = check_values(vector.values, dimensions, vector_id, position)
    if vector.metadata is not None:
        check_metadata(vector.metadata, vector_id, position)
    if vector.namespace is not None:
        check_namespace(vector.namespace, vector_id, position)
    return vector_id, encode_vector(vector_id, values, vector.metadata or None, vector.namespace)


def _validated_lines(
    vectors: Iterable[VectorLike], dimensions: int | None
) -> Iterator[tuple[str, bytes]]:
    """Encoded lines. A sequence is checked completely (and for duplicate ids) before the
    first line is produced; any other iterable is checked as it is consumed (its ids are
    remembered to refuse duplicates, so memory grows with the number of ids)."""
    if isinstance(vectors, Sequence):
        items = [as_vector(v, i) for i, v in enumerate(vectors)]
        for position, vector in enumerate(items):
            check_id(vector.id, position)
            check_values(vector.values, dimensions, vector.id, position)
            if vector.metadata is not None:
                check_metadata(vector.metadata, vector.id, position)
            if vector.namespace is not None:
                check_namespace(vector.namespace, vector.id, position)
        check_unique_ids([v.id for v in items])
        for position, vector in enumerate(items):
            yield _encode(vector, dimensions, position)
        return
    seen: dict[str, int] = {}
    for position, item in enumerate(vectors):
        vector = as_vector(item, position)
        first = seen.setdefault(str(vector.id), position)
        if first != position:
            raise ValidationError(
                f"vector id {vector.id!r} appears twice in one write (positions {first} and "
                f"{position}); which one Vectorize keeps would be undefined",
                item=str(vector.id),
                position=position,
            )
        yield _encode(vector, dimensions, position)


def _accepted_at(response: httpx.Response) -> datetime | None:
    value = response.headers.get("date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(slots=True)
class _WriteState:
    """Bookkeeping of one multi-request write."""

    written: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    mutations: list[str] = field(default_factory=list)
    accepted_at: datetime | None = None
    requests: int = 0
    error: BaseException | None = None

    def done(self, chunk: Chunk, mutation: Mutation) -> None:
        self.written.extend(chunk.ids)
        self.mutations.append(mutation.mutation_id)
        self.requests += 1
        if mutation.accepted_at and (
            self.accepted_at is None or mutation.accepted_at > self.accepted_at
        ):
            self.accepted_at = mutation.accepted_at

    def fail(self, chunk: Chunk, error: BaseException) -> None:
        self.failed.extend(chunk.ids)
        self.requests += 1
        if self.error is None:
            self.error = error

    def result(self, kind: WriteKind, unsent: Iterable[Chunk]) -> WriteResult:
        for chunk in unsent:
            self.failed.extend(chunk.ids)
        if self.error is not None:
            if not self.written:
                raise self.error
            raise PartialWriteError(
                f"{kind} partly failed: {len(self.written)} vectors written, "
                f"{len(self.failed)} not written (first failure: {self.error})",
                written_ids=self.written,
                failed_ids=self.failed,
                mutation_ids=self.mutations,
            ) from self.error
        return WriteResult(
            ids=self.written,
            mutation_ids=self.mutations,
            count=len(self.written),
            requests=self.requests,
            accepted_at=self.accepted_at,
        )


def _lookahead(chunks: Iterator[Chunk]) -> Iterator[tuple[Chunk, bool]]:
    """Each chunk with whether it is the last."""
    previous = next(chunks, None)
    for chunk in chunks:
        assert previous is not None
        yield previous, False
        previous = chunk
    if previous is not None:
        yield previous, True


class _VectorizeBase:
    """Request building and parsing shared by the sync and async clients."""

    settings: ClientSettings
    _dimensions_cache: dict[str, int]
    #: index → {property path → index type}, as last listed or changed through this client.
    _metadata_cache: dict[str, dict[str, str]]

    def _url(self, index: str | None = None, suffix: str = "") -> tuple[str, str]:
        path = "/vectorize/v2/indexes"
        if index is not None:
            path += f"/{index}"
        if suffix:
            path += f"/{suffix}"
        return f"{self.settings.account_url}{path}", path

    def _req(
        self,
        method: str,
        index: str | None = None,
        suffix: str = "",
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Request:
        if index is not None:
            check_index_name(index)
        url, label = self._url(index, suffix)
        return Request(
            method,
            url,
            json=json,
            params=params,
            content=content,
            headers=dict(headers or {}),
            label=label,
        )

    def _create_request(
        self,
        name: str,
        dimensions: int | None,
        metric: Metric,
        preset: str | None,
        description: str | None,
    ) -> Request:
        check_index_name(name)
        if preset is not None:
            if dimensions is not None:
                raise ValidationError("pass either dimensions/metric or preset, not both")
            if preset not in limits.PRESETS:
                raise ValidationError(
                    f"unknown preset {preset!r}; Vectorize offers {', '.join(limits.PRESETS)}",
                    item=preset,
                )
            config: dict[str, Any] = {"preset": preset}
        else:
            if dimensions is None:
                raise ValidationError("create_index needs dimensions=... (or a preset)")
            check_dimensions(dimensions)
            if metric not in limits.METRICS:
                raise ValidationError(
                    f"metric must be one of {', '.join(limits.METRICS)}, got {metric!r}"
                )
            config = {"dimensions": dimensions, "metric": metric}
        body: dict[str, Any] = {"name": name, "config": config}
        if description is not None:
            body["description"] = description
        return self._req("POST", json=body)

    @staticmethod
    def _expect_config(
        index: Index, dimensions: int | None, metric: Metric, preset: str | None
    ) -> Index:
        want = limits.PRESETS[preset] if preset else (dimensions, metric)
        have = (index.config.dimensions, index.config.metric)
        if want != have:
            raise ValidationError(
                f"index {index.name!r} exists with {have[0]} dimensions and metric {have[1]!r}, "
                f"not the requested {want[0]} / {want[1]!r}",
                item=index.name,
            )
        return index

    def _write_request(self, index: str, kind: WriteKind, chunk: Chunk) -> Request:
        return self._req(
            "POST",
            index,
            kind,
            content=chunk.body,
            headers={"content-type": "application/x-ndjson"},
        )

    @staticmethod
    def _mutation(response: httpx.Response, request: Request) -> Mutation:
        result = envelope_result(response, request)
        mutation = Mutation.model_validate(result)
        mutation.accepted_at = _accepted_at(response)
        return mutation

    def _query_request(
        self,
        index: str,
        vector: Sequence[float] | np.ndarray[Any, Any] | None,
        *,
        vector_id: str | None,
        top_k: int,
        filter: Mapping[str, Any] | None,
        namespace: str | None,
        return_values: bool,
        return_metadata: ReturnMetadata,
    ) -> Request:
        check_top_k(top_k, return_values, return_metadata)
        body: dict[str, Any] = {
            "topK": top_k,
            "returnValues": return_values,
            "returnMetadata": return_metadata,
        }
        if vector_id is not None:
            # Query by id: used by wrangler, not in the published spec (UNCERTAIN).
            body["vectorId"] = check_id(vector_id)
        elif vector is not None:
            body["vector"] = check_values(vector, self._dimensions_cache.get(index), "query")
        else:
            raise ValidationError("query needs a vector or a vector_id")
        if filter:
            body["filter"] = check_filter(filter)
        if namespace is not None:
            body["namespace"] = check_namespace(namespace)
        return self._req("POST", index, "query", json=body)

    @staticmethod
    def _query_result(response: httpx.Response, request: Request) -> QueryResult:
        result = envelope_result(response, request) or {}
        matches = [Match.model_validate(m) for m in result.get("matches", [])]
        return QueryResult(count=int(result.get("count", len(matches))), matches=matches)

    def _ids_request(self, index: str, suffix: str, ids: Sequence[str]) -> Request:
        if isinstance(ids, str):
            raise ValidationError("ids must be a list of strings, not a single string")
        checked = [check_id(v, i) for i, v in enumerate(ids)]
        return self._req("POST", index, suffix, json={"ids": checked})

    def _list_request(self, index: str, count: int, cursor: str | None) -> Request:
        if not 1 <= count <= limits.MAX_LIST_COUNT:
            raise ValidationError(f"count must be 1..{limits.MAX_LIST_COUNT}, got {count}")
        params: dict[str, Any] = {"count": count}
        if cursor:
            params["cursor"] = cursor
        return self._req("GET", index, "list", params=params)

    @staticmethod
    def _id_page(response: httpx.Response, request: Request) -> VectorIdPage:
        result = envelope_result(response, request) or {}
        page = VectorIdPage.model_validate(result)
        page.ids = [v["id"] for v in result.get("vectors", []) if isinstance(v, Mapping)]
        return page

    def _metadata_create_request(self, index: str, property_name: str, index_type: str) -> Request:
        # A dotted path ("author.name") indexes a nested value, which filters reach with the
        # same dotted key. UNCERTAIN: Cloudflare documents dotted keys for filters, not for
        # metadata indexes; we accept them (each segment must be a valid metadata key) and the
        # emulator indexes the nested value.
        parts = property_name.split(".") if isinstance(property_name, str) else [""]
        if (
            not property_name
            or property_name.startswith("$")
            or '"' in property_name
            or not all(parts)
        ):
            raise ValidationError(
                f"metadata index property {property_name!r} must be a property name, or a "
                "dotted path to a nested one ('author.name'), without '\"' or a leading '$'",
                item=property_name,
            )
        if index_type not in limits.METADATA_INDEX_TYPES:
            raise ValidationError(
                f"index_type must be one of {', '.join(limits.METADATA_INDEX_TYPES)}, "
                f"got {index_type!r}",
                item=property_name,
            )
        body = {"propertyName": property_name, "indexType": index_type}
        return self._req("POST", index, "metadata_index/create", json=body)

    def _remember_metadata(self, index: str, found: Sequence[MetadataIndex]) -> dict[str, str]:
        types = {m.property_name: m.index_type for m in found}
        self._metadata_cache[index] = types
        return dict(types)

    @staticmethod
    def _missing_metadata_indexes(
        index: str, existing: Mapping[str, str], wanted: Mapping[str, str]
    ) -> dict[str, str]:
        missing: dict[str, str] = {}
        for prop, kind in wanted.items():
            have = existing.get(prop)
            if have is None:
                missing[prop] = kind
            elif have != kind:
                warnings.warn(
                    f"metadata index {prop!r} of Vectorize index {index!r} is of type {have!r}, "
                    f"not {kind!r}; keeping it (delete and re-create it to change its type)",
                    UserWarning,
                    stacklevel=4,
                )
        return missing

    @staticmethod
    def _check_config(index: Index, dimensions: int | None, metric: Metric | None) -> Index:
        config = index.config
        if (dimensions is not None and config.dimensions != dimensions) or (
            metric is not None and config.metric != metric
        ):
            raise ValidationError(
                f"index {index.name!r} exists with {config.dimensions} dimensions and metric "
                f"{config.metric!r}, not the requested {dimensions or config.dimensions} / "
                f"{(metric or config.metric)!r}",
                item=index.name,
            )
        return index

    @staticmethod
    def _last(mutations: Mutations) -> tuple[str, Any]:
        """The id and acceptance time of the last mutation ("" when there is none)."""
        if mutations is None:
            return "", None
        if isinstance(mutations, WriteResult):
            return mutations.mutation_id or "", mutations.accepted_at
        if isinstance(mutations, Mutation):
            return mutations.mutation_id, mutations.accepted_at
        if isinstance(mutations, str):
            return mutations, None
        if not mutations:
            return "", None
        last = mutations[-1]
        if isinstance(last, str):
            return last, None
        return last.mutation_id, last.accepted_at

    @staticmethod
    def _vectorize_filter(filter: FilterLike) -> tuple[Filter, dict[str, Any] | None]:
        """The filter as a model (to evaluate and check) and as the JSON to send. Vectorize's
        own JSON is sent as written, after :func:`check_filter` (its rules, strictly); a
        :class:`Filter` is merged and translated."""
        if filter is None or isinstance(filter, Filter | Condition):
            model = as_filter(filter)
            return model, model.to_vectorize()
        if not filter:
            return Filter(), None
        raw = check_filter(filter)
        return Filter.from_vectorize(raw), raw

    @staticmethod
    def _refuse_unindexed_delete(index: str, filter: Filter, indexed: Mapping[str, str]) -> None:
        missing = filter.unindexed(indexed)
        if missing:
            raise ValidationError(
                f"cannot delete by a filter on {', '.join(map(repr, missing))}: Vectorize index "
                f"{index!r} has no metadata index on it, so the filter would match nothing (or "
                "everything, for $ne/$nin)",
                item=missing[0],
            )

    @staticmethod
    def _probe(dimensions: int) -> list[float]:
        return [1.0] + [0.0] * (dimensions - 1)

    @staticmethod
    def _selected(
        records: Iterable[VectorRecord],
        filter: Filter,
        namespace: str | None,
        indexed: Mapping[str, str] | None,
    ) -> list[VectorRecord]:
        return [
            r
            for r in records
            if (namespace is None or r.namespace == namespace)
            and (not filter or filter.matches(r.metadata, indexed))
        ]

    @staticmethod
    def _metadata_indexes(response: httpx.Response, request: Request) -> list[MetadataIndex]:
        result = envelope_result(response, request) or {}
        return [MetadataIndex.model_validate(m) for m in result.get("metadataIndexes", [])]

    @staticmethod
    def _mutation_done(info: IndexInfo, mutation_id: str, since: datetime | None) -> bool:
        """Whether ``mutation_id`` is processed: Vectorize reports the LAST processed mutation,
        so the id must match exactly. Only when the caller passes ``since`` (the time its write
        was accepted) may a later processing time stand in for the id — useful when other
        writers keep the index busy, but it assumes in-order processing (UNCERTAIN) and a
        clock-aligned ``Date`` header, so it is opt-in."""
        if info.processed_up_to_mutation == mutation_id:
            return True
        processed = info.processed_up_to_datetime
        if since is not None and processed is not None:
            if processed.tzinfo is None:
                processed = processed.replace(tzinfo=UTC)
            return processed >= since + timedelta(seconds=2)
        return False


def _check_progress(ids: list[str], deleted: Mapping[str, None], index: str) -> None:
    if all(i in deleted for i in ids):
        raise CloudflareError(
            f"Vectorize index {index!r} still returns {len(ids)} vectors whose deletion it "
            "reported as processed; stopping instead of looping"
        )


class _Poll:
    """Backoff between polls of ``info``: quick at first, then every ``ceiling`` seconds."""

    def __init__(self, timeout: float, first: float = 0.05, ceiling: float = 2.0) -> None:
        self.deadline = time.monotonic() + timeout
        self.delay = first
        self.ceiling = ceiling

    def next_delay(self) -> float | None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return None
        delay = min(self.delay, remaining)
        self.delay = min(self.delay * 2, self.ceiling)
        return delay


def _timeout_error(
    index: str, mutation_id: str, timeout: float, info: IndexInfo | None
) -> MutationTimeoutError:
    last = info.processed_up_to_mutation if info else None
    return MutationTimeoutError(
        f"mutation {mutation_id} on index {index!r} was not processed within {timeout:g}s "
        f"(last processed: {last or 'none'})",
        mutation_id=mutation_id,
        last_processed=last,
    )


class VectorizeClient(_VectorizeBase):
    """Synchronous Vectorize v2 client over one pooled :class:`httpx.Client`."""

    def __init__(
        self,
        *,
        account_id: str | None = None,
        api_token: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        http_client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        settings: ClientSettings | None = None,
    ) -> None:
        self.settings = settings or ClientSettings.resolve(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
        )
        self._transport = SyncTransport(self.settings, retry=retry, http_client=http_client)
        self._dimensions_cache = {}
        self._metadata_cache = {}

    def __repr__(self) -> str:
        return f"VectorizeClient({self.settings!r})"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _result(self, request: Request) -> Any:
        return envelope_result(self._transport.send(request), request)

    # --- indexes --------------------------------------------------------------------------
    def create_index(
        self,
        name: str,
        *,
        dimensions: int | None = None,
        metric: Metric = "cosine",
        preset: str | None = None,
        description: str | None = None,
        exist_ok: bool = False,
    ) -> Index:
        """Create an index. With ``exist_ok``, an existing index of the same configuration is
        returned instead (a different configuration is an error naming both)."""
        request = self._create_request(name, dimensions, metric, preset, description)
        try:
            index = Index.model_validate(self._result(request))
        except ConflictError:
            if not exist_ok:
                raise
            index = self._expect_config(self.get_index(name), dimensions, metric, preset)
        self._dimensions_cache[name] = index.config.dimensions
        return index

    def get_index(self, name: str) -> Index:
        index = Index.model_validate(self._result(self._req("GET", name)))
        self._dimensions_cache[name] = index.config.dimensions
        return index

    def list_indexes(self) -> list[Index]:
        return [Index.model_validate(i) for i in self._result(self._req("GET")) or []]

    def delete_index(self, name: str, *, missing_ok: bool = False) -> None:
        try:
            self._result(self._req("DELETE", name))
        except NotFoundError:
            if not missing_ok:
                raise
        self._dimensions_cache.pop(name, None)

    def info(self, name: str) -> IndexInfo:
        return IndexInfo.model_validate(self._result(self._req("GET", name, "info")))

    def dimensions(self, name: str) -> int:
        """The index's dimensions (looked up once, then remembered)."""
        if name not in self._dimensions_cache:
            self.get_index(name)
        return self._dimensions_cache[name]

    # --- writes ---------------------------------------------------------------------------
    def insert(
        self,
        index: str,
        vectors: Iterable[VectorLike],
        *,
        dimensions: int | None = None,
        wait: bool = False,
        wait_timeout: float = 120.0,
    ) -> WriteResult:
        """Insert vectors; ids that already exist keep their stored vector."""
        return self._write("insert", index, vectors, dimensions, wait, wait_timeout)

    def upsert(
        self,
        index: str,
        vectors: Iterable[VectorLike],
        *,
        dimensions: int | None = None,
        wait: bool = False,
        wait_timeout: float = 120.0,
    ) -> WriteResult:
        """Insert or replace vectors (a replaced vector's values and metadata are replaced
        in full). With ``wait``, returns once the writes are searchable."""
        return self._write("upsert", index, vectors, dimensions, wait, wait_timeout)

    def _send_chunk(self, index: str, kind: WriteKind, chunk: Chunk) -> Mutation:
        request = self._write_request(index, kind, chunk)
        return self._mutation(self._transport.send(request), request)

    def _write(
        self,
        kind: WriteKind,
        index: str,
        vectors: Iterable[VectorLike],
        dimensions: int | None,
        wait: bool,
        wait_timeout: float,
    ) -> WriteResult:
        check_index_name(index)
        dims = dimensions if dimensions is not None else self.dimensions(index)
        chunks = chunk_lines(_validated_lines(vectors, dims))
        state = _WriteState()
        in_flight: deque[tuple[Chunk, Future[Mutation]]] = deque()
        limit = self.settings.max_concurrency

        def settle(entry: tuple[Chunk, Future[Mutation]]) -> None:
            chunk, future = entry
            try:
                state.done(chunk, future.result())
            except Exception as exc:
                state.fail(chunk, exc)

        unsent: list[Chunk] = []
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cf-vectorize") as pool:
            iterator = _lookahead(chunks)
            for chunk, last in iterator:
                if state.error is not None:
                    unsent.append(chunk)
                    unsent.extend(c for c, _ in iterator)
                    break
                if last and wait:
                    # Send the final chunk after the others, so its mutation is the last of
                    # this write and waiting for it covers them all.
                    while in_flight:
                        settle(in_flight.popleft())
                    if state.error is not None:
                        unsent.append(chunk)
                        break
                in_flight.append((chunk, pool.submit(self._send_chunk, index, kind, chunk)))
                while len(in_flight) >= limit:
                    settle(in_flight.popleft())
            while in_flight:
                settle(in_flight.popleft())
        result = state.result(kind, unsent)
        if wait:
            self.wait_for_writes(index, result, timeout=wait_timeout)
        return result

    # --- reads ----------------------------------------------------------------------------
    def query(
        self,
        index: str,
        vector: Sequence[float] | np.ndarray[Any, Any] | None = None,
        *,
        vector_id: str | None = None,
        top_k: int = limits.DEFAULT_TOP_K,
        filter: FilterLike = None,
        namespace: str | None = None,
        return_values: bool = False,
        return_metadata: ReturnMetadata = "none",
    ) -> QueryResult:
        """Nearest vectors, best first (highest cosine; lowest euclidean / dot-product).

        ``filter`` is Vectorize's JSON or a :class:`~cloudflare_ai.filters.Filter`; a filter
        on a property without a metadata index warns (``UnindexedFilterWarning``): the
        index's metadata indexes are listed once per client to check."""
        checked, raw = self._vectorize_filter(filter)
        if raw:
            warn_unindexed(checked, self.metadata_index_types(index), index, stacklevel=2)
        request = self._query_request(
            index, vector, vector_id=vector_id, top_k=top_k, filter=raw, namespace=namespace,
            return_values=return_values, return_metadata=return_metadata,
        )  # fmt: skip
        return self._query_result(self._transport.send(request), request)

    def query_many(
        self,
        index: str,
        vectors: Sequence[Sequence[float] | np.ndarray[Any, Any]],
        **options: Any,
    ) -> list[QueryResult]:
        """Several queries at once, sent concurrently within ``max_concurrency``; results in
        input order. ``options`` are those of :meth:`query`."""
        if len(vectors) <= 1:
            return [self.query(index, v, **options) for v in vectors]
        if options.get("filter"):
            self.metadata_index_types(index)  # listed once, before the queries fan out
        workers = min(self.settings.max_concurrency, len(vectors))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cf-query") as pool:
            return list(pool.map(lambda v: self.query(index, v, **options), vectors))

    def get_by_ids(self, index: str, ids: Sequence[str]) -> list[VectorRecord]:
        out: list[VectorRecord] = []
        for start in range(0, len(ids), limits.MAX_IDS_PER_REQUEST):
            part = ids[start : start + limits.MAX_IDS_PER_REQUEST]
            result = self._result(self._ids_request(index, "get_by_ids", part))
            out.extend(VectorRecord.model_validate(r) for r in result or [])
        return out

    def delete_by_ids(
        self, index: str, ids: Sequence[str], *, wait: bool = False, wait_timeout: float = 120.0
    ) -> list[Mutation]:
        """Delete vectors by id (unknown ids are ignored), 1000 per request. With ``wait``,
        returns once the deletion is processed."""
        mutations = []
        for start in range(0, len(ids), limits.MAX_IDS_PER_REQUEST):
            request = self._ids_request(
                index, "delete_by_ids", ids[start : start + limits.MAX_IDS_PER_REQUEST]
            )
            mutations.append(self._mutation(self._transport.send(request), request))
        if wait:
            self.wait_for_writes(index, mutations, timeout=wait_timeout)
        return mutations

    def list_vectors(
        self, index: str, *, count: int = limits.DEFAULT_LIST_COUNT, cursor: str | None = None
    ) -> VectorIdPage:
        request = self._list_request(index, count, cursor)
        return self._id_page(self._transport.send(request), request)

    def iter_ids(self, index: str, *, page_size: int = limits.MAX_LIST_COUNT) -> Iterator[str]:
        """Every vector id in the index, page by page."""
        cursor: str | None = None
        while True:
            page = self.list_vectors(index, count=page_size, cursor=cursor)
            yield from page.ids
            if not page.is_truncated or not page.next_cursor:
                return
            cursor = page.next_cursor

    # --- selecting and deleting by filter ---------------------------------------------------
    def select(
        self,
        index: str,
        filter: FilterLike = None,
        *,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
    ) -> list[VectorRecord]:
        """The vectors (with values and metadata) that ``filter`` selects, evaluated here with
        Vectorize's rules over the indexed properties, in ``namespace`` when given. With
        ``ids``, only those are fetched (in the order asked); without, every id of the index
        is listed: complete, but proportional to the index size."""
        checked, _ = self._vectorize_filter(filter)
        indexed = self.metadata_index_types(index) if checked else None
        if ids is None:
            ids = list(self.iter_ids(index))
        records = self.get_by_ids(index, ids) if ids else []
        return self._selected(records, checked, namespace, indexed)

    def delete_matching(
        self,
        index: str,
        filter: FilterLike = None,
        *,
        namespace: str | None = None,
        wait_timeout: float = 120.0,
    ) -> list[str]:
        """Delete every vector ``filter`` (and ``namespace``) selects; returns their ids.

        Vectorize deletes by id only, so this asks for the matching ids (a filtered query of
        100, no metadata), deletes them, waits until the deletion is processed, and repeats
        until none match; it returns once everything is deleted. A filter on a property
        without a metadata index is refused (it would match nothing, or everything for
        ``$ne``). With neither filter nor namespace, every id of the index is deleted."""
        checked, raw = self._vectorize_filter(filter)
        if not raw and namespace is None:
            ids = list(self.iter_ids(index))
            self.delete_by_ids(index, ids, wait=bool(ids), wait_timeout=wait_timeout)
            return ids
        if raw:
            self._refuse_unindexed_delete(index, checked, self.metadata_index_types(index))
        probe = self._probe(self.dimensions(index))
        deleted: dict[str, None] = {}
        while True:
            found = self.query(
                index, probe, top_k=limits.MAX_TOP_K, filter=checked, namespace=namespace
            )
            ids = [m.id for m in found.matches]
            if not ids:
                return list(deleted)
            _check_progress(ids, deleted, index)
            deleted.update(dict.fromkeys(ids))
            self.delete_by_ids(index, ids, wait=True, wait_timeout=wait_timeout)

    # --- metadata indexes -----------------------------------------------------------------
    def create_metadata_index(
        self,
        index: str,
        property_name: str,
        index_type: str = "string",
        *,
        wait: bool = False,
        wait_timeout: float = 120.0,
    ) -> Mutation:
        """Index a metadata property (or a dotted path to a nested one) for filtering. Only
        vectors written afterwards can be filtered on it. With ``wait``, returns once the
        index exists."""
        request = self._metadata_create_request(index, property_name, index_type)
        mutation = self._mutation(self._transport.send(request), request)
        self._metadata_cache.setdefault(index, {})[property_name] = index_type
        if wait:
            self.wait_for_writes(index, mutation, timeout=wait_timeout)
        return mutation

    def list_metadata_indexes(self, index: str) -> list[MetadataIndex]:
        request = self._req("GET", index, "metadata_index/list")
        found = self._metadata_indexes(self._transport.send(request), request)
        self._remember_metadata(index, found)
        return found

    def metadata_index_types(self, index: str, *, refresh: bool = False) -> dict[str, str]:
        """``{property: index type}`` of the index's metadata indexes (listed once per
        client, kept up to date by this client's create/delete; ``refresh`` lists again)."""
        if refresh or index not in self._metadata_cache:
            self.list_metadata_indexes(index)
        return dict(self._metadata_cache[index])

    def delete_metadata_index(
        self, index: str, property_name: str, *, wait: bool = False, wait_timeout: float = 120.0
    ) -> Mutation:
        request = self._req(
            "POST", index, "metadata_index/delete", json={"propertyName": property_name}
        )
        mutation = self._mutation(self._transport.send(request), request)
        self._metadata_cache.get(index, {}).pop(property_name, None)
        if wait:
            self.wait_for_writes(index, mutation, timeout=wait_timeout)
        return mutation

    def ensure_index(
        self,
        name: str,
        *,
        dimensions: int | None = None,
        metric: Metric | None = None,
        metadata_indexes: Mapping[str, str] | None = None,
        create: bool = True,
        description: str | None = None,
        wait_timeout: float = 120.0,
    ) -> Index:
        """The index, ready for writing: created when missing (with ``create``, which needs
        ``dimensions``; ``metric`` defaults to cosine), checked against ``dimensions`` /
        ``metric`` when given, and with a metadata index for every property of
        ``metadata_indexes`` (``{property: "string" | "number" | "boolean"}``), created
        before returning and waited for, since Vectorize filters only see properties indexed
        before a vector is written."""
        try:
            found = self.get_index(name)
        except NotFoundError:
            if not create:
                raise
            if dimensions is None:
                raise ValidationError(
                    f"Vectorize index {name!r} does not exist; pass dimensions= to create it",
                    item=name,
                ) from None
            found = self.create_index(
                name, dimensions=dimensions, metric=metric or "cosine",
                description=description, exist_ok=True,
            )  # fmt: skip
        self._check_config(found, dimensions, metric)
        existing = self.metadata_index_types(name, refresh=True)
        last: Mutation | None = None
        for prop, kind in self._missing_metadata_indexes(
            name, existing, metadata_indexes or {}
        ).items():
            last = self.create_metadata_index(name, prop, kind)
        if last is not None:
            self.wait_for_writes(name, last, timeout=wait_timeout)
        return found

    # --- consistency ----------------------------------------------------------------------
    def wait_for_mutation(
        self,
        index: str,
        mutation_id: str,
        *,
        timeout: float = 120.0,
        since: datetime | None = None,
    ) -> IndexInfo:
        """Poll ``info`` until ``mutation_id`` is processed; MutationTimeoutError after
        ``timeout`` seconds."""
        poll = _Poll(timeout)
        info: IndexInfo | None = None
        while True:
            info = self.info(index)
            if self._mutation_done(info, mutation_id, since):
                return info
            delay = poll.next_delay()
            if delay is None:
                raise _timeout_error(index, mutation_id, timeout, info)
            time.sleep(delay)

    def wait_for_writes(
        self,
        index: str,
        mutations: Mutations,
        *,
        timeout: float = 120.0,
    ) -> IndexInfo | None:
        """Wait until the last of ``mutations`` (a write's result, one mutation or several,
        in the order sent) is processed; None when there was nothing to wait for."""
        mutation_id, accepted_at = self._last(mutations)
        if not mutation_id:
            return None
        return self.wait_for_mutation(index, mutation_id, timeout=timeout, since=accepted_at)


class AsyncVectorizeClient(_VectorizeBase):
    """Asynchronous Vectorize v2 client over one pooled :class:`httpx.AsyncClient`."""

    def __init__(
        self,
        *,
        account_id: str | None = None,
        api_token: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        settings: ClientSettings | None = None,
    ) -> None:
        self.settings = settings or ClientSettings.resolve(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
        )
        self._transport = AsyncTransport(self.settings, retry=retry, http_client=http_client)
        self._dimensions_cache = {}
        self._metadata_cache = {}

    def __repr__(self) -> str:
        return f"AsyncVectorizeClient({self.settings!r})"

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _result(self, request: Request) -> Any:
        return envelope_result(await self._transport.send(request), request)

    async def create_index(
        self,
        name: str,
        *,
        dimensions: int | None = None,
        metric: Metric = "cosine",
        preset: str | None = None,
        description: str | None = None,
        exist_ok: bool = False,
    ) -> Index:
        request = self._create_request(name, dimensions, metric, preset, description)
        try:
            index = Index.model_validate(await self._result(request))
        except ConflictError:
            if not exist_ok:
                raise
            index = self._expect_config(await self.get_index(name), dimensions, metric, preset)
        self._dimensions_cache[name] = index.config.dimensions
        return index

    async def get_index(self, name: str) -> Index:
        index = Index.model_validate(await self._result(self._req("GET", name)))
        self._dimensions_cache[name] = index.config.dimensions
        return index

    async def list_indexes(self) -> list[Index]:
        return [Index.model_validate(i) for i in await self._result(self._req("GET")) or []]

    async def delete_index(self, name: str, *, missing_ok: bool = False) -> None:
        try:
            await self._result(self._req("DELETE", name))
        except NotFoundError:
            if not missing_ok:
                raise
        self._dimensions_cache.pop(name, None)

    async def info(self, name: str) -> IndexInfo:
        return IndexInfo.model_validate(await self._result(self._req("GET", name, "info")))

    async def dimensions(self, name: str) -> int:
        if name not in self._dimensions_cache:
            await self.get_index(name)
        return self._dimensions_cache[name]

    async def insert(
        self,
        index: str,
        vectors: Iterable[VectorLike],
        *,
        dimensions: int | None = None,
        wait: bool = False,
        wait_timeout: float = 120.0,
    ) -> WriteResult:
        return await self._write("insert", index, vectors, dimensions, wait, wait_timeout)

    async def upsert(
        self,
        index: str,
        vectors: Iterable[VectorLike],
        *,
        dimensions: int | None = None,
        wait: bool = False,
        wait_timeout: float = 120.0,
    ) -> WriteResult:
        return await self._write("upsert", index, vectors, dimensions, wait, wait_timeout)

    async def _send_chunk(self, index: str, kind: WriteKind, chunk: Chunk) -> Mutation:
        request = self._write_request(index, kind, chunk)
        return self._mutation(await self._transport.send(request), request)

    async def _write(
        self,
        kind: WriteKind,
        index: str,
        vectors: Iterable[VectorLike],
        dimensions: int | None,
        wait: bool,
        wait_timeout: float,
    ) -> WriteResult:
        check_index_name(index)
        dims = dimensions if dimensions is not None else await self.dimensions(index)
        chunks = chunk_lines(_validated_lines(vectors, dims))
        state = _WriteState()
        in_flight: deque[tuple[Chunk, asyncio.Task[Mutation]]] = deque()
        limit = self.settings.max_concurrency

        async def settle(entry: tuple[Chunk, asyncio.Task[Mutation]]) -> None:
            chunk, task = entry
            try:
                state.done(chunk, await task)
            except Exception as exc:
                state.fail(chunk, exc)

        unsent: list[Chunk] = []
        iterator = _lookahead(chunks)
        try:
            for chunk, last in iterator:
                if state.error is not None:
                    unsent.append(chunk)
                    unsent.extend(c for c, _ in iterator)
                    break
                if last and wait:
                    while in_flight:
                        await settle(in_flight.popleft())
                    if state.error is not None:
                        unsent.append(chunk)
                        break
                task = asyncio.create_task(self._send_chunk(index, kind, chunk))
                in_flight.append((chunk, task))
                while len(in_flight) >= limit:
                    await settle(in_flight.popleft())
            while in_flight:
                await settle(in_flight.popleft())
        finally:
            for _, task in in_flight:
                task.cancel()
        result = state.result(kind, unsent)
        if wait:
            await self.wait_for_writes(index, result, timeout=wait_timeout)
        return result

    async def query(
        self,
        index: str,
        vector: Sequence[float] | np.ndarray[Any, Any] | None = None,
        *,
        vector_id: str | None = None,
        top_k: int = limits.DEFAULT_TOP_K,
        filter: FilterLike = None,
        namespace: str | None = None,
        return_values: bool = False,
        return_metadata: ReturnMetadata = "none",
    ) -> QueryResult:
        """Nearest vectors, best first (highest cosine; lowest euclidean / dot-product).

        ``filter`` is Vectorize's JSON or a :class:`~cloudflare_ai.filters.Filter`; a filter
        on a property without a metadata index warns (``UnindexedFilterWarning``): the
        index's metadata indexes are listed once per client to check."""
        checked, raw = self._vectorize_filter(filter)
        if raw:
            warn_unindexed(checked, await self.metadata_index_types(index), index, stacklevel=2)
        request = self._query_request(
            index, vector, vector_id=vector_id, top_k=top_k, filter=raw, namespace=namespace,
            return_values=return_values, return_metadata=return_metadata,
        )  # fmt: skip
        return self._query_result(await self._transport.send(request), request)

    async def query_many(
        self,
        index: str,
        vectors: Sequence[Sequence[float] | np.ndarray[Any, Any]],
        **options: Any,
    ) -> list[QueryResult]:
        """Several queries at once, concurrently within ``max_concurrency``, in input order."""
        if options.get("filter"):
            await self.metadata_index_types(index)  # listed once, before the queries fan out
        limit = asyncio.Semaphore(self.settings.max_concurrency)

        async def one(vector: Sequence[float] | np.ndarray[Any, Any]) -> QueryResult:
            async with limit:
                return await self.query(index, vector, **options)

        return list(await asyncio.gather(*(one(v) for v in vectors)))

    async def get_by_ids(self, index: str, ids: Sequence[str]) -> list[VectorRecord]:
        out: list[VectorRecord] = []
        for start in range(0, len(ids), limits.MAX_IDS_PER_REQUEST):
            part = ids[start : start + limits.MAX_IDS_PER_REQUEST]
            result = await self._result(self._ids_request(index, "get_by_ids", part))
            out.extend(VectorRecord.model_validate(r) for r in result or [])
        return out

    async def delete_by_ids(
        self, index: str, ids: Sequence[str], *, wait: bool = False, wait_timeout: float = 120.0
    ) -> list[Mutation]:
        """Delete vectors by id (unknown ids are ignored), 1000 per request. With ``wait``,
        returns once the deletion is processed."""
        mutations = []
        for start in range(0, len(ids), limits.MAX_IDS_PER_REQUEST):
            request = self._ids_request(
                index, "delete_by_ids", ids[start : start + limits.MAX_IDS_PER_REQUEST]
            )
            mutations.append(self._mutation(await self._transport.send(request), request))
        if wait:
            await self.wait_for_writes(index, mutations, timeout=wait_timeout)
        return mutations

    async def list_vectors(
        self, index: str, *, count: int = limits.DEFAULT_LIST_COUNT, cursor: str | None = None
    ) -> VectorIdPage:
        request = self._list_request(index, count, cursor)
        return self._id_page(await self._transport.send(request), request)

    async def iter_ids(
        self, index: str, *, page_size: int = limits.MAX_LIST_COUNT
    ) -> AsyncIterator[str]:
        """Every vector id in the index, page by page."""
        cursor: str | None = None
        while True:
            page = await self.list_vectors(index, count=page_size, cursor=cursor)
            for vector_id in page.ids:
                yield vector_id
            if not page.is_truncated or not page.next_cursor:
                return
            cursor = page.next_cursor

    # --- selecting and deleting by filter ---------------------------------------------------
    async def select(
        self,
        index: str,
        filter: FilterLike = None,
        *,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
    ) -> list[VectorRecord]:
        """The vectors (with values and metadata) that ``filter`` selects, evaluated here with
        Vectorize's rules over the indexed properties, in ``namespace`` when given. With
        ``ids``, only those are fetched (in the order asked); without, every id of the index
        is listed: complete, but proportional to the index size."""
        checked, _ = self._vectorize_filter(filter)
        indexed = await self.metadata_index_types(index) if checked else None
        if ids is None:
            ids = [i async for i in self.iter_ids(index)]
        records = await self.get_by_ids(index, ids) if ids else []
        return self._selected(records, checked, namespace, indexed)

    async def delete_matching(
        self,
        index: str,
        filter: FilterLike = None,
        *,
        namespace: str | None = None,
        wait_timeout: float = 120.0,
    ) -> list[str]:
        """Delete every vector ``filter`` (and ``namespace``) selects; returns their ids.

        Vectorize deletes by id only, so this asks for the matching ids (a filtered query of
        100, no metadata), deletes them, waits until the deletion is processed, and repeats
        until none match; it returns once everything is deleted. A filter on a property
        without a metadata index is refused (it would match nothing, or everything for
        ``$ne``). With neither filter nor namespace, every id of the index is deleted."""
        checked, raw = self._vectorize_filter(filter)
        if not raw and namespace is None:
            ids = [i async for i in self.iter_ids(index)]
            await self.delete_by_ids(index, ids, wait=bool(ids), wait_timeout=wait_timeout)
            return ids
        if raw:
            self._refuse_unindexed_delete(index, checked, await self.metadata_index_types(index))
        probe = self._probe(await self.dimensions(index))
        deleted: dict[str, None] = {}
        while True:
            found = await self.query(
                index, probe, top_k=limits.MAX_TOP_K, filter=checked, namespace=namespace
            )
            ids = [m.id for m in found.matches]
            if not ids:
                return list(deleted)
            _check_progress(ids, deleted, index)
            deleted.update(dict.fromkeys(ids))
            await self.delete_by_ids(index, ids, wait=True, wait_timeout=wait_timeout)

    # --- metadata indexes -----------------------------------------------------------------
    async def create_metadata_index(
        self,
        index: str,
        property_name: str,
        index_type: str = "string",
        *,
        wait: bool = False,
        wait_timeout: float = 120.0,
    ) -> Mutation:
        """Index a metadata property (or a dotted path to a nested one) for filtering. Only
        vectors written afterwards can be filtered on it. With ``wait``, returns once the
        index exists."""
        request = self._metadata_create_request(index, property_name, index_type)
        mutation = self._mutation(await self._transport.send(request), request)
        self._metadata_cache.setdefault(index, {})[property_name] = index_type
        if wait:
            await self.wait_for_writes(index, mutation, timeout=wait_timeout)
        return mutation

    async def list_metadata_indexes(self, index: str) -> list[MetadataIndex]:
        request = self._req("GET", index, "metadata_index/list")
        found = self._metadata_indexes(await self._transport.send(request), request)
        self._remember_metadata(index, found)
        return found

    async def metadata_index_types(self, index: str, *, refresh: bool = False) -> dict[str, str]:
        """``{property: index type}`` of the index's metadata indexes (listed once per
        client, kept up to date by this client's create/delete; ``refresh`` lists again)."""
        if refresh or index not in self._metadata_cache:
            await self.list_metadata_indexes(index)
        return dict(self._metadata_cache[index])

    async def delete_metadata_index(
        self, index: str, property_name: str, *, wait: bool = False, wait_timeout: float = 120.0
    ) -> Mutation:
        request = self._req(
            "POST", index, "metadata_index/delete", json={"propertyName": property_name}
        )
        mutation = self._mutation(await self._transport.send(request), request)
        self._metadata_cache.get(index, {}).pop(property_name, None)
        if wait:
            await self.wait_for_writes(index, mutation, timeout=wait_timeout)
        return mutation

    async def ensure_index(
        self,
        name: str,
        *,
        dimensions: int | None = None,
        metric: Metric | None = None,
        metadata_indexes: Mapping[str, str] | None = None,
        create: bool = True,
        description: str | None = None,
        wait_timeout: float = 120.0,
    ) -> Index:
        """The index, ready for writing: created when missing (with ``create``, which needs
        ``dimensions``; ``metric`` defaults to cosine), checked against ``dimensions`` /
        ``metric`` when given, and with a metadata index for every property of
        ``metadata_indexes`` (``{property: "string" | "number" | "boolean"}``), created
        before returning and waited for, since Vectorize filters only see properties indexed
        before a vector is written."""
        try:
            found = await self.get_index(name)
        except NotFoundError:
            if not create:
                raise
            if dimensions is None:
                raise ValidationError(
                    f"Vectorize index {name!r} does not exist; pass dimensions= to create it",
                    item=name,
                ) from None
            found = await self.create_index(
                name, dimensions=dimensions, metric=metric or "cosine",
                description=description, exist_ok=True,
            )  # fmt: skip
        self._check_config(found, dimensions, metric)
        existing = await self.metadata_index_types(name, refresh=True)
        last: Mutation | None = None
        for prop, kind in self._missing_metadata_indexes(
            name, existing, metadata_indexes or {}
        ).items():
            last = await self.create_metadata_index(name, prop, kind)
        if last is not None:
            await self.wait_for_writes(name, last, timeout=wait_timeout)
        return found

    # --- consistency ----------------------------------------------------------------------
    async def wait_for_mutation(
        self,
        index: str,
        mutation_id: str,
        *,
        timeout: float = 120.0,
        since: datetime | None = None,
    ) -> IndexInfo:
        """Poll ``info`` until ``mutation_id`` is processed; MutationTimeoutError after
        ``timeout`` seconds."""
        poll = _Poll(timeout)
        info: IndexInfo | None = None
        while True:
            info = await self.info(index)
            if self._mutation_done(info, mutation_id, since):
                return info
            delay = poll.next_delay()
            if delay is None:
                raise _timeout_error(index, mutation_id, timeout, info)
            await asyncio.sleep(delay)

    async def wait_for_writes(
        self,
        index: str,
        mutations: Mutations,
        *,
        timeout: float = 120.0,
    ) -> IndexInfo | None:
        """Wait until the last of ``mutations`` (a write's result, one mutation or several,
        in the order sent) is processed; None when there was nothing to wait for."""
        mutation_id, accepted_at = self._last(mutations)
        if not mutation_id:
            return None
        return await self.wait_for_mutation(index, mutation_id, timeout=timeout, since=accepted_at)


__all__ = [
    "APIError",
    "AsyncVectorizeClient",
    "Metric",
    "Vector",
    "VectorizeClient",
]
