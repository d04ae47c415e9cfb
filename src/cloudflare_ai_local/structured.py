"""Local stand-ins for JSON mode and tool calling: schema-driven instance generation.

``instance_for`` builds a value that validates against a JSON Schema, filling strings and
numbers from the conversation's context where it can. ``choose_tool_call`` decides whether
a request gets a tool call and fills the arguments from the question. No model is involved;
the output is deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from .textgen import (
    STOP_WORDS,
    Conversation,
    best_sentences,
    content_words,
    message_text,
    sentences,
)

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
_RAW_WORDS = re.compile(r"[a-z]+")
_OPERATOR = re.compile(r"\d\s*([-+*/x\u00d7^])\s*-?\d")
_SYMBOLS = {"+": "add", "-": "subtract", "*": "multiply", "x": "multiply", "\u00d7": "multiply"}
_SYMBOLS.update({"/": "divide", "^": "power"})
#: Words a request or a tool may use for the same operation, mapped to one canonical word, so
#: "What is 6 times 7?" reaches a ``multiply`` tool. Arithmetic words only count when the
#: request carries a number ("times" alone is not a multiplication).
_ARITHMETIC = {
    **dict.fromkeys(
        ["times", "multiplied", "product", "multiplication", "mul", "mult"], "multiply"
    ),
    **dict.fromkeys(["plus", "sum", "added", "addition", "total"], "add"),
    **dict.fromkeys(["minus", "subtracted", "difference", "subtraction", "sub"], "subtract"),
    **dict.fromkeys(["divided", "quotient", "division", "div", "ratio"], "divide"),
    **dict.fromkeys(["squared", "cubed", "exponent", "pow", "raised"], "power"),
    **dict.fromkeys(["sqrt", "root"], "sqrt"),
}
_SYNONYMS = {
    **dict.fromkeys(["temperature", "forecast", "rain", "raining", "sunny", "snow"], "weather"),
    **dict.fromkeys(["translation", "translated", "translating"], "translate"),
    **dict.fromkeys(["look", "lookup"], "search"),
}
#: Language names and their ISO 639-1 codes, for ``target_lang``-style parameters.
_LANGUAGES = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "russian": "ru",
    "japanese": "ja",
    "chinese": "zh",
    "korean": "ko",
    "arabic": "ar",
    "hindi": "hi",
    "polish": "pl",
    "swedish": "sv",
    "turkish": "tr",
}
#: Words that open a request rather than name something ("Translate …", "What …").
_QUESTION_WORDS = frozenset(
    {"what", "who", "whom", "where", "when", "how", "which", "why", "please", "tell", "show"}
    | {"give", "translate", "convert", "multiply", "add", "subtract", "divide", "describe"}
    | {"extract", "summarize", "summarise", "classify", "return", "answer", "use", "parse"}
)
#: Field names whose values are numbers when a prompt lists fields without types.
_NUMERIC_NAMES: tuple[str, ...] = ("age", "count", "year", "number", "total", "price")
_NUMERIC_NAMES += ("amount", "score", "quantity", "rating", "size", "length", "weight", "height")


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
        self.used: set[int] = set()  # indexes of numbers already given to a field
        #: Where field values are looked for: the context, then the question unless the
        #: context already holds it.
        self.text = context if question in context else f"{context}\n{question}".strip()
        self.sentences = sentences(context) or sentences(question)

    def enum_for(self, options: Sequence[Any]) -> Any:
        """The option the text names (as a whole word, or a language by name or code), else
        the first one."""
        return mentioned_option(options, f"{self.context}\n{self.question}")

    def list_for(self, name: str) -> list[str]:
        """Items of an enumeration in the text ("likes chess and hiking", "tags: a, b"): the
        sentence that best matches the field name, or else the first one that lists things."""
        text = self.text
        label = re.escape(name.replace("_", " "))
        found = re.search(rf"(?i)\b{label}\s*[:=]\s*([^\n.;]+)", text)
        if found:
            return [i for i in _split_list(found.group(1)) if i]
        ranked = best_sentences(name.replace("_", " "), text, limit=1) if name else []
        for sentence in [*ranked, *sentences(text)]:
            clauses = re.split(r"[,;:]\s*(?=\w+\s+and\b)|\bwho\b|\bwhich\b", sentence)
            for clause in reversed(clauses):
                items = _split_list(clause, conjunction=True)
                if len(items) > 1:
                    return items
        return []

    def string_for(self, name: str, schema: Mapping[str, Any]) -> str:
        text = self.text
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

    def number_for(self, schema: Mapping[str, Any], integer: bool, name: str = "") -> float | int:
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

        text = f"{self.context}\n{self.question}"
        label = re.escape(name.replace("_", " ")) if name else ""
        if label:  # "age: 31", "age is 31", "31 years old" for age, "3 items" for items
            near = re.search(rf"(?i)\b{label}\W{{0,3}}(?:is|of|=|:)?\s*(-?\d+(?:\.\d+)?)", text)
            near = near or re.search(rf"(?i)(-?\d+(?:\.\d+)?)\s+{label}", text)
            if not near and name.lower() == "age":
                near = re.search(r"(?i)(-?\d+(?:\.\d+)?)[\s-]+years?[\s-]+old", text)
            if near and ok(float(near.group(1))):
                value = float(near.group(1))
                if value in self.numbers:
                    self.used.add(self.numbers.index(value))
                return int(value) if integer else value
        for i, value in enumerate(self.numbers):  # the next number no field has taken yet
            if i not in self.used and ok(value):
                self.used.add(i)
                return int(value) if integer else value
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
            return self.enum_for(schema["enum"])
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
            item_schema = _resolve(items, self.root)
            if isinstance(item_schema, Mapping) and item_schema.get("type", "string") == "string":
                listed = [i for i in self.list_for(name) if _valid(i, item_schema, self.root)]
                if listed and len(listed) >= int(schema.get("minItems", 0)):
                    return listed[: int(schema.get("maxItems", len(listed)))]
            values = [self.value(items, name, depth + 1) for _ in range(count)]
            if schema.get("uniqueItems") and len(values) > 1 and isinstance(values[0], str):
                values = [f"{v} {i + 1}" if i else v for i, v in enumerate(values)]
            return values
        if kind == "integer":
            return self.number_for(schema, integer=True, name=name)
        if kind == "number":
            return self.number_for(schema, integer=False, name=name)
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


def _split_list(text: str, conjunction: bool = False) -> list[str]:
    """``"is 31, and likes chess, go and hiking"`` -> ``["chess", "go", "hiking"]``: parts split
    on commas and "and"/"or", read back from the last one while they are no longer than it
    (the first longer part is cut to that length, which drops its verb, and ends the list).
    With ``conjunction``, text without "and"/"or" is no list."""
    if conjunction and not re.search(r"\s(?:and|or)\s", text):
        return []
    parts = [p.strip(" .!?\"'") for p in re.split(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", text)]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return parts
    width = len(parts[-1].split())
    items: list[str] = []
    for part in reversed(parts):
        words = part.split()
        items.insert(0, " ".join(words[-width:]))
        if len(words) > width:
            break
    return items


def mentioned_option(options: Sequence[Any], text: str) -> Any:
    """The enum option ``text`` names as a whole word (languages also by name or code), else
    the first option; a deterministic stand-in for a model reading the request."""
    lowered = text.lower()
    words = set(_RAW_WORDS.findall(lowered))
    for option in options:
        value = str(option).lower()
        if re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", lowered):
            return option
    for option in options:
        value = str(option).lower()
        names = {n for n, c in _LANGUAGES.items() if c == value}
        if names & words:
            return option
    return options[0]


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


# --- JSON mode without a schema ---------------------------------------------------------------

_FIELD_LIST = re.compile(
    r"(?i)\b(?:keys?|fields?|properties|attributes)\b\s*(?:named|called)?\s*:?\s*"
    r"((?:[`\"']?[A-Za-z_]\w*[`\"']?(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*(?=[.\n)]|$)))+)"
)
_INTEGER_NAMES = ("age", "count", "year", "quantity", "number")


def _json_objects(text: str) -> list[tuple[dict[str, Any], int, int]]:
    """Every top-level JSON object written in ``text``, with its span."""
    decoder = json.JSONDecoder()
    found: list[tuple[dict[str, Any], int, int]] = []
    i = text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict) and value:
            found.append((value, i, end))
            i = text.find("{", end)
        else:
            i = text.find("{", i + 1)
    return found


def _schema_of_example(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, list):
        return {"type": "array", "items": _schema_of_example(value[0]) if value else {}}
    if isinstance(value, dict):
        props = {str(k): _schema_of_example(v) for k, v in value.items()}
        return {"type": "object", "properties": props, "required": list(props)}
    return {"type": "string"}


def _field_schema(name: str) -> dict[str, Any]:
    lowered = name.lower()
    if any(w in lowered for w in _INTEGER_NAMES):
        return {"type": "integer"}
    if any(w in lowered for w in _NUMERIC_NAMES):
        return {"type": "number"}
    if lowered.startswith(("is_", "has_")):
        return {"type": "boolean"}
    if lowered.endswith("s") and len(lowered) > 3 and lowered not in ("address", "status"):
        return {"type": "array", "items": {"type": "string"}}
    return {"type": "string"}


_INSTRUCTION = re.compile(r"(?i)\bjson\b|\bschema\b|well-formatted|```")


def _without_instructions(text: str) -> str:
    """``text`` without the sentences that talk about the output format."""
    return " ".join(s for s in sentences(text) if not _INSTRUCTION.search(s))


def schema_in_prompt(text: str) -> tuple[dict[str, Any] | None, str]:
    """The output shape a prompt asks for in JSON mode, when no schema came with the request,
    and the prompt with that description taken out (so it is not mistaken for content).

    In order: the last JSON Schema written in the prompt (format instructions of output
    parsers carry one), else the last example object (its keys and value types), else a
    list of names after "keys"/"fields" ("with keys `name` and `age`")."""
    objects = _json_objects(text)
    schemas = [o for o in objects if isinstance(o[0].get("properties"), dict)]
    chosen = schemas[-1] if schemas else (objects[-1] if objects else None)
    if chosen is not None:
        value = chosen[0]
        cleaned = text
        for _, s, e in sorted(objects, key=lambda o: -o[1]):
            cleaned = cleaned[:s] + cleaned[e:]
        schema = value if chosen in schemas else _schema_of_example(value)
        return schema, _without_instructions(cleaned)
    match = _FIELD_LIST.search(text)
    if match:
        names = re.findall(r"[A-Za-z_]\w*", match.group(1))
        names = [n for n in names if n.lower() not in ("and", "or")]
        if names:
            props = {n: _field_schema(n) for n in dict.fromkeys(names)}
            line = re.compile(rf"[^.!?\n]*{re.escape(match.group(0))}[^.!?\n]*[.!?]?")
            cleaned = _without_instructions(line.sub("", text, count=1))
            return {"type": "object", "properties": props, "required": list(props)}, cleaned
    return None, text


def prompt_shape(conv: Conversation, messages: Any) -> tuple[dict[str, Any] | None, Conversation]:
    """``schema_in_prompt`` over what the user and system wrote (the question first, then the
    rest of the conversation), never over tool results: JSON a tool returned is data, not
    the shape asked for. Returns the conversation with the description taken out."""
    schema, question = schema_in_prompt(conv.question)
    if schema is not None:
        return schema, dataclasses.replace(conv, question=question)
    tool_texts = [
        message_text(m.get("content"))
        for m in (messages if isinstance(messages, list) else [])
        if isinstance(m, Mapping) and m.get("role") == "tool"
    ]
    written = conv.context
    for text in tool_texts:
        written = written.replace(text, "") if text else written
    schema, cleaned = schema_in_prompt(written)
    if schema is None:
        return None, conv
    context = "\n".join(t for t in (cleaned, *tool_texts) if t.strip())
    return schema, dataclasses.replace(conv, context=context)


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


def _canonical(words: set[str], arithmetic: bool) -> set[str]:
    out = set(words)
    for word in words:
        if word in _SYNONYMS:
            out.add(_SYNONYMS[word])
        if arithmetic and word in _ARITHMETIC:
            out.add(_ARITHMETIC[word])
    return out


def _asked_words(question: str) -> set[str]:
    """The request's content words plus the operations its synonyms and symbols name."""
    raw = set(_RAW_WORDS.findall(question.lower()))
    arithmetic = bool(_NUMBER.search(question))
    asked = _canonical(content_words(question) | raw, arithmetic) - STOP_WORDS
    if arithmetic:
        asked |= {_SYMBOLS[m] for m in _OPERATOR.findall(question.lower())}
    return asked


