"""Rebuild the bundled Workers AI model table from the reference data in ``tests/reference/``.

    python scripts/build_model_table.py          # rewrites the bundled table
    python scripts/build_model_table.py --check  # exit status 1 when it is out of date

The bundled table is ``src/cloudflare_ai/data/workers-ai-models.json``.

Inputs (all in the repository, see ``tests/reference/README.md`` for their provenance):

- ``tests/reference/workers-ai-models/<model>.json``: Cloudflare's per-model catalog files
  (``cloudflare/cloudflare-docs``, ``src/content/workers-ai-models/``), at the commits listed in
  that folder's ``README.md``;
- ``tests/reference/workers-ai-models/catalog.json``: for two models only the file headers were
  read (no file, no schema): their name, task and properties come from here;
- ``tests/reference/workers-ai-model-schemas.json``: the research-notes file the first bundled
  table was (byte for byte); four of its models have no file in the folder above, and it keeps
  the newer-looking version of ``llama-3.1-8b-instruct`` and a second ``embeddinggemma-300m``;
- ``tests/reference/workers-ai-models/workers-types-ai.d.ts``: the TypeScript types of every
  model the Workers runtime knows (``interface AiModels``). Models that have no catalog file
  are added from here: name and task always, and input/output JSON Schemas converted from the
  TypeScript types where :class:`TypeConverter` understands every construct used;
- ``tests/reference/cloudflare-api.md`` §1.15: neuron rates of an older pricing page, kept in
  ``NEURON_PRICES`` below (transcribed by hand).

Standard library only, so it runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"
MODELS_DIR = REFERENCE / "workers-ai-models"
CATALOG = MODELS_DIR / "catalog.json"
DTS = MODELS_DIR / "workers-types-ai.d.ts"
EARLIER = REFERENCE / "workers-ai-model-schemas.json"
OUTPUT = ROOT / "src" / "cloudflare_ai" / "data" / "workers-ai-models.json"

DOCS_REPO = "cloudflare/cloudflare-docs"
DOCS_FOLDER = "src/content/workers-ai-models"
WORKERS_TYPES = {"package": "@cloudflare/workers-types", "version": "5.20261117.1"}

#: Models whose version in the research-notes file is kept over the file in
#: ``workers-ai-models/`` (which then becomes an alternate version). Any other disagreement
#: between the two stops the build.
PREFER_EARLIER: dict[str, str] = {
    "@cf/meta/llama-3.1-8b-instruct": (
        "The version in tests/reference/workers-ai-models/ (this one) has a `beta` property and "
        "an `image` input, which the research notes describe as features of older versions; "
        "the bundled version (newer-looking: no beta, `usage` in the output) is used. "
        "UNCERTAIN which one is current."
    ),
}

#: Task of each generic Base class of the d.ts, in the catalog's spelling.
GENERIC_BASE_TASKS: dict[str, str] = {
    "BaseAiAutomaticSpeechRecognition": "Automatic Speech Recognition",
    "BaseAiImageClassification": "Image Classification",
    "BaseAiImageTextToText": "Image-to-Text",
    "BaseAiImageToText": "Image-to-Text",
    "BaseAiObjectDetection": "Object Detection",
    "BaseAiSummarization": "Summarization",
    "BaseAiTextClassification": "Text Classification",
    "BaseAiTextEmbeddings": "Text Embeddings",
    "BaseAiTextGeneration": "Text Generation",
    "BaseAiTextToImage": "Text-to-Image",
    "BaseAiTextToSpeech": "Text-to-Speech",
    "BaseAiTranslation": "Translation",
}

#: Task of the d.ts-only models typed with a model-specific ``Base_Ai_Cf_*`` class, which does
#: not name a task: decided by hand from the input and output types.
DTS_TASKS: dict[str, str] = {
    "@cf/unum/uform-gen2-qwen-500m": "Image-to-Text",  # image + prompt -> description
    "@cf/openai/whisper-tiny-en": "Automatic Speech Recognition",
    "@cf/openai/whisper-large-v3-turbo": "Automatic Speech Recognition",
    "@cf/nvidia/nemotron-speech-streaming-en-0.6b": "Automatic Speech Recognition",
    # UNCERTAIN: the d.ts only says audio -> {is_complete, probability}. Cloudflare's own file
    # for this model (not in tests/reference; read from the stored index of cloudflare-docs,
    # smart-turn-v2.json @ 20a026ae) has the task "Voice Activity Detection".
    "@cf/pipecat-ai/smart-turn-v2": "Voice Activity Detection",
    # UNCERTAIN: one model with four skills (query, caption, point, detect), all on an image.
    "@cf/moondream/moondream3.1-9B-A2B": "Image-to-Text",
    "@cf/qwen/qwen2.5-coder-32b-instruct": "Text Generation",
    "@cf/qwen/qwq-32b": "Text Generation",
    "@cf/zai-org/glm-4.7-flash": "Text Generation",
    "@cf/zai-org/glm-5.3": "Text Generation",
    "@cf/zai-org/glm-5.3-flash": "Text Generation",
    "@cf/moonshotai/kimi-k2.5": "Text Generation",
    "@cf/moonshotai/kimi-k2.7-code": "Text Generation",
    "@cf/nvidia/nemotron-3-120b-a12b": "Text Generation",
    "@cf/google/gemma-4-26b-a4b-it": "Text Generation",
    "@cf/deepseek-ai/deepseek-v4-flash-0731": "Text Generation",
    "@cf/deepseek-ai/deepseek-v4-pro-0813": "Text Generation",
    "@cf/qwen/qwen3.8-27b": "Text Generation",
}

#: Content type of the binary answers of d.ts-derived models (the d.ts types them as
#: ``ReadableStream<Uint8Array>`` and does not say). UNCERTAIN: assumed from the catalog files
#: of the same family with the same ``BaseAiTextToImage`` type (stable-diffusion-xl-base-1.0,
#: dreamshaper-8-lcm, stable-diffusion-v1-5-img2img), which all say image/png.
BINARY_OUTPUT_TYPES: dict[str, str] = {
    "@cf/bytedance/stable-diffusion-xl-lightning": "image/png",
    "@cf/runwayml/stable-diffusion-v1-5-inpainting": "image/png",
}

#: Neuron rates from an older version of Cloudflare's pricing page (cloudflare-api.md §1.15,
#: pricing.mdx @ 04d268cf), for models in the table. Kept apart from the catalog's USD prices.
#: Rows left out: "llama-3.1-8b-instruct-fp8-fast" (no model of that name; UNCERTAIN whether
#: it is today's llama-3.1-8b-instruct-fast) and "llama-3.1-70b-instruct-fp8-fast".
_TOKENS_IN, _TOKENS_OUT = "per M input tokens", "per M output tokens"
NEURON_PRICES: dict[str, list[tuple[str, float]]] = {
    "@cf/meta/llama-3.2-1b-instruct": [(_TOKENS_IN, 2457), (_TOKENS_OUT, 18252)],
    "@cf/meta/llama-3.2-3b-instruct": [(_TOKENS_IN, 4625), (_TOKENS_OUT, 30475)],
    "@cf/meta/llama-3.2-11b-vision-instruct": [(_TOKENS_IN, 4410), (_TOKENS_OUT, 61493)],
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": [(_TOKENS_IN, 26668), (_TOKENS_OUT, 204805)],
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": [(_TOKENS_IN, 45170), (_TOKENS_OUT, 443756)],
    "@cf/mistral/mistral-7b-instruct-v0.1": [(_TOKENS_IN, 10000), (_TOKENS_OUT, 17300)],
    "@cf/meta/llama-3.1-8b-instruct": [(_TOKENS_IN, 25608), (_TOKENS_OUT, 75147)],
    "@cf/meta/llama-3-8b-instruct": [(_TOKENS_IN, 25608), (_TOKENS_OUT, 75147)],
    "@cf/meta/llama-3.1-8b-instruct-fp8": [(_TOKENS_IN, 13778), (_TOKENS_OUT, 26128)],
    "@cf/meta/llama-3.1-8b-instruct-awq": [(_TOKENS_IN, 11161), (_TOKENS_OUT, 24215)],
    "@cf/meta/llama-3-8b-instruct-awq": [(_TOKENS_IN, 11161), (_TOKENS_OUT, 24215)],
    "@cf/meta/llama-2-7b-chat-fp16": [(_TOKENS_IN, 50505), (_TOKENS_OUT, 606061)],
    "@cf/baai/bge-small-en-v1.5": [(_TOKENS_IN, 1841)],
    "@cf/baai/bge-base-en-v1.5": [(_TOKENS_IN, 6058)],
    "@cf/baai/bge-large-en-v1.5": [(_TOKENS_IN, 18582)],
    "@cf/huggingface/distilbert-sst-2-int8": [(_TOKENS_IN, 2394)],
    "@cf/meta/m2m100-1.2b": [(_TOKENS_IN, 31050), (_TOKENS_OUT, 31050)],
    "@cf/microsoft/resnet-50": [("per M images", 228055)],
    "@cf/openai/whisper": [("per audio minute", 41.14)],
    "@cf/black-forest-labs/flux-1-schnell": [("per 512 by 512 tile", 4.80), ("per step", 9.60)],
}
NEURON_PRICE_SOURCE = (
    "Cloudflare's pricing page (cloudflare-docs src/content/docs/workers-ai/platform/"
    "pricing.mdx @ 04d268cf, an older version), as transcribed in "
    "tests/reference/cloudflare-api.md §1.15. $0.011 per 1,000 neurons."
)

ABOUT = (
    "The Workers AI model table of the cloudflare-ai package, generated by "
    "scripts/build_model_table.py from tests/reference/ (do not edit by hand). `models` maps "
    "each model name to {source, model[, note][, neuron_prices]}. `source.kind` is "
    '"catalog" when `model` is Cloudflare\'s published per-model file (cloudflare/cloudflare-docs, '
    "src/content/workers-ai-models/<slug>.json, unchanged; `source.commit` is the commit it was "
    "read at; for two models only the file header was read, so `model` has no `schema`), or "
    '"workers-types" when the model has no published file in the reference data and `model` was '
    "made from the TypeScript types of @cloudflare/workers-types (interface AiModels): name, "
    "task, and an input/output JSON Schema converted from the TypeScript types where the "
    "converter understood them (no `schema` otherwise). `schema.input` is what POST "
    "/accounts/{account_id}/ai/run/{model} accepts; `schema.output` describes the `result` of "
    "the envelope, or the raw body for binary answers (`contentType`). `neuron_prices` are "
    "rates from an older pricing page (see `_neuron_prices`). `alternate_versions` keeps other "
    "stored versions of a model file that were not used."
)
VERSION_CAVEAT = (
    "cloudflare-docs keeps several historical versions of each file and the stored index they "
    "were read from does not say which is newest; each entry names the commit read. Values can "
    "differ from what the live API enforces today (verify with GET /ai/models/schema when "
    "online). Schemas converted from TypeScript types are less exact than Cloudflare's own: "
    "TypeScript unions become anyOf, `string` bodies of audio/image models become binary "
    "strings, and no minimum/maximum/default is known."
)


# --- catalog files -----------------------------------------------------------------------------


def read_commits() -> dict[str, str]:
    """``<model>.json`` -> the upstream commit it was read at, from the folder's README."""
    text = (MODELS_DIR / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^- `([^`]+\.json)` @ `([0-9a-f]{40})`", text, re.MULTILINE))


def catalog_files() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(MODELS_DIR.glob("*.json")):
        if path.name != CATALOG.name:
            yield path.name, json.loads(path.read_text(encoding="utf-8"))


def catalog_source(file_name: str, commit: str | None) -> dict[str, Any]:
    return {
        "kind": "catalog",
        "repo": DOCS_REPO,
        "path": f"{DOCS_FOLDER}/{file_name}",
        "commit": commit,
    }


# --- TypeScript types -> JSON Schema ---------------------------------------------------------


class Unsupported(Exception):
    """A TypeScript construct the converter does not handle."""


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "string", "number", "punct"
    text: str
    doc: str | None  # the /** ... */ comment right before the token, if any


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<doc>/\*\*.*?\*/)
    | (?P<comment>/\*.*?\*/|//[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_$][\w$]*)
    | (?P<punct>=>|\.\.\.|[{}()\[\]<>;:,|&?=.])
    """,
    re.VERBOSE | re.DOTALL,
)


def _clean_doc(raw: str) -> str | None:
    lines = []
    for line in raw[3:-2].splitlines():
        line = line.strip().removeprefix("*").strip()
        if line.startswith("@"):
            break
        if line:
            lines.append(line)
    return " ".join(lines) or None


def tokenize(text: str, start: int) -> Iterator[Token]:
    pos, doc = start, None
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise Unsupported(f"cannot read {text[pos : pos + 30]!r}")
        pos = match.end()
        kind = match.lastgroup
        assert kind is not None
        if kind == "space" or kind == "comment":
            continue
        if kind == "doc":
            doc = _clean_doc(match.group())
            continue
        yield Token(kind, match.group(), doc)
        doc = None


_DECLARATION = re.compile(
    r"^(?:export )?(?:declare )?(?:abstract )?(type|interface|class) ([A-Za-z_$][\w$]*)",
    re.MULTILINE,
)

_PRIMITIVES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "null": {"type": "null"},
    "any": {},
    "unknown": {},
}
_BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
_UNDEFINED: dict[str, Any] = {"x-undefined": True}


class TypeConverter:
    """A small converter of the TypeScript type declarations in the d.ts to JSON Schema.

    Handles what the simpler model types use: object literals (with ``?`` optional members,
    ``/** */`` comments as descriptions and ``[key: string]: T`` index signatures), interfaces
    (with ``extends``), type aliases, ``string``/``number``/``boolean``/``object``/``any``/
    ``unknown``, string, number and boolean literals, ``T[]``, ``Array<T>``, ``Record<string, T>``,
    unions (anyOf), intersections (merged objects, or allOf), TypeScript's "open string"
    idiom ``string & NonNullable<unknown>``, and ``Uint8Array``/``ReadableStream<Uint8Array>``
    (a binary string). Anything else (generic helpers such as ``XOR``/``Omit``, tuples, function
    types, ``keyof``...) raises :class:`Unsupported`, and the model is then listed without a
    schema rather than with a wrong one.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.offsets: dict[str, tuple[str, int]] = {}
        for match in _DECLARATION.finditer(text):
            self.offsets.setdefault(match.group(2), (match.group(1), match.start()))
        self._stack: list[str] = []

    # -- declarations --

    def models(self) -> dict[str, str]:
        """``interface AiModels``: model name -> Base class name, in the d.ts's order."""
        kind, start = self.offsets["AiModels"]
        assert kind == "interface"
        body = self.text[start : self.text.index("\n}", start)]
        return dict(re.findall(r'^\s+"([^"]+)": (\w+);$', body, re.MULTILINE))

    def base_io(self, base: str) -> tuple[str, str]:
        """The ``inputs`` and ``postProcessedOutputs`` type text of a Base class."""
        kind, start = self.offsets[base]
        assert kind == "class"
        end = self.text.index("\n}", start)
        body = self.text[start:end]
        # A member's type runs to the ";" that ends the line before the next member (indented
        # two spaces) or the end of the class.
        member = r"^  (inputs|postProcessedOutputs): (.*?);$(?=\n  [A-Za-z]|\Z)"
        found = dict(re.findall(member, body, re.M | re.S))
        if set(found) != {"inputs", "postProcessedOutputs"}:
            raise Unsupported(f"{base}: no plain inputs/postProcessedOutputs members")
        return found["inputs"], found["postProcessedOutputs"]

    def convert(self, type_text: str) -> dict[str, Any]:
        parser = _Parser(self, list(tokenize(type_text, 0)))
        schema = parser.type_expr()
        parser.expect_end()
        return schema

    def resolve(self, name: str) -> dict[str, Any]:
        if name not in self.offsets:
            raise Unsupported(f"unknown type {name}")
        if name in self._stack:
            raise Unsupported(f"recursive type {name}")
        kind, start = self.offsets[name]
        self._stack.append(name)
        try:
            tokens = tokenize(self.text, start)
            parser = _Parser(self, [])
            parser.tokens = _Lazy(tokens)
            parser.skip_words("export", "declare", "abstract")
            parser.expect(kind)
            parser.expect(name)
            if parser.peek("<"):
                raise Unsupported(f"generic type {name}")
            if kind == "type":
                parser.expect("=")
                return parser.type_expr()
            if kind == "class":
                raise Unsupported(f"class {name}")
            parents: list[dict[str, Any]] = []
            if parser.accept("extends"):
                parents.append(parser.reference())
                while parser.accept(","):
                    parents.append(parser.reference())
            parser.expect("{")
            own = parser.members()
            return _intersection([*parents, own])
        finally:
            self._stack.pop()


class _Lazy:
    """A token list filled from an iterator as the parser looks ahead."""

    def __init__(self, source: Iterator[Token]) -> None:
        self.source = source
        self.items: list[Token] = []

    def get(self, index: int) -> Token | None:
        while len(self.items) <= index:
            nxt = next(self.source, None)
            if nxt is None:
                return None
            self.items.append(nxt)
        return self.items[index]


class _Parser:
    def __init__(self, converter: TypeConverter, tokens: list[Token]) -> None:
        self.converter = converter
        self.tokens: _Lazy | list[Token] = tokens
        self.pos = 0

    def _at(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        if isinstance(self.tokens, _Lazy):
            return self.tokens.get(index)
        return self.tokens[index] if index < len(self.tokens) else None

    def peek(self, text: str, offset: int = 0) -> bool:
        tok = self._at(offset)
        return tok is not None and tok.text == text

    def accept(self, text: str) -> bool:
        if self.peek(text):
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> Token:
        tok = self._at()
        if tok is None or tok.text != text:
            raise Unsupported(f"expected {text!r}, found {tok.text if tok else 'end'!r}")
        self.pos += 1
        return tok

    def next(self) -> Token:
        tok = self._at()
        if tok is None:
            raise Unsupported("unexpected end")
        self.pos += 1
        return tok

    def skip_words(self, *words: str) -> None:
        while any(self.peek(w) for w in words):
            self.pos += 1

    def expect_end(self) -> None:
        if self._at() is not None:
            raise Unsupported(f"unexpected {self._at()!r}")

    # type := ["|"] inter ("|" inter)*
    def type_expr(self) -> dict[str, Any]:
        self.accept("|")
        options = [self.intersection()]
        while self.accept("|"):
            options.append(self.intersection())
        return _union(options)

    # inter := postfix ("&" postfix)*
    def intersection(self) -> dict[str, Any]:
        parts = [self.postfix()]
        while self.accept("&"):
            parts.append(self.postfix())
        return _intersection(parts)

    # postfix := primary ("[" "]")*
    def postfix(self) -> dict[str, Any]:
        schema = self.primary()
        while self.peek("[") and self.peek("]", 1):
            self.pos += 2
            schema = {"type": "array", "items": schema}
        return schema

    def primary(self) -> dict[str, Any]:
        tok = self.next()
        if tok.text == "(":
            inner = self.type_expr()
            self.expect(")")
            return inner
        if tok.text == "{":
            return self.members()
        if tok.kind == "string":
            return {"type": "string", "enum": [json.loads('"' + tok.text[1:-1] + '"')]}
        if tok.kind == "number":
            value = json.loads(tok.text)
            return {"type": "integer" if isinstance(value, int) else "number", "enum": [value]}
        if tok.text in ("true", "false"):
            return {"type": "boolean", "enum": [tok.text == "true"]}
        if tok.text == "undefined":
            return dict(_UNDEFINED)
        if tok.kind != "name":
            raise Unsupported(f"unexpected {tok.text!r}")
        self.pos -= 1
        return self.reference()

    def reference(self) -> dict[str, Any]:
        name = self.next().text
        if self.accept("<"):
            args = [self.type_expr()]
            while self.accept(","):
                args.append(self.type_expr())
            self.expect(">")
            return _generic(name, args)
        if name in _PRIMITIVES:
            return dict(_PRIMITIVES[name])
        if name == "Uint8Array":
            return dict(_BINARY)
        return self.converter.resolve(name)

    def members(self) -> dict[str, Any]:
        """The members of an object type, after its ``{``, up to and including its ``}``."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        extra: dict[str, Any] | None = None
        while not self.accept("}"):
            self.skip_words("readonly")
            first = self.next()
            if first.text == "[":
                self.next()  # key name
                self.expect(":")
                key_type = self.type_expr()
                if key_type.get("type") != "string":
                    raise Unsupported("index signature with a non-string key")
                self.expect("]")
                self.expect(":")
                extra = self.type_expr()
            elif first.kind in ("name", "string"):
                key = first.text if first.kind == "name" else json.loads(first.text)
                optional = self.accept("?")
                if self.peek("("):
                    raise Unsupported(f"method {key}")
                self.expect(":")
                schema = self.type_expr()
                if first.doc:
                    schema = {**schema, "description": first.doc}
                properties[key] = schema
                if not optional and not schema.pop("x-undefined", False):
                    required.append(key)
            else:
                raise Unsupported(f"unexpected member {first.text!r}")
            if not self.accept(";"):
                self.accept(",")
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        if extra is not None:
            out["additionalProperties"] = extra
        return out


def _generic(name: str, args: list[dict[str, Any]]) -> dict[str, Any]:
    if name == "NonNullable" and args == [{}]:
        return {}  # only used as `string & NonNullable<unknown>`: "any string"
    if name == "ReadableStream" and args == [_BINARY]:
        return dict(_BINARY)
    if name == "Array" and len(args) == 1:
        return {"type": "array", "items": args[0]}
    if name == "Record" and len(args) == 2 and args[0] == {"type": "string"}:
        return {"type": "object", "additionalProperties": args[1]}
    raise Unsupported(f"generic {name}<...>")


def _union(options: list[dict[str, Any]]) -> dict[str, Any]:
    undefined = any(o.get("x-undefined") for o in options)
    flat: list[dict[str, Any]] = []
    for option in options:
        if option.get("x-undefined"):
            continue
        flat.extend(option["anyOf"] if set(option) == {"anyOf"} else [option])
    if any(o == {"type": "string"} for o in flat):  # "a" | "b" | (string & {}): any string
        flat = [o for o in flat if not (o.get("type") == "string" and "enum" in o)]
    merged: list[dict[str, Any]] = []
    for option in flat:  # "a" | "b" -> one enum
        previous = merged[-1] if merged else {}
        if set(option) == set(previous) == {"type", "enum"} and previous["type"] == option["type"]:
            merged[-1] = {"type": option["type"], "enum": previous["enum"] + option["enum"]}
            continue
        if option not in merged:
            merged.append(option)
    if not merged:
        return dict(_UNDEFINED)
    out = merged[0] if len(merged) == 1 else {"anyOf": merged}
    return {**out, "x-undefined": True} if undefined else out


def _intersection(parts: list[dict[str, Any]]) -> dict[str, Any]:
    parts = [p for p in parts if p != {}]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    if all(set(p) <= {"type", "properties", "required", "description"} for p in parts) and all(
        p.get("type") == "object" for p in parts
    ):
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in parts:
            properties.update(part.get("properties", {}))
            required += [r for r in part.get("required", []) if r not in required]
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        return out
    return {"allOf": parts}


def input_schema_from_types(converter: TypeConverter, type_text: str) -> dict[str, Any]:
    """The input JSON Schema of a model from its ``inputs`` type. A bare ``string`` alternative
    of the whole body is the raw-bytes form: the catalog file of ``@cf/openai/whisper`` writes
    the d.ts's ``string | {audio: number[]}`` as ``oneOf [{type: string, format: binary},
    {... audio ...}]``, and llava and resnet-50 do the same."""
    schema = converter.convert(type_text)
    options = schema["anyOf"] if set(schema) == {"anyOf"} else [schema]
    options = [dict(_BINARY) if o == {"type": "string"} else o for o in options]
    return options[0] if len(options) == 1 else {"anyOf": options}


def output_schema_from_types(
    converter: TypeConverter, type_text: str, content_type: str | None
) -> dict[str, Any]:
    schema = converter.convert(type_text)
    if schema == _BINARY:
        if content_type is None:
            raise Unsupported("binary answer of unknown content type")
        return {**schema, "contentType": content_type}
    return schema


def workers_types_entry(converter: TypeConverter, name: str, base: str) -> dict[str, Any]:
    """A table entry for a model the catalog files do not describe, from the d.ts."""
    task = GENERIC_BASE_TASKS.get(base) or DTS_TASKS.get(name)
    if task is None:
        raise SystemExit(f"{name}: no task known for {base}; add it to DTS_TASKS")
    model: dict[str, Any] = {"name": name, "description": "", "task": {"name": task}}
    model["properties"] = []
    source: dict[str, Any] = {"kind": "workers-types", **WORKERS_TYPES, "base": base}
    entry: dict[str, Any] = {"source": source, "model": model}
    try:
        inputs, outputs = converter.base_io(base)
        source["inputs"], source["outputs"] = inputs, outputs
        model["schema"] = {
            "input": input_schema_from_types(converter, inputs),
            "output": output_schema_from_types(converter, outputs, BINARY_OUTPUT_TYPES.get(name)),
        }
        entry["note"] = (
            "No published catalog file in the reference data: `schema` was derived from the "
            "TypeScript types of @cloudflare/workers-types by scripts/build_model_table.py."
        )
    except Unsupported as exc:
        model.pop("schema", None)
        entry["note"] = (
            "No published catalog file in the reference data, and its TypeScript types use "
            f"constructs the converter does not handle ({exc}): listed by name and task only."
        )
    return entry


# --- the table --------------------------------------------------------------------------------


def build() -> dict[str, Any]:
    commits = read_commits()
    models: dict[str, dict[str, Any]] = {}
    alternates: dict[str, dict[str, Any]] = {}

    for file_name, model in catalog_files():
        if file_name not in commits:
            raise SystemExit(f"{file_name}: no commit listed in {MODELS_DIR / 'README.md'}")
        models[model["name"]] = {
            "source": catalog_source(file_name, commits[file_name]),
            "model": model,
        }

    earlier = json.loads(EARLIER.read_text(encoding="utf-8"))
    for name, item in earlier["models"].items():
        source = {"kind": "catalog", **item["source"]}
        ours = models.get(name)
        if ours is None:
            models[name] = {"source": source, "model": item["model"]}
        elif ours["model"] != item["model"]:
            if name not in PREFER_EARLIER:
                raise SystemExit(f"{name}: the two reference versions differ; decide which to use")
            alternates[name] = {**ours, "note": PREFER_EARLIER[name]}
            models[name] = {"source": source, "model": item["model"]}
    for name, item in earlier.get("alternate_versions", {}).items():
        alternates[name] = {
            "source": {"kind": "catalog", **item["source"]},
            **{k: v for k, v in item.items() if k != "source"},
        }

    for row in json.loads(CATALOG.read_text(encoding="utf-8")):
        name = row["name"]
        if name in models:
            if models[name]["model"]["task"]["name"] != row["task"]:
                raise SystemExit(f"{name}: catalog.json and the model file disagree on the task")
            continue
        if row["file_written"]:
            raise SystemExit(f"{name}: catalog.json names a file that is not here")
        file_name = row["source_file"].rsplit("/", 1)[-1]
        models[name] = {
            "source": catalog_source(file_name, None),
            "note": (
                "Only the header of the catalog file was read (name, task, properties; "
                "tests/reference/workers-ai-models/catalog.json): no schema."
            ),
            "model": {
                "name": name,
                "description": "",
                "task": {"name": row["task"]},
                "properties": [
                    {"property_id": k, "value": v} for k, v in row["properties"].items()
                ],
            },
        }

    converter = TypeConverter(DTS.read_text(encoding="utf-8"))
    for name, base in converter.models().items():
        if name in models:
            expected = GENERIC_BASE_TASKS.get(base)
            if expected and models[name]["model"]["task"]["name"] != expected:
                raise SystemExit(f"{name}: the d.ts's {base} and the catalog disagree on the task")
            continue
        models[name] = workers_types_entry(converter, name, base)

    for name, rows in NEURON_PRICES.items():
        if name not in models:
            raise SystemExit(f"NEURON_PRICES names {name}, which is not in the table")
        models[name]["neuron_prices"] = [
            {"unit": unit, "price": price, "currency": "neurons"} for unit, price in rows
        ]

    ordered = dict(sorted(models.items(), key=lambda kv: (kv[1]["model"]["task"]["name"], kv[0])))
    return {
        "_about": ABOUT,
        "_version_caveat": VERSION_CAVEAT,
        "_neuron_prices": NEURON_PRICE_SOURCE,
        "models": ordered,
        "alternate_versions": dict(sorted(alternates.items())),
    }


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the bundled file")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run {Path(__file__).name}")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(json.loads(text)['models'])} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
