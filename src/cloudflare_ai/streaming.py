"""Server-sent events from Workers AI, decoded into :class:`~cloudflare_ai.types.ChatChunk`.

Three families arrive over SSE: classic ``/ai/run`` events (``{"response": "..."}`` with
padding ``p``, a final usage event), OpenAI ``chat.completion.chunk`` objects (from newer
models on ``/ai/run`` and from ``/ai/v1/chat/completions``), and mixtures of both. The decoder
tolerates arbitrary line splits, reports usage exactly once at the end, and refuses to treat a
stream that stopped without ``[DONE]`` or a finish reason as complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from .errors import APIError, StreamError
from .responses import new_tool_call_id, parse_arguments, parse_usage
from .types import ChatChunk, ChatResponse, ToolCall, ToolCallDelta, Usage

DONE = "[DONE]"


class SSEParser:
    """Incremental SSE framing: feed lines, get complete ``data`` payloads."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """One line (without its newline); returns an event's data when a blank line ends it."""
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            # Cloudflare separates events with blank lines; tolerate servers that do not by
            # treating a complete JSON object on its own line as an event.
            if self._data and _looks_complete(self._data[-1]):
                data, self._data = "\n".join(self._data), [value]
                return data
            self._data.append(value)
        return None

    def flush(self) -> str | None:
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return data


def _looks_complete(text: str) -> bool:
    stripped = text.strip()
    if stripped == DONE:
        return True
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return False
    try:
        orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return False
    return True


def iter_sse(lines: Iterable[str]) -> Iterator[str]:
    parser = SSEParser()
    for line in lines:
        data = parser.feed(line)
        if data is not None:
            yield data
    tail = parser.flush()
    if tail is not None:
        yield tail