def _required_params(tool: ToolSpec) -> list[tuple[str, Mapping[str, Any]]]:
    schema = tool.parameters
    props = schema.get("properties") or {}
    names = list(schema.get("required") or []) or list(props)[:1]
    out = []
    for key in names:
        sub = _resolve(props.get(key, {}), schema)
        out.append((str(key), sub if isinstance(sub, Mapping) else {}))
    return out


def _evidence(tool: ToolSpec, question: str, asked: set[str]) -> float:
    """How well the request can fill the tool's parameters: its numbers cover every numeric
    parameter, it names an enum option, it mentions parameter names."""
    params = _required_params(tool)
    numeric = [k for k, sub in params if sub.get("type") in ("number", "integer")]
    score = 0.0
    if numeric and len(_NUMBER.findall(question)) >= len(numeric):
        score += 0.5
    for _, sub in params:
        options = sub.get("enum")
        if isinstance(options, list) and options:
            text = question.lower()
            if any(re.search(rf"\b{re.escape(str(o).lower())}\b", text) for o in options):
                score += 0.5
    props = tool.parameters.get("properties") or {}
    named = sum(1 for key in props if _name_words(str(key)) & asked)
    return score + min(named * 0.25, 0.5)


def _match_score(tool: ToolSpec, question: str) -> float:
    """How strongly the request asks for ``tool``: 2+ when it names the tool (directly or by a
    synonym such as "times" for ``multiply``), 1+ when it shares most of the description's
    words or part of the name, 0 otherwise; parameter evidence (see ``_evidence``) is added
    to any of these so that it breaks ties and can, on its own, decide a forced choice."""
    asked = _asked_words(question)
    if not asked:
        return 0.0
    evidence = _evidence(tool, question, asked)
    name_words = _canonical(_name_words(tool.name), arithmetic=True)
    base = 0.0
    if tool.name.lower() in question.lower() or (name_words and name_words <= asked):
        base = 2.0 + len(name_words & asked)
    else:
        described = _canonical(content_words(tool.description) - _GENERIC_VERBS, True)
        overlap = len(described & asked)
        if described and overlap >= 2 and overlap * 2 >= len(described):
            base = 1.0 + overlap / len(described)
        elif name_words & asked and evidence > 0:
            base = 1.0 + len(name_words & asked) / len(name_words)
    return base + evidence if base else evidence / 10


