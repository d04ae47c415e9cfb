"""Server-sent-event framing in Cloudflare's exact wire format: ``data: <json>\\n\\n`` lines
ending with ``data: [DONE]``, no ``event:`` or ``id:`` fields."""

from __future__ import annotations

import asyncio
import contextlib
import random
import string
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson
from starlette.concurrency import iterate_in_threadpool

DONE = b"data: [DONE]\n\n"
_PAD_SOURCE = string.ascii_lowercase + string.ascii_uppercase + string.digits


def event(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def padding(rng: random.Random) -> str:
    """The random-length ``p`` field real streams carry (it is not text)."""
    return "".join(rng.choice(_PAD_SOURCE) for _ in range(rng.randint(1, 24)))


async def stream_events(events: Iterable[bytes]) -> AsyncIterator[bytes]:
    """Yield each framed event as its own body chunk, letting the loop breathe in between.
    Events that are not a list may block while a local model generates them: those are read
    in a worker thread, each as soon as it exists."""
    if isinstance(events, list | tuple):
        for chunk in events:
            yield chunk
            await asyncio.sleep(0)
        return
    iterator = iter(events)
    try:
        async for chunk in iterate_in_threadpool(iterator):
            yield chunk
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):  # still running in its thread: it ends
                close()  # a client that left stops the model at its next token
