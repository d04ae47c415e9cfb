"""Every catalog model with a published schema answers through the core client on the
emulator: a minimal schema-valid input (built from the model's input schema, with a real PNG
or WAV where it takes media) gives a schema-valid JSON answer, or binary media of the content
type the model's output schema declares. Plus bad input through the core: refused before
sending, or answered with Cloudflare's error and never retried."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from PIL import Image

from cloudflare_ai import (
    BinaryResult,
    ImageResult,
    InvalidRequestError,
    RetryPolicy,
    RunResult,
    ValidationError,
    WorkersAIClient,
)
from cloudflare_ai.models import ModelInfo, list_models
from cloudflare_ai_local import LocalCloudflare
from cloudflare_ai_local import inputs as local_inputs
from tests.local.schema_inputs import body_for, sample_png, sample_wav

#: Models whose answer cannot be had over plain HTTP, with the reason.
NOT_OVER_HTTP = {
    # Deepgram's Flux is a realtime (websocket) model: its REST answer is only an end-of-turn
    # event, which the emulator reproduces, but no transcript to check.
    "@cf/deepgram/flux",
}
#: Evaluators take typed questions about a state (no generic filler can write them).
EVALUATORS = {"@cf/cloudflare/clef", "@cf/cloudflare/clef-flash", "@cf/cloudflare/clef-omni"}
CATALOG = [m for m in list_models() if m.has_schema and m.name not in NOT_OVER_HTTP]


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalCloudflare]:
    with LocalCloudflare() as cf:
        yield cf


@pytest.fixture(scope="module")
def ai(emulator: LocalCloudflare) -> Iterator[WorkersAIClient]:
    with WorkersAIClient(
        account_id=emulator.account_id,
        api_token=emulator.api_token,
        base_url=emulator.base_url,
        retry=RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02),
    ) as client:
        yield client


def _entry(info: ModelInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "schema": {"input": info.input_schema},
        "task": {"name": info.catalog_task or info.task.replace("-", " ")},
    }


def test_the_catalog_is_covered() -> None:
    tasks = {m.task for m in CATALOG}
    assert {
        "text-generation", "text-embeddings", "text-to-image", "automatic-speech-recognition",
        "translation", "summarization", "text-classification", "reranking",
        "image-classification", "object-detection", "image-to-text", "text-to-speech",
    } <= tasks  # fmt: skip
    assert len(CATALOG) >= 90


def _without_async(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without Cloudflare's "Async response" alternative (``{request_id}``, nothing
    required), and its top-level ``oneOf`` read as ``anyOf``: the published alternatives often
    require nothing, so any object matches several and ``oneOf`` would refuse every answer."""
    schema = {k: v for k, v in schema.items() if k != "contentType"}
    if "oneOf" in schema:
        schema["anyOf"] = [a for a in schema.pop("oneOf") if a.get("title") != "Async response"]
    return schema


def _answer(ai: WorkersAIClient, info: ModelInfo) -> Any:
    if local_inputs.takes_multipart(info.input_schema):
        image = ai.generate_image("a red apple", model=info.name, width=256, height=256)
        assert image.size == (256, 256)
        return image
    if info.task == "automatic-speech-recognition":
        heard = ai.transcribe(sample_wav(text="hello from the emulator"), model=info.name)
        assert heard.text == "hello from the emulator"
        return None
    if info.task == "voice-activity-detection":
        clip = base64.b64encode(sample_wav(text="done")).decode()
        return ai.run(info.name, {"audio": clip})
    if info.name in EVALUATORS:
        selector = info.name.rsplit("/", 1)[-1]  # the schema pins each model's own name
        body = {
            "model": selector,
            "state": "The sky is blue and the grass is green.",
            "questions": {
                "q1": {"type": "noul", "instructions": "Is the sky blue?"},
                "q2": {"type": "choice", "instructions": "What colour is the grass?",
                       "criteria": {"green": "the grass is green", "red": "the grass is red"}},
                "q3": {"type": "score", "instructions": "How colourful is the scene?",
                       "criteria": ["no colours", "blue and green colours"]},
            },
        }  # fmt: skip
        answer = ai.run(info.name, body)
        assert isinstance(answer, RunResult)
        assert answer.result["answers"]["q2"]["choice"] == "green"
        assert answer.result["answers"]["q1"]["noul"] > 0.5
        return answer
    return ai.run(info.name, body_for(_entry(info)))


@pytest.mark.parametrize("info", CATALOG, ids=[m.name for m in CATALOG])
def test_every_model_answers_through_the_core(ai: WorkersAIClient, info: ModelInfo) -> None:
    answer = _answer(ai, info)
    if answer is None or isinstance(answer, ImageResult):
        return
    if isinstance(answer, BinaryResult):
        assert answer.content_type in info.output_content_types, answer.content_type
        if answer.content_type.startswith("image/"):
            Image.open(io.BytesIO(answer.data)).verify()
        else:
            assert len(answer.data) > 100
        return
    assert isinstance(answer, RunResult)
    jsonschema.validate(answer.result, _without_async(dict(info.output_schema)))
    assert answer.result not in (None, {}, [], "")


# --- bad input through the core -----------------------------------------------------------------


def test_refused_before_sending(ai: WorkersAIClient, emulator: LocalCloudflare) -> None:
    before = len(emulator.requests) if hasattr(emulator, "requests") else None
    with pytest.raises(ValidationError, match="prompt"):
        ai.generate_image("")
    with pytest.raises(ValidationError, match="model"):
        ai.generate_image("a cat", model="@cf/nobody/no-such-model")
    with pytest.raises(ValidationError):
        ai.classify_image(b"this is not an image")
    with pytest.raises(ValidationError):
        ai.summarize(12345)  # type: ignore[arg-type]
    if before is not None:
        assert len(emulator.requests) == before


def test_cloudflare_style_errors_are_not_retried(ai: WorkersAIClient) -> None:
    png = sample_png()
    with pytest.raises(InvalidRequestError) as unknown_language:
        ai.translate("hello", target_lang="xx-unknown")
    assert unknown_language.value.code == 5006
    # Audio that is not audio, sent as the model's bytes: the emulator refuses it like
    # Cloudflare (5006), once.
    with pytest.raises((InvalidRequestError, ValidationError)):
        ai.transcribe(png, content_type="audio/wav")