def called_tools(messages: Any) -> set[str]:
    """Names of the tools the assistant called since the last user message."""
    names: set[str] = set()
    if not isinstance(messages, list):
        return names
    for message in reversed(messages):
        if not isinstance(message, Mapping):
            continue
        if message.get("role") == "user":
            break
        if message.get("role") == "tool" and isinstance(message.get("name"), str):
            names.add(message["name"])
        for call in message.get("tool_calls") or []:
            if isinstance(call, Mapping):
                fn = call.get("function") if isinstance(call.get("function"), Mapping) else call
                if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                    names.add(fn["name"])
    return names


def choose_tool_call(
    tools: Sequence[ToolSpec],
    tool_choice: Any,
    conv: Conversation,
    called: set[str] | frozenset[str] = frozenset(),
) -> ToolCall | None:
    """The tool call the local engine makes for this request, or None to answer in text.

    A named ``tool_choice`` or ``"required"``/``"any"`` gets a call in every turn, also after
    tool results: then a tool not yet ``called`` since the user spoke is preferred, which is
    how an agent's forced structured-output tool (LangChain ``response_format``) gets its
    turn after the real tool ran. Otherwise a call is made only for a user turn whose words
    point at a tool; after tool results the engine answers in text."""
    if not tools or tool_choice == "none":
        return None
    forced: ToolSpec | None = None
    if isinstance(tool_choice, Mapping):
        fn = tool_choice.get("function")
        wanted = fn.get("name") if isinstance(fn, Mapping) else tool_choice.get("name")
        forced = next((t for t in tools if t.name == wanted), None)
    elif isinstance(tool_choice, str) and tool_choice not in ("auto", "required", "any"):
        forced = next((t for t in tools if t.name == tool_choice), None)
    required = tool_choice in ("required", "any")
    after_tools = conv.last_role == "tool"
    if forced is None and after_tools and not required:
        return None
    if forced is None:
        pool = [t for t in tools if t.name not in called] if after_tools else list(tools)
        pool = pool or list(tools)
        scored = sorted(
            ((_match_score(t, conv.question), i) for i, t in enumerate(pool)),
            key=lambda s: (-s[0], s[1]),
        )
        best_score, best = scored[0]
        if required or (best_score >= 1 and conv.last_role == "user"):
            forced = pool[best]
    if forced is None:
        return None
    context = conv.tool_results if after_tools else ""
    return ToolCall(new_call_id(), forced.name, tool_arguments(forced, conv.question, context))


