"""The bundled model table against the reference data it is built from (tests/reference/):
every published model is in it with its task, input kind, content types, prices and flags;
the models the Workers runtime types name are at least listed; the schemas derived from the
TypeScript types accept and refuse what they should; the bundled file is what
scripts/build_model_table.py makes."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from cloudflare_ai import ModelPrice, list_models
from cloudflare_ai.models import TASKS, ModelInfo, get_model, iter_models, require_model

ROOT = Path(__file__).resolve().parents[2]
LLAMA_31_8B = "@cf/meta/llama-3.1-8b-instruct"
MODELS_REF = ROOT / "tests" / "reference" / "workers-ai-models"
CATALOG = json.loads((MODELS_REF / "catalog.json").read_text(encoding="utf-8"))
DTS = (MODELS_REF / "workers-types-ai.d.ts").read_text(encoding="utf-8")
DTS_MODELS = dict(
    re.findall(
        r'^  "([^"]+)": (\w+);$',
        DTS[
            DTS.index("interface AiModels {") : DTS.index("\n}", DTS.index("interface AiModels {"))
        ],
        re.MULTILINE,
    )
)


@cache
def load_script() -> ModuleType:
    """scripts/build_model_table.py, imported once."""
    path = ROOT / "scripts" / "build_model_table.py"
    spec = importlib.util.spec_from_file_location("build_model_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_model_table"] = module
    spec.loader.exec_module(module)
    return module


@cache
def built() -> dict[str, Any]:
    """The table the script builds now."""
    table: dict[str, Any] = load_script().build()
    return table


def kebab(task: str) -> str:
    return task.lower().replace(" ", "-")


def validator(schema: Any) -> Any:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


# --- the file and the script ------------------------------------------------------------------


def test_bundled_table_is_what_the_script_builds() -> None:
    script = load_script()
    bundled = (ROOT / "src" / "cloudflare_ai" / "data" / "workers-ai-models.json").read_text()
    assert bundled == script.render(built())
    assert script.main(["--check"]) == 0


def test_every_reference_file_is_bundled_unchanged() -> None:
    script = load_script()
    for file_name, model in script.catalog_files():
        info = require_model(model["name"])
        assert info.source == "catalog"
        if model["name"] in script.PREFER_EARLIER:
            # The research notes' newer-looking version is used (see data/README.md).
            assert model["name"] == LLAMA_31_8B
            assert info.catalog != model
            assert {"property_id": "beta", "value": "true"} in model["properties"]
            assert not info.beta and "image" not in json.dumps(info.input_schema)
            continue
        assert info.catalog == model, file_name


def test_table_is_the_union_of_the_reference_lists() -> None:
    earlier = json.loads(
        (ROOT / "tests" / "reference" / "workers-ai-model-schemas.json").read_text()
    )
    files = {
        json.loads(p.read_text())["name"]
        for p in MODELS_REF.glob("*.json")
        if p != MODELS_REF / "catalog.json"
    }
    expected = {row["name"] for row in CATALOG} | set(DTS_MODELS) | set(earlier["models"]) | files
    names = [info.name for info in iter_models()]
    assert len(names) == len(set(names))
    assert set(names) == expected
    assert len(DTS_MODELS) == 99


# --- catalog models ---------------------------------------------------------------------------


@pytest.mark.parametrize("row", CATALOG, ids=[row["name"] for row in CATALOG])
def test_every_catalog_model_has_its_task_and_content_types(row: dict[str, Any]) -> None:
    info = require_model(row["name"])
    assert info.source == "catalog"
    assert info.catalog_task == row["task"]
    expected_task = (
        "reranking" if row["name"] == "@cf/baai/bge-reranker-base" else kebab(row["task"])
    )
    assert info.task == expected_task
    declared = row["output_content_type"]
    expected = (
        set() if declared is None else {declared} if isinstance(declared, str) else set(declared)
    )
    assert set(info.output_content_types) == expected
    binary = {t for t in expected if t not in ("application/json", "text/event-stream")}
    if info.output_content_type is not None:
        assert info.output_content_type in binary
    # catalog.json summarises the files of tests/reference/; for llama-3.1-8b-instruct the
    # table uses another version (see test_every_reference_file_is_bundled_unchanged).
    props = info.properties if row["name"] == LLAMA_31_8B else row["properties"]
    assert info.beta == (props.get("beta") == "true")
    assert info.lora == (props.get("lora") == "true")
    assert info.partner == (props.get("partner") == "true")
    assert info.deprecated == ("planned_deprecation_date" in props)


@pytest.mark.parametrize(
    ("name", "content_type", "all_types"),
    [
        ("@cf/stabilityai/stable-diffusion-xl-base-1.0", "image/png", ("image/png",)),
        ("@cf/lykon/dreamshaper-8-lcm", "image/png", ("image/png",)),
        ("@cf/runwayml/stable-diffusion-v1-5-img2img", "image/png", ("image/png",)),
        ("@cf/leonardo/phoenix-1.0", "image/jpeg", ("image/jpeg",)),
        ("@cf/deepgram/aura-2-en", "audio/mpeg", ("audio/mpeg",)),
        # JSON (base64 audio) or MP3: a JSON answer is possible, both types are kept.
        ("@cf/myshell-ai/melotts", None, ("application/json", "audio/mpeg")),
        ("@cf/black-forest-labs/flux-1-schnell", None, ("application/json",)),  # base64 in JSON
        (
            "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
            None,
            ("application/json", "text/event-stream"),
        ),
        ("@cf/openai/whisper", None, ("application/json",)),
        ("@cf/bytedance/stable-diffusion-xl-lightning", "image/png", ("image/png",)),
    ],
)
def test_output_content_type(
    name: str, content_type: str | None, all_types: tuple[str, ...]
) -> None:
    info = require_model(name)
    assert info.output_content_type == content_type
    assert info.output_content_types == all_types


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("@cf/openai/whisper", "binary"),  # raw audio bytes, or {audio: [...]}
        ("@cf/microsoft/resnet-50", "binary"),
        ("@cf/facebook/detr-resnet-50", "binary"),
        ("@cf/llava-hf/llava-1.5-7b-hf", "binary"),
        ("@cf/deepgram/nova-3", "binary"),  # audio: {body, contentType}
        ("@cf/black-forest-labs/flux-2-dev", "binary"),  # multipart
        ("@cf/black-forest-labs/flux-2-klein-4b", "binary"),
        ("@cf/openai/whisper-tiny-en", "binary"),
        ("@cf/openai/whisper-large-v3-turbo", "json"),  # base64 audio in JSON
        ("@cf/pipecat-ai/smart-turn-v2", "json"),  # a base64 form exists
        ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "json"),
        ("@cf/baai/bge-base-en-v1.5", "json"),
        ("@cf/black-forest-labs/flux-1-schnell", "json"),
        ("@cf/deepgram/aura-1", "json"),
        ("@cf/meta/m2m100-1.2b", "json"),
        ("@cf/zai-org/glm-5.2", "json"),  # no schema known
    ],
)
def test_input_kind(name: str, kind: str) -> None:
    assert require_model(name).input_kind == kind


def test_reranker_is_told_apart_from_the_classifiers() -> None:
    reranker = require_model("@cf/baai/bge-reranker-base")
    assert reranker.task == "reranking"
    assert reranker.catalog_task == "Text Classification"
    assert [m.name for m in list_models("text-classification")] == [
        "@cf/huggingface/distilbert-sst-2-int8"
    ]


def test_every_embedding_model_has_dimensions_and_a_batch_limit() -> None:
    embedders = list_models("text-embeddings")
    assert len(embedders) == 8
    for info in embedders:
        assert info.dimensions and info.dimensions >= 384, info.name
        assert info.max_batch and info.max_batch >= 1, info.name
        assert info.output_style == "embedding"
    assert require_model("@cf/baai/omni-bge-base-en-v1.5").dimensions == 768


# --- the users' guides ------------------------------------------------------------------------

GUIDE_MODELS = [
    # name, task, source, deprecated
    ("@cf/bytedance/stable-diffusion-xl-lightning", "text-to-image", "workers-types", False),
    ("@cf/runwayml/stable-diffusion-v1-5-img2img", "text-to-image", "catalog", False),
    ("@cf/runwayml/stable-diffusion-v1-5-inpainting", "text-to-image", "workers-types", False),
    ("@cf/openai/whisper-tiny-en", "automatic-speech-recognition", "workers-types", False),
    ("@cf/openai/whisper-large-v3-turbo", "automatic-speech-recognition", "workers-types", False),
    ("@cf/meta/llama-3-8b-instruct", "text-generation", "catalog", False),
    ("@cf/meta/llama-2-7b-chat-int8", "text-generation", "catalog", True),
    ("@cf/mistral/mistral-7b-instruct-v0.1", "text-generation", "catalog", False),
    ("@hf/google/gemma-7b-it", "text-generation", "catalog", False),
]


@pytest.mark.parametrize(("name", "task", "source", "deprecated"), GUIDE_MODELS)
def test_guide_models_are_in_the_table(name: str, task: str, source: str, deprecated: bool) -> None:
    info = require_model(name)
    assert (info.task, info.source, info.deprecated) == (task, source, deprecated)
    assert info.has_schema
    assert info.requests_per_minute is not None


def test_deprecations_the_catalog_announces() -> None:
    deprecated = {m.name: m.deprecation_date for m in iter_models() if m.deprecated}
    assert deprecated == {
        "@cf/meta/llama-2-7b-chat-int8": "2026-05-30",
        "@hf/mistral/mistral-7b-instruct-v0.2": "2026-05-30",
    }
    kept = list_models("text-generation", include_deprecated=False)
    assert not {m.name for m in kept} & set(deprecated)
    assert len(kept) == len(list_models("text-generation")) - 2


def test_names_the_reference_does_not_know() -> None:
    # The guides' "@cf/google/gemma-7b-it" is published as "@hf/google/gemma-7b-it".
    assert get_model("@cf/google/gemma-7b-it") is None
    assert get_model("@hf/google/gemma-7b-it") is not None
    # No codellama model in the d.ts or the catalog: the table has none either.
    assert "codellama" not in DTS.lower()
    assert not [m.name for m in iter_models() if "codellama" in m.name]


# --- models from the TypeScript types ---------------------------------------------------------

_GENERIC = {
    "BaseAiTextGeneration": "text-generation",
    "BaseAiTextToImage": "text-to-image",
    "BaseAiTextToSpeech": "text-to-speech",
    "BaseAiTextEmbeddings": "text-embeddings",
    "BaseAiTextClassification": "text-classification",
    "BaseAiImageClassification": "image-classification",
    "BaseAiSummarization": "summarization",
    "BaseAiImageToText": "image-to-text",
}


@pytest.mark.parametrize("name", sorted(DTS_MODELS))
def test_every_workers_types_model_is_listed(name: str) -> None:
    info = require_model(name)
    base = DTS_MODELS[name]
    if base in _GENERIC:
        assert info.task == _GENERIC[base]
    if info.source == "workers-types":
        assert info.catalog["name"] == name
        assert info.prices == () and not info.deprecated
        if not info.has_schema:
            assert info.input_kind == "json" and info.output_content_type is None


def test_workers_types_models_without_a_schema_say_why() -> None:
    table = built()["models"]
    listed_only = [
        n
        for n, e in table.items()
        if e["source"]["kind"] == "workers-types" and "schema" not in e["model"]
    ]
    assert listed_only  # the chat models typed with Omit<...>/XOR<...>
    for name in listed_only:
        assert "does not handle" in table[name]["note"]
        assert not require_model(name).has_schema


def test_workers_types_entries_record_their_whole_types() -> None:
    entries = [e for e in built()["models"].values() if e["source"]["kind"] == "workers-types"]
    assert len(entries) == 31
    for entry in entries:
        for key in ("inputs", "outputs"):
            text = entry["source"][key]
            assert text.count("{") == text.count("}"), (entry["model"]["name"], text)
            assert text.count("<") == text.count(">"), (entry["model"]["name"], text)


#: (valid bodies, invalid bodies) for the schemas derived from the d.ts.
DERIVED_EXAMPLES: dict[str, tuple[list[Any], list[Any]]] = {
    "@cf/bytedance/stable-diffusion-xl-lightning": (
        [{"prompt": "a cat"}, {"prompt": "a cat", "num_steps": 4, "width": 512}],
        [{}, {"prompt": 3}, {"prompt": "a cat", "image": "nope"}],
    ),
    "@cf/runwayml/stable-diffusion-v1-5-inpainting": (
        [{"prompt": "a cat", "image": [0, 255], "mask": [255, 0]}],
        [{"image": [0]}, {"prompt": "a cat", "mask": [[1]]}],
    ),
    "@cf/openai/whisper-tiny-en": (
        ["raw audio bytes", {"audio": [0, 1, 2]}],
        [{}, {"audio": "not an array"}, 3],
    ),
    "@cf/openai/whisper-large-v3-turbo": (
        [{"audio": "UklGRg=="}, {"audio": "UklGRg==", "task": "translate", "vad_filter": True}],
        [{}, {"audio": 5}, {"audio": "UklGRg==", "beam_size": "five"}],
    ),
    "@hf/thebloke/zephyr-7b-beta-awq": (
        [{"prompt": "hi"}, {"messages": [{"role": "user", "content": "hi"}]}],
        [{"messages": [{"role": "user"}]}, {"prompt": ["hi"]}, {"max_tokens": "many"}],
    ),
    "@cf/pipecat-ai/smart-turn-v2": (
        [
            {"audio": "UklGRg=="},
            {"audio": {"body": {}, "contentType": "audio/wav"}, "dtype": "uint8"},
        ],
        [{}, {"audio": "UklGRg==", "dtype": "int4"}, {"audio": {"body": {}}}],
    ),
}


@pytest.mark.parametrize("name", sorted(DERIVED_EXAMPLES))
def test_derived_schemas_validate_minimal_examples(name: str) -> None:
    info = require_model(name)
    assert info.source == "workers-types"
    assert "derived from the TypeScript types" in built()["models"][name]["note"]
    schema = validator(info.input_schema)
    type(schema).check_schema(info.input_schema)
    type(schema).check_schema(info.output_schema)
    valid, invalid = DERIVED_EXAMPLES[name]
    for body in valid:
        assert schema.is_valid(body), (name, body)
    for body in invalid:
        assert not schema.is_valid(body), (name, body)


def test_converter_agrees_with_a_catalog_file() -> None:
    """Whisper has both a catalog file and d.ts types: the converted types must accept and
    refuse the same bodies as Cloudflare's schema, and describe the same answer."""
    script = load_script()
    converter = script.TypeConverter(DTS)
    inputs, outputs = converter.base_io("Base_Ai_Cf_Openai_Whisper")
    derived = validator(script.input_schema_from_types(converter, inputs))
    published = validator(require_model("@cf/openai/whisper").input_schema)
    for body in ["raw bytes", {"audio": [1, 2, 3]}, {}, {"audio": "x"}, 7, {"audio": [[1]]}]:
        assert derived.is_valid(body) == published.is_valid(body), body
    out = script.output_schema_from_types(converter, outputs, None)
    catalog_out = require_model("@cf/openai/whisper").output_schema
    assert set(out["properties"]) == set(catalog_out["properties"])
    assert out["required"] == catalog_out["required"] == ["text"]


