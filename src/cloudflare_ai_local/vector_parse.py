"""Parsing and validation of Vectorize insert/upsert NDJSON bodies.

Two implementations with the same contract (the same vectors out, the same ``ApiError``
for the same bad input):

* ``parse_vectors`` is the one the emulator uses. The cost that dominated a 5000 x 768
  request was turning 3.8 million numbers into Python floats (orjson) and packing them into
  float32 (``struct.pack``). Now simdjson reads each line's ``values`` array straight into
  a float64 buffer (no Python object per number), which numpy casts into the request's
  float32 matrix; orjson reads only the rest of the line (id, namespace, metadata: about a
  hundred bytes) with the array cut out. Any line whose raw text is not plainly
  ``"values": [numbers]`` (escapes, a second ``"values"`` token, non-numbers, numbers
  simdjson refuses such as integers beyond 64 bits) goes through the reference checks, so
  the answer, and every error message, stays the reference's. The body is walked with
  offsets: the only copies are the array text handed to simdjson and the short rest.
* ``parse_vectors_reference`` is the straightforward version (the emulator's original
  algorithm), kept as the specification that tests compare the fast path against.

JSON errors (and their messages) are orjson's in both. Measured on a 5000 x 768 body with
a little metadata per line (42 MB), on a 2-core machine that other work shared, so CPU
time, best of 7: orjson plus ``struct.pack`` 336 ms, this version 169 to 194 ms, of which
simdjson's number parsing is about 100 ms and the rest is per-line Python. Over HTTP
(uvicorn in a child process, as ``benchmarks/harness.py`` runs it) the server's CPU time per
5000-vector upsert went from 640-730 ms to 390-425 ms: about half parsing, a third
receiving the body (uvicorn and Starlette), a tenth the store. Rejected earlier:
``np.fromstring(sep=",")`` 750 ms, ``np.loadtxt`` 700 ms, ``np.array(blob.split(b","))``
970 ms; and with simdjson, one parse of the whole body wrapped as a JSON array was twice as
slow as one parse per line.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import simdjson

from cloudflare_ai import limits

from . import errors
from .errors import ApiError
from .vector_store import NewVector

_BLANK = frozenset(b" \t\n\r\x0b\x0c")
_SPACE = (b" ", b"\t")
_LOOKED_AT = (dict, list, float)  # metadata values that need a check (see check_metadata)
_VALUES_KEY = b'"values"'


def _byte_len(text: str) -> int:
    return len(text.encode())


def check_metadata(vid: str, meta: Any) -> None:
    """Raise ``INVALID_METADATA`` unless ``meta`` is an object Vectorize accepts."""
    if not isinstance(meta, dict):
        raise ApiError(
            errors.INVALID_METADATA, detail=f'vector "{vid}": metadata must be an object'
        )
    size = len(orjson.dumps(meta))
    if size > limits.MAX_METADATA_BYTES:
        raise ApiError(
            errors.INVALID_METADATA,
            detail=f'vector "{vid}": metadata is {size} bytes, over {limits.MAX_METADATA_BYTES}',
        )
    # Depth first, last child first. Only what needs a look is stacked (containers and
    # floats; strings, ints, booleans and nulls need none), which finds the same first
    # problem as stacking every value would.
    stack: list[Any] = [meta]
    while stack:
        node = stack.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                raise ApiError(errors.INVALID_METADATA, detail=f'vector "{vid}": non-finite number')
            continue
        if isinstance(node, dict):
            for key in node:
                if not key or key[0] == "$" or "." in key or '"' in key:
                    raise ApiError(
                        errors.INVALID_METADATA,
                        detail=f'vector "{vid}": invalid metadata key {key!r}',
                    )
            children = node.values()
        else:
            children = node
        for value in children:
            if isinstance(value, _LOOKED_AT):
                stack.append(value)


def values_array(vid: str, values: Any) -> npt.NDArray[np.float32]:
    """``values`` checked number by number (no booleans) and converted to float32."""
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise ApiError(
            errors.INVALID_VECTOR, detail=f"vector \"{vid}\": 'values' must be an array of numbers"
        )
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float32)


def _check_id(number: int, vid: Any) -> str:
    if not isinstance(vid, str) or not vid:
        raise ApiError(errors.INVALID_ID, detail=f"line {number}: 'id' must be a string")
    if len(vid) * 4 > limits.MAX_ID_BYTES and _byte_len(vid) > limits.MAX_ID_BYTES:
        raise ApiError(
            errors.INVALID_ID,
            detail=f'id "{vid[:20]}..." is longer than {limits.MAX_ID_BYTES} bytes',
        )
    return vid


def _check_namespace(vid: str, ns: Any) -> str | None:
    if ns is not None and (not isinstance(ns, str) or not ns):
        raise ApiError(errors.INVALID_NAMESPACE, detail=f'vector "{vid}": bad namespace')
    if isinstance(ns, str) and _byte_len(ns) > limits.MAX_NAMESPACE_BYTES:
        raise ApiError(
            errors.INVALID_NAMESPACE,
            detail=f'vector "{vid}": namespace longer than {limits.MAX_NAMESPACE_BYTES} bytes',
        )
    return ns


def _too_many() -> ApiError:
    return ApiError(
        errors.TOO_MANY_VECTORS,
        detail=f"at most {limits.MAX_VECTORS_PER_WRITE} vectors per request",
    )


def _unparsable(number: int, exc: Exception) -> ApiError:
    return ApiError(errors.UNPARSABLE, detail=f"unparsable NDJSON on line {number}: {exc}")


def _first_non_finite(ids: list[str], matrix: npt.NDArray[np.float32]) -> None:
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        bad = ids[int(np.argmin(finite))]
        raise ApiError(
            errors.INVALID_VECTOR,
            detail=f'vector "{bad}": values must be finite float32 numbers',
        )


# --- the fast path ---------------------------------------------------------------------------


def _lines(data: bytes) -> list[tuple[bytes, int, int]]:
    """The lines of ``data`` exactly as ``bytes.splitlines`` cuts them, as (buffer, start,
    stop) so that nothing is copied when the body has no carriage return (the usual case)."""
    if b"\r" in data:
        return [(line, 0, len(line)) for line in data.splitlines()]
    out: list[tuple[bytes, int, int]] = []
    start, end = 0, len(data)
    while start < end:
        stop = data.find(b"\n", start)
        if stop < 0:
            stop = end
        out.append((data, start, stop))
        start = stop + 1
    return out


def _values_span(buf: bytes, start: int, stop: int) -> tuple[int, int] | None:
    """Where the line's ``values`` array sits: the offsets of its ``[`` and of the first
    ``]`` after it, or None when the raw text does not say so unambiguously.

    The text is trusted only when it cannot mislead: no backslash outside the span (so no
    key is escaped and no string hides a quote) and no other ``"values"`` token outside it,
    the token followed by a colon and ``[``. Inside the span neither can occur once
    ``_numbers`` accepts it (numbers only). Whether the token is the top-level key, the
    caller checks by parsing the rest of the line (see ``parse_vectors``). Only the short
    text around the array is searched, never the array itself.
    """
    key = buf.find(_VALUES_KEY, start, stop)
    if key < 0:
        return None
    pos = key + len(_VALUES_KEY)
    if buf[pos : pos + 2] == b":[":  # as clients write it
        pos += 1
    else:
        while buf[pos : pos + 1] in _SPACE:
            pos += 1
        if buf[pos : pos + 1] != b":":
            return None
        pos += 1
        while buf[pos : pos + 1] in _SPACE:
            pos += 1
        if buf[pos : pos + 1] != b"[":
            return None
    closing = buf.find(b"]", pos, stop)
    if (
        closing < 0
        or buf.find(b"\\", start, pos) >= 0
        or buf.find(b"\\", closing, stop) >= 0
        or buf.find(_VALUES_KEY, closing, stop) >= 0
    ):
        return None
    return pos, closing


def _numbers(parser: simdjson.Parser, text: bytes) -> npt.NDArray[np.float64] | None:
    """``text`` (``[`` ... the first ``]``) as float64 when it is a JSON array of numbers only
    that orjson would read to the same doubles; None otherwise (the caller then takes the
    reference route, which gives the exact answer or error).

    simdjson rejects every number text orjson rejects, and reads the ones both accept to
    the same double (both round correctly; ``-0`` is the integer 0 in both). It also
    rejects some orjson accepts (integers beyond 64 bits, which orjson reads as floats):
    those lines, like non-numbers (``as_buffer`` raises ``TypeError``), go the slow way. A
    nested array cannot pass, since the span ends at the first ``]``.
    """
    try:
        doc = parser.parse(text)
    except (ValueError, RuntimeError):  # invalid JSON; BIGINT_ERROR is a RuntimeError
        return None
    try:
        if not isinstance(doc, simdjson.Array):
            return None
        flat: npt.NDArray[np.float64] = np.frombuffer(doc.as_buffer(of_type="d"), np.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
    finally:
        del doc  # the parser refuses to parse again while a proxy of this document lives
    return flat


def _slow_line(
    number: int, line: bytes | memoryview, dims: int, discard: bool
) -> tuple[str, npt.NDArray[np.float32], Any, Any] | None:
    """One line checked exactly as ``parse_vectors_reference`` checks it, up to the
    namespace and metadata checks (None: an unparsable line skipped under ``discard``)."""
    try:
        item = orjson.loads(line)
        if not isinstance(item, dict):
            raise ValueError("each line must be a JSON object")
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        if discard:
            return None
        raise _unparsable(number, exc) from exc
    vid = _check_id(number, item.get("id"))
    row = values_array(vid, item.get("values"))
    if len(row) != dims:
        raise ApiError(errors.DIMENSION_MISMATCH, id=vid, expected=dims, got=len(row))
    return vid, row, item.get("namespace"), item.get("metadata")


def parse_vectors(data: bytes, dims: int, discard: bool) -> list[NewVector]:
    """The vectors of an NDJSON body, validated like ``parse_vectors_reference``.

    Per line: orjson reads the line with its ``values`` array cut out (``[]`` in its place;
    about 100 bytes of id, namespace and metadata), simdjson reads the array straight into
    a float64 buffer, which lands in the request's float32 matrix. Anything unusual about
    a line (see ``_values_span`` and ``_numbers``) sends that line through ``_slow_line``.
    """
    lines = _lines(data)
    matrix = np.empty((min(len(lines), limits.MAX_VECTORS_PER_WRITE + 1), dims), np.float32)
    ids: list[str] = []
    extra: list[tuple[str | None, dict[str, Any] | None]] = []
    parser = simdjson.Parser()
    loads = orjson.loads
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused below
        for number, (buf, start, stop) in enumerate(lines, start=1):
            if start == stop or (buf[start] in _BLANK and not buf[start:stop].strip()):
                continue
            span = _values_span(buf, start, stop)
            item: Any = None
            flat = None
            if span is not None:
                opening, closing = span
                try:
                    item = loads(buf[start:opening] + b"[]" + buf[closing + 1 : stop])
                except ValueError:
                    item = None
                if type(item) is dict and item.get("values") == []:
                    flat = _numbers(parser, buf[opening : closing + 1])
            if flat is not None:
                vid = _check_id(number, item.get("id"))
                if flat.size != dims:
                    raise ApiError(errors.DIMENSION_MISMATCH, id=vid, expected=dims, got=flat.size)
                matrix[len(ids)] = flat
                ns, meta = item.get("namespace"), item.get("metadata")
            else:
                checked = _slow_line(number, memoryview(buf)[start:stop], dims, discard)
                if checked is None:
                    continue
                vid, row, ns, meta = checked
                matrix[len(ids)] = row
            if ns is not None:
                ns = _check_namespace(vid, ns)
            if meta is not None:
                check_metadata(vid, meta)
            ids.append(vid)
            extra.append((ns, meta))
            if len(ids) > limits.MAX_VECTORS_PER_WRITE:
                raise _too_many()
    if not ids:
        raise ApiError(errors.UNPARSABLE, detail="no vectors in the request body")
    matrix = matrix[: len(ids)]
    _first_non_finite(ids, matrix)
    return [
        NewVector(vid, matrix[i], ns, meta)
        for i, (vid, (ns, meta)) in enumerate(zip(ids, extra, strict=True))
    ]


# --- the reference -----------------------------------------------------------------------


def parse_vectors_reference(data: bytes, dims: int, discard: bool) -> list[NewVector]:
    """The plain implementation: ``splitlines``, ``orjson.loads`` per line, ``isinstance``
    per value. Slow, obviously right; the specification of ``parse_vectors``."""
    ids: list[str] = []
    rows: list[npt.NDArray[np.float32]] = []
    extra: list[tuple[str | None, dict[str, Any] | None]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
            if not isinstance(item, dict):
                raise ValueError("each line must be a JSON object")
        except ValueError as exc:
            if discard:
                continue
            raise _unparsable(number, exc) from exc
        vid = _check_id(number, item.get("id"))
        row = values_array(vid, item.get("values"))
        if len(row) != dims:
            raise ApiError(errors.DIMENSION_MISMATCH, id=vid, expected=dims, got=len(row))
        ns = _check_namespace(vid, item.get("namespace"))
        meta = item.get("metadata")
        if meta is not None:
            check_metadata(vid, meta)
        ids.append(vid)
        rows.append(row)
        extra.append((ns, meta))
        if len(ids) > limits.MAX_VECTORS_PER_WRITE:
            raise _too_many()
    if not ids:
        raise ApiError(errors.UNPARSABLE, detail="no vectors in the request body")
    matrix = np.stack(rows)
    _first_non_finite(ids, matrix)
    return [
        NewVector(vid, matrix[i].tobytes(), ns, meta)
        for i, (vid, (ns, meta)) in enumerate(zip(ids, extra, strict=True))
    ]
