"""Vectorize v2 REST endpoints: request parsing and validation against ``limits``, then the
store. Every failure is a Cloudflare envelope with a code from ``errors``."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from cloudflare_ai import limits

from . import errors
from .errors import ApiError
from .filters import compile_filter, nest
from .vector_parse import parse_vectors
from .vector_store import NewVector, VectorStore

_NAME = re.compile(limits.INDEX_NAME_PATTERN)
_CURSOR_TTL = timedelta(hours=1)


def _bad(detail: str, error: errors.ErrorCode = errors.BAD_REQUEST) -> ApiError:
    return ApiError(error, detail=detail)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ApiError(errors.BAD_JSON)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(errors.BAD_JSON) from exc


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    return body


def _byte_len(text: str) -> int:
    return len(text.encode())


class VectorizeApi:
    """Handlers bound to one store. Each returns the envelope's ``result`` payload."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store

    def _index(self, name: str) -> Any:
        state = self.store.get(name)
        if state is None:
            raise ApiError(errors.INDEX_NOT_FOUND, name=name)
        return state

    # --- indexes ---------------------------------------------------------------------------

    async def create_index(self, request: Request) -> dict[str, Any]:
        body = await json_object(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise ApiError(errors.INVALID_INDEX_NAME, detail="'name' is required")
        if _byte_len(name) > limits.MAX_INDEX_NAME_BYTES:
            raise ApiError(
                errors.INVALID_INDEX_NAME,
                detail=f"{name[:20]!r}... is longer than {limits.MAX_INDEX_NAME_BYTES} bytes",
            )
        if not _NAME.match(name):
            raise ApiError(
                errors.INVALID_INDEX_NAME,
                detail=f"{name!r} must match {limits.INDEX_NAME_PATTERN}",
            )
        description = body.get("description", "")
        if not isinstance(description, str):
            raise ApiError(errors.INVALID_CONFIG, detail="'description' must be a string")
        config = body.get("config")
        if not isinstance(config, dict):
            raise ApiError(errors.INVALID_CONFIG, detail="'config' is required")
        if "preset" in config:
            preset = config["preset"]
            if preset not in limits.PRESETS:
                raise ApiError(
                    errors.INVALID_CONFIG,
                    detail=f"unknown preset {preset!r}; use one of {sorted(limits.PRESETS)}",
                )
            dimensions, metric = limits.PRESETS[preset]
        else:
            dimensions, metric = config.get("dimensions", 0), str(config.get("metric"))
            if (
                not isinstance(dimensions, int)
                or isinstance(dimensions, bool)
                or not limits.MIN_DIMENSIONS <= dimensions <= limits.MAX_DIMENSIONS
            ):
                raise ApiError(
                    errors.INVALID_CONFIG,
                    detail=f"dimensions must be an integer from {limits.MIN_DIMENSIONS} to "
                    f"{limits.MAX_DIMENSIONS}",
                )
            if metric not in limits.METRICS:
                raise ApiError(
                    errors.INVALID_CONFIG, detail=f"metric must be one of {list(limits.METRICS)}"
                )
        if self.store.get(name) is not None:
            raise ApiError(errors.INDEX_EXISTS, name=name)
        return self.store.create_index(name, dimensions, str(metric), description).describe()

    async def list_indexes(self, request: Request) -> list[dict[str, Any]]:
        self.store.apply_due()
        return [s.describe() for s in sorted(self.store.indexes.values(), key=lambda s: s.name)]

    async def get_index(self, request: Request, name: str) -> dict[str, Any]:
        return dict(self._index(name).describe())

    async def delete_index(self, request: Request, name: str) -> None:
        self._index(name)
        self.store.delete_index(name)

    async def info(self, request: Request, name: str) -> dict[str, Any]:
        state = self._index(name)
        return {
            "dimensions": state.dimensions,
            "vectorCount": len(state.vectors),
            "processedUpToDatetime": state.processed_at,
            "processedUpToMutation": state.processed_mutation,
        }

    # --- writes ----------------------------------------------------------------------------

    async def _ndjson(self, request: Request) -> bytes:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            form = await request.form(max_part_size=limits.MAX_WRITE_BYTES)
            part = form.get("vectors")
            if isinstance(part, UploadFile):
                data = await part.read()
            elif isinstance(part, str):
                data = part.encode()
            else:
                raise _bad("multipart body needs a file part named 'vectors'")
        else:
            data = await request.body()
        if len(data) > limits.MAX_WRITE_BYTES:
            raise ApiError(errors.REQUEST_TOO_LARGE)
        return data

    def _parse_vectors(self, data: bytes, dims: int, discard: bool) -> list[NewVector]:
        return parse_vectors(data, dims, discard)

    async def write(self, request: Request, name: str, replace: bool) -> dict[str, Any]:
        state = self._index(name)
        behaviour = request.query_params.get("unparsable-behavior", "error")
        if behaviour not in ("error", "discard"):
            raise _bad("unparsable-behavior must be 'error' or 'discard'")
        data = await self._ndjson(request)
        vectors = self._parse_vectors(data, state.dimensions, behaviour == "discard")
        return {"mutationId": self.store.write(name, vectors, replace=replace)}

    async def insert(self, request: Request, name: str) -> dict[str, Any]:
        return await self.write(request, name, replace=False)

    async def upsert(self, request: Request, name: str) -> dict[str, Any]:
        return await self.write(request, name, replace=True)

    # --- reads -----------------------------------------------------------------------------

    async def query(self, request: Request, name: str) -> dict[str, Any]:
        state = self._index(name)
        body = await json_object(request)
        return_values = body.get("returnValues", False)
        if not isinstance(return_values, bool):
            raise _bad("returnValues must be a boolean")
        return_metadata = body.get("returnMetadata", "none")
        if isinstance(return_metadata, bool):  # v1 style, still sent by some clients
            return_metadata = "all" if return_metadata else "none"
        if return_metadata not in ("none", "indexed", "all"):
            raise ApiError(
                errors.INVALID_RETURN_METADATA,
                detail="returnMetadata must be one of 'none', 'indexed', 'all'",
            )
        cap = (
            limits.MAX_TOP_K_WITH_VALUES_OR_METADATA
            if return_values or return_metadata == "all"
            else limits.MAX_TOP_K
        )
        top_k = body.get("topK", limits.DEFAULT_TOP_K)
        if isinstance(top_k, float) and top_k.is_integer():
            top_k = int(top_k)
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= cap:
            raise ApiError(
                errors.INVALID_TOP_K,
                detail=f"topK must be an integer from 1 to {cap} "
                "(50 when returnValues is true or returnMetadata is 'all')",
            )
        namespace = body.get("namespace")
        if namespace is not None and not isinstance(namespace, str):
            raise _bad("namespace must be a string")
        predicate = compile_filter(body["filter"]) if body.get("filter") is not None else None
        if "vectorId" in body and "vector" not in body:
            vid = body["vectorId"]
            if not isinstance(vid, str):
                raise _bad("vectorId must be a string")
            found = self.store.vector_values(name, vid)
            if found is None:
                raise ApiError(errors.VECTOR_NOT_FOUND, detail=f'vector "{vid}" not found')
            vector = found
        else:
            raw = body.get("vector")
            if not isinstance(raw, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in raw
            ):
                raise ApiError(errors.INVALID_VECTOR, detail="'vector' must be an array of numbers")
            if len(raw) != state.dimensions:
                raise ApiError(
                    errors.DIMENSION_MISMATCH, id="query", expected=state.dimensions, got=len(raw)
                )
            vector = np.asarray(raw, dtype=np.float32)
            if not np.isfinite(vector).all():
                raise ApiError(errors.INVALID_VECTOR, detail="'vector' must be finite numbers")
        matches = self.store.query(name, vector, top_k, namespace, predicate)
        out = []
        for m in matches:
            item: dict[str, Any] = {"id": m.record.id, "score": m.score}
            if return_values:
                item["values"] = m.values
            if return_metadata == "all":
                item["metadata"] = m.record.metadata or {}
            elif return_metadata == "indexed":
                item["metadata"] = nest(m.record.indexed)
            if m.record.namespace is not None:
                item["namespace"] = m.record.namespace
            out.append(item)
        return {"count": len(out), "matches": out}

    def _ids(self, body: dict[str, Any]) -> list[str]:
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(errors.INVALID_ID, detail="'ids' must be an array of strings")
        if len(ids) > limits.MAX_IDS_PER_REQUEST:
            raise ApiError(
                errors.INVALID_ID, detail=f"at most {limits.MAX_IDS_PER_REQUEST} ids per request"
            )
        for i in ids:
            if _byte_len(i) > limits.MAX_ID_BYTES:
                raise ApiError(
                    errors.INVALID_ID, detail=f'id "{i[:20]}..." is longer than 64 bytes'
                )
        return ids

    async def get_by_ids(self, request: Request, name: str) -> list[dict[str, Any]]:
        self._index(name)
        ids = self._ids(await json_object(request))
        out = []
        for r, values in self.store.get_ids(name, ids):
            item: dict[str, Any] = {"id": r.id, "values": values, "metadata": r.metadata or {}}
            if r.namespace is not None:
                item["namespace"] = r.namespace
            out.append(item)
        return out

    async def delete_by_ids(self, request: Request, name: str) -> dict[str, Any]:
        self._index(name)
        ids = self._ids(await json_object(request))
        return {"mutationId": self.store.delete_ids(name, ids)}

    async def list_vectors(self, request: Request, name: str) -> dict[str, Any]:
        self._index(name)
        raw_count = request.query_params.get("count", str(limits.DEFAULT_LIST_COUNT))
        try:
            count = int(raw_count)
        except ValueError:
            count = -1
        if not 1 <= count <= limits.MAX_LIST_COUNT:
            raise _bad(f"count must be an integer from 1 to {limits.MAX_LIST_COUNT}")
        cursor = request.query_params.get("cursor")
        after = _decode_cursor(cursor) if cursor else None
        page, total, truncated = self.store.list_ids(name, count, after)
        expires = datetime.now(UTC) + _CURSOR_TTL
        return {
            "count": len(page),
            "totalCount": total,
            "isTruncated": truncated,
            "nextCursor": _encode_cursor(page[-1]) if truncated and page else None,
            "cursorExpirationTimestamp": (
                expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                if truncated
                else None
            ),
            "vectors": [{"id": i} for i in page],
        }

    # --- metadata indexes ------------------------------------------------------------------

    async def create_metadata_index(self, request: Request, name: str) -> dict[str, Any]:
        self._index(name)
        body = await json_object(request)
        prop, kind = body.get("propertyName"), body.get("indexType")
        if not isinstance(prop, str) or not prop or prop.startswith("$") or '"' in prop:
            raise _bad("propertyName must be a non-empty string not starting with '$'")
        if kind not in limits.METADATA_INDEX_TYPES:
            raise _bad(f"indexType must be one of {list(limits.METADATA_INDEX_TYPES)}")
        existing = self.store.metadata_indexes(name)
        if prop in existing:
            raise ApiError(
                errors.METADATA_INDEX_EXISTS, detail=f"metadata index {prop!r} already exists"
            )
        if len(existing) >= limits.MAX_METADATA_INDEXES:
            raise ApiError(
                errors.METADATA_INDEX_LIMIT,
                detail=f"an index can have at most {limits.MAX_METADATA_INDEXES} metadata indexes",
            )
        return {"mutationId": self.store.create_metadata_index(name, prop, str(kind))}

    async def list_metadata_indexes(self, request: Request, name: str) -> dict[str, Any]:
        self._index(name)
        return {
            "metadataIndexes": [
                {"propertyName": p, "indexType": t}
                for p, t in sorted(self.store.metadata_indexes(name).items())
            ]
        }

    async def delete_metadata_index(self, request: Request, name: str) -> dict[str, Any]:
        self._index(name)
        body = await json_object(request)
        prop = body.get("propertyName")
        if not isinstance(prop, str) or not prop:
            raise _bad("propertyName must be a non-empty string")
        if prop not in self.store.metadata_indexes(name):
            raise ApiError(
                errors.METADATA_INDEX_MISSING, detail=f"metadata index {prop!r} does not exist"
            )
        return {"mutationId": self.store.delete_metadata_index(name, prop)}


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(errors.INVALID_CURSOR, detail="invalid cursor") from exc