@pytest.mark.parametrize(
    "type_text",
    ["Omit<ChatCompletionsInput, 'x'>", "(a: string) => void", "[string, number]", "keyof Foo"],
)
def test_converter_refuses_what_it_does_not_understand(type_text: str) -> None:
    script = load_script()
    with pytest.raises(script.Unsupported):
        script.TypeConverter(DTS).convert(type_text)


# --- prices -----------------------------------------------------------------------------------


def prices_of(name: str) -> dict[tuple[str, str], float]:
    return {(p.unit, p.currency): p.price for p in require_model(name).prices}


def test_prices_per_tile_step_and_minute() -> None:
    # flux-1-schnell's and whisper's catalog files state no price: the older pricing page's
    # neuron rates (cloudflare-api.md §1.15) are kept.
    assert prices_of("@cf/black-forest-labs/flux-1-schnell") == {
        ("per 512 by 512 tile", "neurons"): 4.8,
        ("per step", "neurons"): 9.6,
    }
    assert prices_of("@cf/openai/whisper") == {("per audio minute", "neurons"): 41.14}
    assert prices_of("@cf/deepgram/nova-3") == {("per audio minute", "USD"): 0.0052}
    assert prices_of("@cf/leonardo/lucid-origin") == {
        ("per 512 by 512 tile", "USD"): 0.007,
        ("per step", "USD"): 0.000132,
    }
    assert prices_of("@cf/deepgram/aura-2-en") == {("per 1k characters", "USD"): 0.03}
    assert prices_of("@cf/microsoft/resnet-50")[("per inference request", "USD")] == 2.51e-06
    assert prices_of("@cf/moonshotai/kimi-k2.6")[("per M cached input tokens", "USD")] == 0.16


