"""SmolLM2-135M-Instruct as a real local text engine (Q4_1 GGUF on llama.cpp via xllamacpp).

A 135-million-parameter model writes real, if modest, answers at roughly 70 to 90 tokens/s on
two cores: enough to see a RAG prompt, streaming, stop sequences and ``max_tokens`` behave
as a model's would. What a model this small cannot be trusted with (tool calls, JSON that
must fit a schema, ReAct steps) stays with the deterministic layer in ``workers_ai.generate``.

llama.cpp receives the request's messages, ``max_tokens``, stop sequences and sampling
settings and returns OpenAI-style chunks; each content delta is one piece of the answer, so a
stream has one event per generated token, as on the deterministic engine.

xllamacpp's server also listens on a loopback HTTP port of its own; it is given a random API
key so nothing else on the machine can use it.
"""

from __future__ import annotations

import queue
import secrets
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import weights
from .errors import ModelsUnavailableError

ENGINE_NAME = "SmolLM2-135M-Instruct Q4_1 on llama.cpp (local model)"
#: Tokens the local model can hold (prompt and answer); SmolLM2 was trained to 8,192.
CONTEXT_TOKENS = 8192
#: Workers AI's default sampling temperature for most chat models (their schemas say 0.6).
DEFAULT_TEMPERATURE = 0.6


class ContextTooLongError(ValueError):
    """The prompt does not fit the local model's context."""


@dataclass(slots=True)
class ModelAnswer:
    """What the model wrote: content pieces (one per token), why it stopped, token counts."""

    pieces: list[str]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def _number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class SmolLM:
    """One loaded model behind llama.cpp's server loop (requests are queued there)."""

    def __init__(self, threads: int = 2) -> None:
        try:
            import xllamacpp
        except ImportError as exc:
            raise ModelsUnavailableError(
                f"the local text model needs xllamacpp ({exc}); install the local models "
                "with: " + weights.install_hint()
            ) from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(weights.verified(weights.SMOLLM2_GGUF))
        params.n_ctx = CONTEXT_TOKENS
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        # No busy-waiting between steps: on a small machine shared with tests, a notebook
        # kernel or the embedding model, spinning threads slowed every process many times.
        params.cpuparams.poll = 0
        params.cpuparams_batch.poll = 0
        params.verbosity = -1
        params.warmup = False
        # llama.cpp's built-in ChatML formatting; the GGUF's own Jinja template inserts a
        # default system prompt that makes this small model answer worse.
        params.use_jinja = False
        params.n_threads_http = 1
        params.api_keys = [secrets.token_urlsafe(32)]
        self._server = xllamacpp.Server(params)

    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        options: Mapping[str, Any] | None = None,
        on_piece: Callable[[str], bool | None] | None = None,
    ) -> ModelAnswer:
        """Generate an answer to ``messages`` (role/content pairs). ``options`` is the request
        body, read for ``temperature``, ``top_p``, ``top_k``, ``seed``, and the penalties.
        ``on_piece`` sees each piece as it is generated; returning True stops generation."""
        options = options or {}
        request: dict[str, Any] = {
            "messages": [dict(m) for m in messages],
            "max_tokens": max(int(max_tokens), 0),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        temperature = _number(options, "temperature")
        request["temperature"] = DEFAULT_TEMPERATURE if temperature is None else temperature
        for ours, theirs in (
            ("top_p", "top_p"),
            ("top_k", "top_k"),
            ("seed", "seed"),
            ("frequency_penalty", "frequency_penalty"),
            ("presence_penalty", "presence_penalty"),
            ("repetition_penalty", "repeat_penalty"),
        ):
            value = _number(options, ours)
            if value is not None:
                request[theirs] = int(value) if ours in ("top_k", "seed") else value
        if stop:
            request["stop"] = list(stop)
        pieces: list[str] = []
        state: dict[str, Any] = {"finish": "stop", "usage": None, "error": None}

        def receive(chunk: Any) -> bool:
            if not isinstance(chunk, dict):
                return False
            if "error" in chunk:
                state["error"] = chunk["error"]
                return True
            stop_now = False
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    pieces.append(content)
                    if on_piece is not None and on_piece(content):
                        stop_now = True
                if choice.get("finish_reason"):
                    state["finish"] = choice["finish_reason"]
            if chunk.get("usage"):
                state["usage"] = chunk["usage"]
            return stop_now

        if request["max_tokens"] == 0:
            return ModelAnswer([], "length", 0, 0)
        result = self._server.handle_chat_completions(request, receive)
        if isinstance(result, dict) and "error" in result:
            state["error"] = result["error"]
        if state["error"] is not None:
            error = state["error"]
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            # llama.cpp: "request (N tokens) exceeds the available context size (8192 tokens)"
            if "exceeds the available context size" in message:
                raise ContextTooLongError(message)
            raise RuntimeError(f"the local text model failed: {message}")
        usage = state["usage"] or {}
        return ModelAnswer(
            pieces,
            "length" if state["finish"] == "length" else "stop",
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", len(pieces))),
        )


class _Finished:
    def __init__(self, answer: ModelAnswer) -> None:
        self.answer = answer


class PieceStream:
    """An answer being generated in a thread of its own, read piece by piece as it comes, so
    a streamed response starts with the first token instead of after the last.

    The constructor waits until the first piece (or the end, or an error) arrives: a request
    the model refuses raises there, before any response has started. After iteration ends,
    ``answer`` holds the whole :class:`ModelAnswer`. Generation stops at the next token when
    the reader calls :meth:`close`, stops iterating, or drops the stream unread: the worker
    holds only the queue and the stop flag, never the stream, so an abandoned stream is
    collected and its finaliser sets the flag (the model has one slot; an orphaned answer
    would hold it until ``max_tokens``)."""

    def __init__(self, model: SmolLM, messages: Sequence[Mapping[str, str]], **kwargs: Any):
        pieces: queue.Queue[str | _Finished | BaseException] = queue.Queue()
        closed = threading.Event()
        self._queue = pieces
        self._closed = closed
        self.answer: ModelAnswer | None = None

        def put(piece: str) -> bool:
            pieces.put(piece)
            return closed.is_set()

        def run() -> None:
            try:
                found = model.chat(messages, on_piece=put, **kwargs)
            except BaseException as exc:  # handed to the reader, raised there
                pieces.put(exc)
            else:
                pieces.put(_Finished(found))

        weakref.finalize(self, closed.set)
        threading.Thread(target=run, name="local-model-stream", daemon=True).start()
        self._head = pieces.get()
        if isinstance(self._head, BaseException):
            raise self._head

    def close(self) -> None:
        self._closed.set()

    def __iter__(self) -> Iterator[str]:
        item = self._head
        try:
            while True:
                if isinstance(item, _Finished):
                    self.answer = item.answer
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
                item = self._queue.get()
        finally:
            self.close()


_model: SmolLM | None = None
_lock = threading.Lock()


def model() -> SmolLM:
    """The process's shared SmolLM2, loaded (and its file checked) on first use."""
    global _model
    with _lock:
        if _model is None:
            _model = SmolLM()
        return _model
