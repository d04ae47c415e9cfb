"""Fault injection as an ASGI middleware: latency, error statuses, dropped connections,
stalls and cut SSE streams, drawn from a seeded generator so runs are reproducible.

It also stamps every response with a ``cf-ray`` id and a default ``x-local-engine`` header.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
from .config import FaultConfig
from .errors import ApiError, error_response

_STATUS_FAULTS: dict[str, errors.ErrorCode] = {
    "429": errors.RATE_LIMITED,
    "3040": errors.CAPACITY,
    "500": errors.INTERNAL,
    "502": errors.BAD_GATEWAY,
    "503": errors.UNAVAILABLE,
}


#: Faults :meth:`FaultController.fail_model` can script for one model's upstream calls.
MODEL_FAULT_KINDS: tuple[str, ...] = ("429", "3040", "500", "502", "503", "timeout")


def model_fault_error(kind: str, retry_after: int = 0) -> ApiError:
    """The error a scripted model fault answers with (not for ``"timeout"``)."""
    headers = {"retry-after": str(retry_after)} if kind in ("429", "3040") else None
    return ApiError(_STATUS_FAULTS[kind], headers=headers)


async def apply_model_fault(controller: FaultController, model: str | None) -> None:
    """Raise the scripted fault of ``model``, if any; a ``"timeout"`` only delays the answer
    by the configured ``timeout_seconds``."""
    kind = controller.model_fault(model)
    if kind is None:
        return
    if kind == "timeout":
        await asyncio.sleep(controller.config.timeout_seconds)
        return
    raise model_fault_error(kind, controller.config.retry_after)


class ConnectionDropped(Exception):
    """Raised after the response has started, so the server closes the connection."""


class FaultController:
    """The current ``FaultConfig`` and its random generator; swappable at runtime."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.set(config)
        self.injected: list[tuple[str, str]] = []
        self._scripted: dict[str, list[str]] = {}

    def fail_model(self, model: str, *kinds: str) -> None:
        """Make the next ``len(kinds)`` upstream calls of ``model`` fail, one kind each, in
        order (deterministic, unlike the seeded rate): ``"3040"`` capacity, ``"429"``,
        ``"500"``/``"502"``/``"503"``, or ``"timeout"`` (the model answers only after
        ``timeout_seconds``). Direct ``/ai`` routes, the gateway and each Universal step ask
        :meth:`model_fault` before running a model, so fallbacks can be tested step by step."""
        unknown = [k for k in kinds if k not in MODEL_FAULT_KINDS]
        if unknown:
            raise ValueError(
                f"unknown model fault kinds {unknown}; choose from {MODEL_FAULT_KINDS}"
            )
        with self._lock:
            self._scripted.setdefault(model, []).extend(kinds)

    def model_fault(self, model: str | None) -> str | None:
        """The next scripted fault of ``model`` (consumed), or None."""
        if model is None:
            return None
        with self._lock:
            queue = self._scripted.get(model)
            if not queue:
                return None
            kind = queue.pop(0)
            self.injected.append((model, kind))
            return kind

    def clear_model_faults(self) -> None:
        with self._lock:
            self._scripted.clear()

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def draw(self, path: str) -> tuple[float, str | None]:
        """(delay in seconds, fault kind or None) for one request."""
        with self._lock:
            cfg = self.config
            delay = cfg.latency_ms / 1000.0
            if cfg.jitter_ms:
                delay += self._rng.uniform(0, cfg.jitter_ms) / 1000.0
            if cfg.rate <= 0 or not cfg.kinds:
                return delay, None
            if cfg.paths is not None and not any(p in path for p in cfg.paths):
                return delay, None
            if self._rng.random() >= cfg.rate:
                return delay, None
            kind = str(self._rng.choice(list(cfg.kinds)))
            self.injected.append((path, kind))
            return delay, kind


def _ray_id() -> str:
    return f"{secrets.token_hex(8)}-LCL"


class FaultMiddleware:
    """Applies the controller's faults and adds ``cf-ray`` / ``x-local-engine`` headers."""

    def __init__(self, app: ASGIApp, controller: FaultController, engine: str) -> None:
        self.app = app
        self.controller = controller
        self.engine = engine.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        delay, kind = self.controller.draw(scope.get("path", ""))
        ray = _ray_id().encode()
        cfg = self.controller.config

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers.append((b"cf-ray", ray))
                if b"x-local-engine" not in names:
                    headers.append((b"x-local-engine", self.engine))
                message = {**message, "headers": headers}
            await send(message)

        if delay > 0:
            await asyncio.sleep(delay)
        if kind in _STATUS_FAULTS:
            headers = {"retry-after": str(cfg.retry_after)} if kind in ("429", "3040") else None
            response = error_response(ApiError(_STATUS_FAULTS[kind], headers=headers))
            await response(scope, receive, stamped)
            return
        if kind == "drop":
            await stamped(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"1024"),
                    ],
                }
            )
            raise ConnectionDropped("fault injection: connection dropped")
        if kind == "timeout":
            await asyncio.sleep(cfg.timeout_seconds)
        if kind == "stream_cut":
            await self.app(scope, receive, _StreamCutter(stamped, cfg.stream_cut_after))
            return
        await self.app(scope, receive, stamped)


class _StreamCutter:
    """Passes an SSE body through until ``after`` chunks, then ends it without ``[DONE]``."""

    def __init__(self, send: Send, after: int) -> None:
        self.send = send
        self.after = max(after, 0)
        self.sse = False
        self.sent = 0
        self.closed = False

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if self.closed:
            return
        if message["type"] == "http.response.start":
            for key, value in message.get("headers", []):
                if key.lower() == b"content-type" and value.startswith(b"text/event-stream"):
                    self.sse = True
        elif message["type"] == "http.response.body" and self.sse:
            if self.sent >= self.after:
                self.closed = True
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if message.get("body"):
                self.sent += 1
        await self.send(message)