def test_token_prices_and_cost() -> None:
    llama = require_model("@cf/meta/llama-3.3-70b-instruct-fp8-fast")
    assert (llama.price_input_per_m, llama.price_output_per_m) == (0.29, 2.25)
    kimi = require_model("@cf/moonshotai/kimi-k2.6")
    # "per M cached input tokens" is not the input price.
    assert (kimi.price_input_per_m, kimi.price_output_per_m) == (0.95, 4.0)
    # "per input 512x512 tile, per step" is not a token price.
    flux2 = require_model("@cf/black-forest-labs/flux-2-dev")
    assert flux2.price_input_per_m is None and flux2.cost(1000) is None
    assert len(flux2.prices) == 2
    # Neuron rates do not make a USD token price (cost() stays USD from the catalog only).
    llama8 = require_model("@cf/meta/llama-3.1-8b-instruct")
    assert llama8.price_input_per_m is None and llama8.cost(1000) is None
    assert prices_of(llama8.name)[("per M input tokens", "neurons")] == 25608


def test_price_in_usd() -> None:
    assert ModelPrice("per step", 9.6, "neurons").usd == pytest.approx(9.6 * 0.011 / 1000)
    assert ModelPrice("per step", 0.5, "USD").usd == 0.5
    assert ModelPrice("per step", 0.5, "EUR").usd is None


