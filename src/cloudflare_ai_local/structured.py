"""Local stand-ins for JSON mode and tool calling: schema-driven instance generation.

``instance_for`` builds a value that validates against a JSON Schema, filling strings and
numbers from the conversation's context where it can. ``choose_tool_call`` decides whether
a request gets a tool call and fills the arguments from the question. No model is involved;
the output is deterministic.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from .textgen import STOP_WORDS, Conversation, best_sentences, content_words, sentences

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_QUOTED = re.compile(r"[\"“']([^\"”']{1,200})[\"”']")
_CAPITALISED = re.compile(r"\b[A-Z][\w-]*(?:[ \t]+[A-Z][\w-]*)*")
_NAME_SPLIT = re.compile(r"[_\-\s]+|(?<=[a-z])(?=[A-Z])")
_GENERIC_VERBS = frozenset(
    [
        "get",
        "set",
        "fetch",
        "search",
        "lookup",
        "look",
        "find",
        "list",
        "create",
        "compute",
        "calculate",
        "make",
        "run",
        "do",
        "call",
        "query",
        "retrieve",
        "current",
        "check",
    ]
)
_ALPHANUM = string.ascii_letters + string.digits


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, Mapping) and "$ref" in schema and seen < 20:
        ref = str(schema["$ref"])
        node: Any = root
        if ref.startswith("#"):
            for part in ref.lstrip("#/").split("/"):
                if part and isinstance(node, Mapping):
                    node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
        schema = node
        seen += 1
    return schema


class _Filler:
    def __init__(self, root: Mapping[str, Any], context: str, question: str) -> None:
        self.root = root
        self.context = context
        self.question = question
        self.numbers = [float(n) for n in _NUMBER.findall(context + "\n" + question)]
        self.sentences = sentences(context) or sentences(question)

    def string_for(self, name: str, schema: Mapping[str, Any]) -> str:
        text = self.context or self.question
        label = name.replace("_", " ")
        if name:
            match = re.search(rf"(?im)^\W*{re.escape(label)}\s*[:=]\s*(.+)$", text) or re.search(
                rf"(?i)\b{re.escape(label)}\s*[:=]\s*([^\n,.;]+)", text
            )
            if match:
                return match.group(1).strip()
        if any(k in name.lower() for k in ("author", "name", "person", "who")):
            by = re.search(r"\b[Bb]y[ \t]+([A-Z][\w-]*(?:[ \t]+[A-Z][\w-]*)+)", text)
            if by:
                return str(by.group(1))
            caps = [c for c in _CAPITALISED.findall(text) if " " in c]
            if caps:
                return str(caps[0])
        hint = f"{label} {schema.get('description', '')}"
        best = best_sentences(hint, text, limit=1)
        if best:
            return best[0].rstrip(".")
        if self.sentences:
            return self.sentences[0].lstrip("# ").rstrip(".")
        return name or "text"

    def number_for(self, schema: Mapping[str, Any], integer: bool) -> float | int:
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        ex_lo = "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool)
        ex_hi = "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool)

        def ok(v: float) -> bool:
            if integer and v != int(v):
                return False
            if lo is not None and (v < lo or (ex_lo and v == lo)):
                return False
            return not (hi is not None and (v > hi or (ex_hi and v == hi)))

        for value in self.numbers:
            if ok(value):
                return int(value) if integer else value
        base = 0.0
        if lo is not None:
            base = float(lo) + (1 if ex_lo else 0)
        elif hi is not None and base > hi:
            base = float(hi) - (1 if ex_hi else 0)
        return int(base) if integer else base

    def value(self, schema: Any, name: str = "", depth: int = 0) -> Any:
        schema = _resolve(schema, self.root)
        if not isinstance(schema, Mapping) or depth > 12:
            return self.string_for(name, {})
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                options = [o for o in schema[key] if _resolve(o, self.root).get("type") != "null"]
                return self.value((options or schema[key])[0], name, depth + 1)
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part = _resolve(part, self.root)
                if isinstance(part, Mapping):
                    for k, v in part.items():
                        if k in ("properties",) and k in merged:
                            merged[k] = {**merged[k], **v}
                        elif k == "required" and k in merged:
                            merged[k] = [*merged[k], *v]
                        else:
                            merged[k] = v
            return self.value(merged, name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        if kind == "object":
            props = schema.get("properties") or {}
            out: dict[str, Any] = {}
            for key, sub in props.items():
                out[key] = self.value(sub, key, depth + 1)
            for key in schema.get("required") or []:
                if key not in out:
                    out[key] = self.string_for(key, {})
            return out
        if kind == "array":
            items = schema.get("items", {})
            count = max(int(schema.get("minItems", 1)), 1)
            if "maxItems" in schema:
                count = min(count, int(schema["maxItems"]))
            values = [self.value(items, name, depth + 1) for _ in range(count)]
            if schema.get("uniqueItems") and len(values) > 1 and isinstance(values[0], str):
                values = [f"{v} {i + 1}" if i else v for i, v in enumerate(values)]
            return values
        if kind == "integer":
            return self.number_for(schema, integer=True)
        if kind == "number":
            return self.number_for(schema, integer=False)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema, name)

    def _string(self, schema: Mapping[str, Any], name: str) -> str:
        fmt = schema.get("format")
        if fmt == "date":
            return "2024-01-01"
        if fmt == "date-time":
            return "2024-01-01T00:00:00Z"
        if fmt == "email":
            return "user@example.com"
        if fmt in ("uri", "url"):
            return "https://example.com/"
        text = self.string_for(name, schema)
        if "maxLength" in schema:
            text = text[: int(schema["maxLength"])]
        min_len = int(schema.get("minLength", 0))
        if len(text) < min_len:
            text = text + "x" * (min_len - len(text))
        return text


def instance_for(schema: Mapping[str, Any], conv: Conversation) -> Any:
    """A value valid under ``schema`` (falls back to ``{}`` for schemas that forbid it)."""
    filler = _Filler(schema, conv.context or conv.question, conv.question)
    value = filler.value(schema)
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError:
        return value  # best effort: patterns and exotic keywords are not solved
    except jsonschema.SchemaError:
        return value
    return value


# --- tools -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


def parse_tools(tools: Any) -> list[ToolSpec]:
    """Flat (``{name, parameters}``) and OpenAI-style (``{type, function}``) tool entries."""
    out: list[ToolSpec] = []
    if not isinstance(tools, list):
        return out
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        fn = tool.get("function") if isinstance(tool.get("function"), Mapping) else tool
        assert isinstance(fn, Mapping)
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            continue
        params = fn.get("parameters")
        out.append(
            ToolSpec(
                name,
                str(fn.get("description") or ""),
                params if isinstance(params, Mapping) else {"type": "object", "properties": {}},
            )
        )
    return out


def new_call_id() -> str:
    """A 9+ character alphanumeric id (Mistral requires exactly ``[a-zA-Z0-9]{9}``)."""
    return "".join(secrets.choice(_ALPHANUM) for _ in range(9))


def _name_words(name: str) -> set[str]:
    words = {w.lower() for w in _NAME_SPLIT.split(name) if w}
    return {
        w[:-1] if len(w) > 3 and w.endswith("s") else w
        for w in words
        if w not in STOP_WORDS and w not in _GENERIC_VERBS
    }


def _match_score(tool: ToolSpec, question: str) -> float:
    asked = content_words(question)
    if not asked:
        return 0.0
    name_words = _name_words(tool.name)
    if tool.name.lower() in question.lower() or (name_words and name_words <= asked):
        return 2.0 + len(name_words & asked)
    described = content_words(tool.description) - _GENERIC_VERBS
    overlap = len(described & asked)
    if described and overlap >= 2 and overlap * 2 >= len(described):
        return 1.0 + overlap / len(described)
    return 0.0


def choose_tool_call(
    tools: Sequence[ToolSpec], tool_choice: Any, conv: Conversation
) -> ToolCall | None:
    """The tool call the local engine makes for this request, or None to answer in text."""
    if not tools or tool_choice == "none":
        return None
    forced: ToolSpec | None = None
    if isinstance(tool_choice, Mapping):
        fn = tool_choice.get("function")
        wanted = fn.get("name") if isinstance(fn, Mapping) else tool_choice.get("name")
        forced = next((t for t in tools if t.name == wanted), None)
    if forced is None and conv.last_role == "tool":
        return None
    if forced is None:
        scored = sorted(
            ((_match_score(t, conv.question), i) for i, t in enumerate(tools)),
            key=lambda s: (-s[0], s[1]),
        )
        best_score, best = scored[0]
        if tool_choice in ("required", "any") or (best_score > 0 and conv.last_role == "user"):
            forced = tools[best]
    if forced is None:
        return None
    return ToolCall(new_call_id(), forced.name, tool_arguments(forced, conv.question))


def tool_arguments(tool: ToolSpec, question: str) -> dict[str, Any]:
    """Arguments for ``tool`` taken from the question, valid under its parameters schema."""
    schema = tool.parameters
    props = schema.get("properties") or {}
    required = list(schema.get("required") or [])
    numbers = [float(n) for n in _NUMBER.findall(question)]
    quoted = _QUOTED.findall(question)
    first_word = question.split()[0] if question.split() else ""
    caps = [c for c in _CAPITALISED.findall(question) if c != first_word]
    caps = [c.split(" ", 1)[1] if c.startswith(first_word + " ") else c for c in caps]
    rest = " ".join(w for w in re.findall(r"[\w'-]+", question) if w.lower() not in STOP_WORDS)
    strings = [*quoted, *caps]
    args: dict[str, Any] = {}
    filler = _Filler(schema, question, question)
    for key in required or list(props)[:1]:
        sub = _resolve(props.get(key, {}), schema)
        kind = sub.get("type") if isinstance(sub, Mapping) else None
        if isinstance(sub, Mapping) and sub.get("enum"):
            lowered = question.lower()
            args[key] = next((e for e in sub["enum"] if str(e).lower() in lowered), sub["enum"][0])
        elif kind in ("number", "integer") and numbers:
            value = numbers.pop(0)
            args[key] = int(value) if kind == "integer" else value
            if kind == "integer" and value != int(value):
                args[key] = filler.value(sub, key)
        elif kind == "string":
            args[key] = strings.pop(0) if strings else (rest or key)
        else:
            args[key] = filler.value(sub, key)
    try:
        jsonschema.validate(args, schema)
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        generated = filler.value(schema)
        if isinstance(generated, dict):
            generated.update({k: v for k, v in args.items() if _valid(v, props.get(k, {}), schema)})
            return generated
    return args


def _valid(value: Any, schema: Any, root: Mapping[str, Any]) -> bool:
    try:
        jsonschema.validate(value, _resolve(schema, root))
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        return False
    return True
