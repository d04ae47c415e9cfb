"""Every reference model of a task with a local engine answers a minimal schema-valid input
with an answer its output schema accepts (or, for binary answers, real media of the declared
content type that an independent decoder reads)."""

from __future__ import annotations

import base64
import io
from typing import Any

import jsonschema
import pytest
import soundfile
from PIL import Image

from cloudflare_ai_local import inputs, tasks, workers_ai
from cloudflare_ai_local.engine_io import JSON_MEDIA_TYPES, TaskCall, binary_output_type

from .schema_inputs import body_for, kebab, reference_entries, reference_model

ENTRIES = [e for e in reference_entries() if kebab(e["task"]["name"]) in tasks.ENGINES]
EXPECTED_TASKS = {
    "text-to-image",
    "automatic-speech-recognition",
    "translation",
    "summarization",
    "text-classification",
    "image-classification",
    "object-detection",
    "image-to-text",
    "text-to-speech",
}


def check_media(data: bytes, media_type: str) -> None:
    if media_type.startswith("image/"):
        img = Image.open(io.BytesIO(data))
        img.load()
        assert Image.MIME[img.format] == media_type
    elif media_type.startswith("audio/"):
        samples, rate = soundfile.read(io.BytesIO(data))
        assert len(samples) > 0 and rate > 0
    else:
        raise AssertionError(f"unexpected media type {media_type}")


def test_every_task_of_the_brief_has_reference_models() -> None:
    # bge-reranker-base is catalogued as text classification; the table calls it reranking
    assert set(tasks.ENGINES) == EXPECTED_TASKS | {"reranking", "voice-activity-detection"}
    assert {kebab(e["task"]["name"]) for e in ENTRIES} == EXPECTED_TASKS
    assert len(ENTRIES) == 24  # the 24 catalog models of these tasks


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_engine_answer_matches_output_schema(entry: dict[str, Any]) -> None:
    info = reference_model(entry)
    body = body_for(entry)
    workers_ai.validate_input(info, inputs.schema_view(body))  # the generator is schema-valid
    call = TaskCall(info.name, body, info.input_schema, info.output_schema)
    answer = tasks.run_task(info.task, call)
    assert answer.engine
    binary = binary_output_type(info.output_schema)
    if binary is not None:
        assert answer.result is None and answer.media is not None
        assert answer.media_type == binary
        check_media(answer.media, answer.media_type)
        return
    assert answer.media is None
    schema = workers_ai._any_of(info.output_schema)
    jsonschema.validate(answer.result, schema)
    assert answer.result, "an empty answer proves nothing"
    for key, media_type in JSON_MEDIA_TYPES.items():
        if isinstance(answer.result, dict) and key in answer.result:
            check_media(base64.b64decode(answer.result[key]), media_type)