def _strip_lead(phrase: str, first_word: str, skip: set[str]) -> str:
    if phrase.split(" ", 1)[0].lower() in skip and phrase != first_word:
        return phrase.split(" ", 1)[1] if " " in phrase else ""
    return phrase


_TRANSCRIPT = re.compile(r"<current_conversation>(.*?)</current_conversation>", re.DOTALL)
_TURN = re.compile(r"<(\w+)>\s*((?:<message>.*?</message>\s*)*)</\1>", re.DOTALL)


def unwrap_transcript(question: str) -> tuple[str, str]:
    """(question, tool results) of a conversation a framework rewrote as one message.

    LlamaIndex's agents ask for their ``output_cls`` with the whole run as XML in a single
    user message; the user's words are the question and the tool turns are what a final
    answer is built from, as after ordinary tool results."""
    match = _TRANSCRIPT.search(question)
    if not match:
        return question, ""
    asked: list[str] = []
    results: list[str] = []
    for role, body in _TURN.findall(match.group(1)):
        texts = [t.strip() for t in re.findall(r"<message>(.*?)</message>", body, re.DOTALL)]
        if role == "user":
            asked.extend(texts)
        elif role == "tool":
            results.extend(texts)
    return "\n".join(asked) or question, "\n".join(results)


def tool_arguments(tool: ToolSpec, question: str, context: str = "") -> dict[str, Any]:
    """Arguments for ``tool`` taken from the question, valid under its parameters schema.

    Enum and language parameters take the option the question names; numeric parameters take
    the question's numbers in order (a tool result in ``context`` comes first, so a final
    answer tool gets the computed value); string parameters take quoted phrases, then
    capitalised names, then the question's content words."""
    schema = tool.parameters
    props = schema.get("properties") or {}
    question, results = unwrap_transcript(question)
    context = "\n".join(t for t in (context, results) if t)
    text = f"{context}\n{question}" if context else question
    numbers = [float(n) for n in _NUMBER.findall(text)]
    quoted = _QUOTED.findall(question)
    words = question.split()
    first_word = words[0] if words else ""
    skip = set(STOP_WORDS) | _GENERIC_VERBS | _QUESTION_WORDS | _name_words(tool.name)
    unquoted = _QUOTED.sub(" ", question)
    caps = [_strip_lead(c, first_word, skip) for c in _CAPITALISED.findall(unquoted)]
    caps = [c for c in caps if c and c.lower() not in skip]
    languages = [c for c in caps if c.lower() in _LANGUAGES]
    rest = " ".join(w for w in re.findall(r"[\w'-]+", question) if w.lower() not in STOP_WORDS)
    args: dict[str, Any] = {}
    filler = _Filler(schema, context or question, question)
    params = _required_params(tool)
    # Parameters with a fixed vocabulary first, so free-text ones get what is left.
    for key, sub in params:
        options = sub.get("enum")
        if isinstance(options, list) and options:
            args[key] = mentioned_option(options, text)
            picked = str(args[key]).lower()
            caps = [c for c in caps if _LANGUAGES.get(c.lower(), c.lower()) != picked]
        elif sub.get("type") == "string" and "lang" in key.lower() and languages:
            name = languages[0]
            wants_code = re.search(r"(?i)\b(code|iso|639)\b", str(sub.get("description", "")))
            args[key] = _LANGUAGES[name.lower()] if wants_code else name
            caps = [c for c in caps if c != name]
    strings = [*quoted, *caps]
    for key, sub in params:
        if key in args:
            continue
        kind = sub.get("type")
        if kind in ("number", "integer") and numbers:
            value = numbers.pop(0)
            args[key] = int(value) if kind == "integer" else value
            if kind == "integer" and value != int(value):
                args[key] = filler.value(sub, key)
        elif kind == "string" and not sub.get("format"):
            labelled = re.search(rf"(?i)\b{re.escape(key)}\s*[:=]\s*([^\n,.;]+)", question)
            if labelled:
                args[key] = labelled.group(1).strip()
            elif key.lower() in _NUMERIC_NAMES or not (strings or len(params) == 1):
                args[key] = filler.value(sub, key)
            else:
                args[key] = strings.pop(0) if strings else (rest or key)
        else:
            args[key] = filler.value(sub, key)
    args = {key: args[key] for key, _ in params}  # in the schema's order
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