# --- list_models ------------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_list_models_per_task(task: str) -> None:
    found = list_models(task)  # type: ignore[arg-type]
    assert found, task
    assert all(isinstance(m, ModelInfo) and m.task == task for m in found)
    assert [m.name for m in iter_models(task)] == [m.name for m in found]  # type: ignore[arg-type]


def test_list_models_covers_the_table() -> None:
    every = list_models()
    assert sum(len(list_models(task)) for task in TASKS) == len(every) == 112
    assert len(list_models(include_deprecated=False)) == len(every) - 2


def test_unknown_task_is_refused() -> None:
    with pytest.raises(ValueError, match="text-to-image"):
        list_models("text-2-image")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Text Generation"):
        iter_models("Text Generation")  # type: ignore[arg-type]


def test_rate_limits_by_task() -> None:
    assert require_model("@cf/openai/whisper-tiny-en").requests_per_minute == 720
    assert require_model("@cf/runwayml/stable-diffusion-v1-5-img2img").requests_per_minute == 1500
    assert require_model("@cf/lykon/dreamshaper-8-lcm").requests_per_minute == 720
    assert require_model("@cf/qwen/qwen1.5-14b-chat-awq").requests_per_minute == 150
    assert require_model("@cf/huggingface/distilbert-sst-2-int8").requests_per_minute == 2000
    assert require_model("@cf/deepgram/aura-1").requests_per_minute is None  # not on the page