async def aiter_sse(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    parser = SSEParser()
    async for line in lines:
        data = parser.feed(line)
        if data is not None:
            yield data
    tail = parser.flush()
    if tail is not None:
        yield tail


class StopSequences:
    """Cuts text at the first stop sequence, holding back a tail that might begin one."""

    def __init__(self, stops: Sequence[str] | None) -> None:
        self.stops = [s for s in (stops or []) if s]
        self._pending = ""
        self.stopped = False
        self._hold = max((len(s) for s in self.stops), default=1) - 1

    def push(self, text: str) -> str:
        """Text safe to emit now."""
        if not self.stops:
            return text
        if self.stopped:
            return ""
        buffer = self._pending + text
        cut = min((i for i in (buffer.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._pending = ""
            return buffer[:cut]
        keep = self._hold
        if keep and len(buffer) > keep:
            self._pending = buffer[-keep:]
            return buffer[:-keep]
        if keep:
            self._pending = buffer
            return ""
        return buffer

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return "" if self.stopped else out


class StreamDecoder:
    """Turns decoded SSE payloads of any Workers AI family into chunks."""

    def __init__(
        self, model: str, *, stop: Sequence[str] | None = None, id_seed: str | None = None
    ) -> None:
        self.model = model
        #: Seeds ids for tool calls sent without one (see ``new_tool_call_id``).
        self.id_seed = id_seed
        self.done = False
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self._stop = StopSequences(stop)
        self._tool_ids: dict[int, str] = {}
        self._classic_calls = 0

    @property
    def stopped(self) -> bool:
        """A stop sequence was reached: the caller may close the stream."""
        return self._stop.stopped

    def feed(self, data: str) -> ChatChunk | None:
        if data.strip() == DONE:
            self.done = True
            return None
        if self._stop.stopped:
            return None
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise StreamError(f"undecodable stream event: {data[:120]!r}") from exc
        if not isinstance(event, Mapping):
            return None
        if event.get("success") is False or (event.get("errors") and "response" not in event):
            errors = event.get("errors") or []
            first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
            raise APIError(
                str(first.get("message") or event.get("error") or "error inside the stream"),
                code=first.get("code") if isinstance(first.get("code"), int) else None,
                errors=[e for e in errors if isinstance(e, Mapping)],
            )
        usage = parse_usage(event.get("usage"), self.model)
        if usage is not None:
            self.usage = usage  # cumulative in some families: the last one wins
        text, reasoning, deltas = "", "", []
        choices = event.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if not isinstance(choice, Mapping):
                    continue
                delta = choice.get("delta") or choice.get("message") or {}
                if isinstance(delta, Mapping):
                    content = delta.get("content")
                    if isinstance(content, str):
                        text += content
                    elif content is not None:
                        text += orjson.dumps(content).decode()
                    piece = delta.get("reasoning_content") or delta.get("reasoning")
                    if isinstance(piece, str):
                        reasoning += piece
                    deltas += self._deltas(delta.get("tool_calls"))
                if isinstance(choice.get("text"), str):
                    text += choice["text"]
                if choice.get("finish_reason"):
                    self.finish_reason = str(choice["finish_reason"])
        response = event.get("response")
        if isinstance(response, str):
            text += response
        elif response is not None:
            text += orjson.dumps(response).decode()
        if "tool_calls" in event:
            deltas += self._deltas(event.get("tool_calls"))
        if event.get("finish_reason"):
            self.finish_reason = str(event["finish_reason"])
        text = self._stop.push(text)
        if self._stop.stopped:
            self.finish_reason = "stop"
        if not (text or reasoning or deltas):
            return None
        return ChatChunk(text=text, reasoning=reasoning, tool_calls=deltas, raw=dict(event))

    def _deltas(self, items: Any) -> list[ToolCallDelta]:
        out: list[ToolCallDelta] = []
        if not isinstance(items, list):
            return out
        for item in items:
            if not isinstance(item, Mapping):
                continue
            function = item.get("function")
            if "index" in item or isinstance(function, Mapping):
                # OpenAI-style fragment.
                fn = function if isinstance(function, Mapping) else {}
                index = int(item.get("index") or 0)
                name, args = fn.get("name"), fn.get("arguments")
                if item.get("id") is None and name is None and not args:
                    continue  # the "null finalisation" chunk some models send
                call_id = self._tool_ids.get(index)
                if call_id is None:
                    call_id = str(item.get("id") or new_tool_call_id(self.id_seed, index))
                    self._tool_ids[index] = call_id
                    first = True
                else:
                    first = False
                if isinstance(args, Mapping):
                    args = orjson.dumps(args).decode()
                out.append(
                    ToolCallDelta(
                        index=index,
                        id=call_id if first else None,
                        name=str(name) if name and first else None,
                        arguments=str(args or ""),
                    )
                )
            elif item.get("name"):
                # Classic whole call: give it the next free index.
                index = max([*self._tool_ids, -1]) + 1
                call_id = str(item.get("id") or new_tool_call_id(self.id_seed, index))
                self._tool_ids[index] = call_id
                _, raw = parse_arguments(item.get("arguments", item.get("parameters")))
                out.append(
                    ToolCallDelta(index=index, id=call_id, name=str(item["name"]), arguments=raw)
                )
        return out

    def finish(self) -> ChatChunk:
        """The closing chunk with usage and finish reason; raises if the stream was cut."""
        tail = self._stop.flush()
        if not (self.done or self.finish_reason or self._stop.stopped):
            raise StreamError(
                "the stream ended before Cloudflare signalled completion (no [DONE] and no "
                "finish reason); the answer is incomplete"
            )
        finish = self.finish_reason or "stop"
        if self._tool_ids and finish == "stop":
            finish = "tool_calls"
        return ChatChunk(text=tail, finish_reason=finish, usage=self.usage)


def aggregate(model: str, chunks: Iterable[ChatChunk]) -> ChatResponse:
    """The whole answer a sequence of chunks adds up to."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage: Usage | None = None
    for chunk in chunks:
        text.append(chunk.text)
        reasoning.append(chunk.reasoning)
        for delta in chunk.tool_calls:
            entry = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            entry["id"] = entry["id"] or delta.id
            entry["name"] += delta.name or ""
            entry["arguments"] += delta.arguments
        finish = chunk.finish_reason or finish
        usage = chunk.usage or usage
    tool_calls = []
    for index in sorted(calls):
        entry = calls[index]
        parsed, raw = parse_arguments(entry["arguments"])
        tool_calls.append(
            ToolCall(
                id=entry["id"] or new_tool_call_id(),
                name=entry["name"],
                arguments=parsed,
                raw_arguments=raw,
                index=index,
            )
        )
    return ChatResponse(
        model=model,
        text="".join(text),
        reasoning="".join(reasoning) or None,
        tool_calls=tool_calls,
        finish_reason=finish,
        usage=usage,
    )