# --- the emulator with the bigger table -------------------------------------------------------


def test_every_schema_is_valid_json_schema() -> None:
    broken = []
    for info in iter_models():
        for schema in (info.input_schema, info.output_schema):
            try:
                validator(schema).check_schema(schema)
            except jsonschema.SchemaError:
                broken.append(info.name)
    # Cloudflare's flux-2-dev file puts its `required` list inside `properties`.
    assert broken == ["@cf/black-forest-labs/flux-2-dev"]


def test_emulator_validates_against_every_model() -> None:
    from cloudflare_ai_local import workers_ai
    from cloudflare_ai_local.errors import ApiError

    refused = 0
    for info in iter_models():
        try:
            workers_ai.validate_input(info, {})
        except ApiError:
            refused += 1
    assert 0 < refused < len(list_models())
    found = workers_ai.search_models({"per_page": "1000"})
    assert found["result_info"]["total_count"] == len(list_models())
    only = workers_ai.search_models({"task": "Automatic Speech Recognition", "per_page": "1000"})
    assert {m["name"] for m in only["result"]} == {
        m.name for m in list_models("automatic-speech-recognition")
    }


# --- cloudflare-ai models ---------------------------------------------------------------------


def run_models(*args: str) -> Any:
    from typer.testing import CliRunner

    from cloudflare_ai_app.cli import app

    return CliRunner().invoke(app, ["models", *args])


def test_cli_lists_every_model_with_its_task() -> None:
    result = run_models()
    assert result.exit_code == 0
    rows = result.output.splitlines()[1:]
    assert len(rows) == len(list_models())
    whisper = next(r for r in rows if r.startswith("@cf/openai/whisper "))
    assert "automatic-speech-recognition" in whisper and "41.14 neurons per audio minute" in whisper
    assert "deprecated 2026-05-30" in next(r for r in rows if "llama-2-7b-chat-int8" in r)
    assert "name only" in next(r for r in rows if "glm-5.3-flash" in r)


@pytest.mark.parametrize(
    "args", [["text-to-speech"], ["--task", "text-to-speech"], ["--task=text-to-speech"]]
)
def test_cli_filters_by_task(args: list[str]) -> None:
    result = run_models(*args)
    assert result.exit_code == 0
    names = [row.split()[0] for row in result.output.splitlines()[1:]]
    assert names == sorted(m.name for m in list_models("text-to-speech"))
    assert "$0.03 per 1k characters, audio/mpeg" in result.output


def test_cli_leaves_out_deprecated_models_on_request() -> None:
    result = run_models("text-generation", "--no-deprecated")
    assert result.exit_code == 0
    assert "llama-2-7b-chat-int8" not in result.output
    assert "@cf/meta/llama-3-8b-instruct " in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["text-2-image"], "unknown task 'text-2-image'"),
        (["--task"], "--task needs a task name"),
        (["--sort", "name"], "unexpected arguments --sort name"),
    ],
)
def test_cli_refuses_bad_arguments(args: list[str], message: str) -> None:
    from cloudflare_ai_app.cli import CommandError

    result = run_models(*args)
    assert isinstance(result.exception, CommandError)
    assert message in str(result.exception)
