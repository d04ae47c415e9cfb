"""``/ai/run`` end to end for the non-text-generation tasks: wire forms in (JSON, raw binary,
multipart), answers out (enveloped JSON or raw media with its content type), errors.

Models the library's table knows with a task that has a local engine are tested as the table
describes them; the others through entries built from the reference model descriptions
(``reference_table``), so these tests use the table's entries as soon as it has them."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import soundfile
from PIL import Image

from cloudflare_ai.models import ModelInfo, get_model, iter_models
from cloudflare_ai_local import tasks, workers_ai
from cloudflare_ai_local.engine_io import TaskCall, binary_output_type

from .conftest import API, GW
from .helpers import assert_error
from .schema_inputs import (
    body_for,
    kebab,
    reference_entries,
    reference_model,
    sample_png,
    sample_wav,
)

SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
SCHNELL = "@cf/black-forest-labs/flux-1-schnell"
KLEIN = "@cf/black-forest-labs/flux-2-klein-4b"
WHISPER = "@cf/openai/whisper"
NOVA = "@cf/deepgram/nova-3"
AURA = "@cf/deepgram/aura-1"
MELO = "@cf/myshell-ai/melotts"
M2M = "@cf/meta/m2m100-1.2b"
RESNET = "@cf/microsoft/resnet-50"
LLAVA = "@cf/llava-hf/llava-1.5-7b-hf"
BART = "@cf/facebook/bart-large-cnn"

# Models known only by name (no schema, e.g. moondream3.1) have no answer shape to follow.
TABLE_TASK_MODELS = [m for m in iter_models() if m.task in tasks.ENGINES and m.has_schema]


@pytest.fixture
def reference_table(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModelInfo]:
    """The emulator's model lookups also find every reference model of an engine's task."""
    extra = {
        e["name"]: reference_model(e)
        for e in reference_entries()
        if kebab(e["task"]["name"]) in tasks.ENGINES
    }

    def lookup(name: str) -> ModelInfo | None:
        return extra.get(name) or get_model(name)

    def every(task: Any = None) -> Iterator[ModelInfo]:
        seen = set()
        for info in [*iter_models(), *extra.values()]:
            if info.name not in seen and (task is None or info.task == task):
                seen.add(info.name)
                yield info

    monkeypatch.setattr(workers_ai, "get_model", lookup)
    monkeypatch.setattr(workers_ai, "iter_models", every)
    return extra


async def run(client: httpx.AsyncClient, model: str, **kwargs: Any) -> httpx.Response:
    return await client.post(f"{API}/ai/run/{model}", **kwargs)


def image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


async def send(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> httpx.Response:
    """Post a ``body_for`` body in the wire form a client would use for it."""
    if "multipart" in body:
        fields = {k: str(v) for k, v in body.items() if k != "multipart"}
        return await run(client, name, files={"prompt": (None, fields.pop("prompt"))}, data=fields)
    if isinstance(body.get("audio"), dict):  # nova-3: the raw audio body
        return await run(client, name, content=body["audio"]["body"])
    return await run(client, name, json=body)


async def check_answer(client: httpx.AsyncClient, info: ModelInfo) -> None:
    body = body_for(info.catalog)
    r = await send(client, info.name, body)
    assert r.status_code == 200, (info.name, r.text)
    call = TaskCall(info.name, body, info.input_schema, info.output_schema)
    engine = tasks.ENGINES[info.task](call).engine
    assert r.headers["x-local-engine"].startswith(engine + " (cloudflare-ai-local/")
    if r.headers["content-type"] == "application/json":
        assert r.json()["success"] is True and r.json()["result"]
    else:
        assert r.headers["content-type"] == binary_output_type(info.output_schema)


@pytest.mark.parametrize("info", TABLE_TASK_MODELS, ids=[m.name for m in TABLE_TASK_MODELS])
async def test_table_models_of_engine_tasks_answer(
    client: httpx.AsyncClient, info: ModelInfo
) -> None:
    await check_answer(client, info)


async def test_every_reference_model_answers_over_http(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    for info in reference_table.values():
        await check_answer(client, info)


async def test_png_model_answers_a_raw_png(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    r = await run(client, SDXL, json={"prompt": "a red apple", "width": 320, "height": 256})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert "procedural-painter" in r.headers["x-local-engine"]
    assert image(r.content).size == (320, 256)
    again = await run(client, SDXL, json={"prompt": "a red apple", "width": 320, "height": 256})
    assert again.content == r.content


async def test_json_image_model_answers_base64_in_the_envelope(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    r = await run(client, SCHNELL, json={"prompt": "a green forest", "steps": 4})
    body = r.json()
    assert body["success"] is True and set(body["result"]) == {"image"}
    assert image(base64.b64decode(body["result"]["image"])).format == "JPEG"
    bad = await run(client, SCHNELL, json={"prompt": "x", "width": 512})  # no such field
    assert_error(bad, 400, 5006)


async def test_multipart_only_where_the_schema_takes_it(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    files = {"input_image_0": ("ref.png", sample_png(), "image/png")}
    data = {"prompt": "a cat", "width": "160", "height": "96"}
    r = await run(client, KLEIN, data=data, files=files)
    assert r.status_code == 200, r.text
    assert image(base64.b64decode(r.json()["result"]["image"])).size == (160, 96)
    assert_error(await run(client, KLEIN, json={"prompt": "a cat"}), 400, 5006)
    not_multipart = await run(client, SDXL, data={"prompt": "x"}, files=files)
    assert "multipart" in assert_error(not_multipart, 400, 5006)["errors"][0]["message"]
    broken = await run(
        client, KLEIN, content=b"--x\r\nnot a part", headers={"content-type": "multipart/form-data"}
    )
    assert_error(broken, 400, 5006)


async def test_raw_audio_bodies_and_json_forms(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    wav = sample_wav(2.0, text="raw bodies work")
    for kwargs in (
        {"content": wav, "headers": {"content-type": "application/octet-stream"}},
        {"content": wav},  # no content type at all
        {"json": {"audio": list(wav)}},
    ):
        r = await run(client, WHISPER, **kwargs)
        assert r.status_code == 200, r.text
        assert r.json()["result"]["text"] == "raw bodies work"
    r = await run(
        client,
        NOVA,
        content=wav,
        headers={"content-type": "audio/wav"},
        params={"punctuate": "true", "language": "en"},
    )
    alternative = r.json()["result"]["results"]["channels"][0]["alternatives"][0]
    assert alternative["transcript"] == "raw bodies work"
    bad_option = await run(client, NOVA, content=wav, params={"punctuate": "maybe"})
    assert_error(bad_option, 400, 5006)


async def test_binary_inputs_are_checked(
    client: httpx.AsyncClient,
    reference_table: dict[str, ModelInfo],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    png = sample_png()
    r = await run(client, WHISPER, content=png, headers={"content-type": "audio/wav"})
    assert "could not be decoded" in assert_error(r, 400, 5006)["errors"][0]["message"]
    r = await run(client, RESNET, content=b"GIF89a-but-not-really")
    assert "not an image" in assert_error(r, 400, 5006)["errors"][0]["message"]
    ok = await run(client, RESNET, content=png, headers={"content-type": "image/png"})
    assert ok.json()["result"][0]["label"] == "ENVELOPE"  # mostly white
    r = await run(client, LLAVA, json={"image": "%%% not base64"})
    assert_error(r, 400, 5004)
    r = await run(client, SDXL, content=png, headers={"content-type": "image/png"})
    assert_error(r, 400, 5006)  # SDXL takes JSON only
    monkeypatch.setattr(workers_ai.inputs, "MAX_MEDIA_BYTES", 1000)
    r = await run(client, RESNET, content=png + bytes(1000))
    assert_error(r, 413, 3006)
    r = await run(client, "@cf/nobody/no-model", content=png)
    assert_error(r, 400, 5007)


async def test_speech_answers_raw_mpeg_or_base64_json(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    r = await run(client, AURA, json={"text": "Hello from the edge.", "speaker": "luna"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
    samples, rate = soundfile.read(io.BytesIO(r.content))
    assert len(samples) / rate > 1.0
    wav = await run(client, AURA, json={"text": "Hello.", "encoding": "linear16"})
    assert wav.headers["content-type"] == "audio/wav"
    melo = await run(client, MELO, json={"prompt": "Hello"})
    assert soundfile.read(io.BytesIO(base64.b64decode(melo.json()["result"]["audio"])))


async def test_text_tasks_over_http(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    r = await run(client, M2M, json={"text": "good morning", "target_lang": "de"})
    assert r.json()["result"] == {"translated_text": "[de] gut morgen"}
    assert "word-table-translator" in r.headers["x-local-engine"]
    assert_error(await run(client, M2M, json={"text": "hi", "target_lang": "zz"}), 400, 5006)
    assert_error(await run(client, M2M, json={"text": "hi"}), 400, 5006)  # schema: target_lang
    r = await run(client, BART, json={"input_text": "One. Two words here. Three.", "max_length": 5})
    assert r.json()["result"]["summary"]


async def test_binary_answers_through_the_gateway_cache(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    body = {"prompt": "a blue sky", "width": 256, "height": 256}
    headers = {"cf-aig-cache-ttl": "60"}
    first = await client.post(f"{GW}/workers-ai/{SDXL}", json=body, headers=headers)
    second = await client.post(f"{GW}/workers-ai/{SDXL}", json=body, headers=headers)
    assert first.status_code == second.status_code == 200, first.text
    assert [first.headers["cf-aig-cache-status"], second.headers["cf-aig-cache-status"]] == [
        "MISS",
        "HIT",
    ]
    assert second.headers["content-type"] == "image/png" and second.content == first.content
    wav = sample_wav(1.0, text="through the gateway")
    r = await client.post(f"{GW}/workers-ai/{WHISPER}", content=wav)
    assert r.json()["result"]["text"] == "through the gateway"


async def test_model_search_lists_every_task(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    async def names(task: str) -> set[str]:
        r = await client.get(f"{API}/ai/models/search", params={"task": task, "per_page": 100})
        return {m["name"] for m in r.json()["result"]}

    assert SDXL in await names("text-to-image")
    assert await names("Text-to-Image") == await names("text-to-image")
    assert await names("automatic-speech-recognition") >= {WHISPER, NOVA}
    assert await names("Automatic Speech Recognition") == await names(
        "automatic-speech-recognition"
    )
    assert SDXL not in await names("translation")
    everything = await client.get(f"{API}/ai/models/search", params={"per_page": 1000})
    tasks_listed = {m["task"]["name"] for m in everything.json()["result"]}
    assert len(tasks_listed) >= 11  # the two text tasks and the nine of the engines


async def test_tasks_without_an_engine_and_chat_on_other_tasks_are_5007(
    client: httpx.AsyncClient,
    reference_table: dict[str, ModelInfo],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    turn = replace(reference_table[WHISPER], name="@cf/pipecat-ai/smart-turn-v2", task="vad")
    lookup = workers_ai.get_model
    monkeypatch.setattr(
        workers_ai, "get_model", lambda name: turn if name == turn.name else lookup(name)
    )
    r = await run(client, turn.name, json={"audio": [1, 2]})
    assert "smart-turn-v2" in assert_error(r, 400, 5007)["errors"][0]["message"]
    chat = {"model": WHISPER, "messages": [{"role": "user", "content": "hi"}]}
    assert_error(await client.post(f"{API}/ai/v1/chat/completions", json=chat), 400, 5007)


async def test_batches_name_the_task_engine(
    client: httpx.AsyncClient, reference_table: dict[str, ModelInfo]
) -> None:
    requests = [{"text": "hello", "target_lang": "fr"}, {"text": "good day", "target_lang": "es"}]
    queue = {"queueRequest": "true"}
    queued = await run(client, M2M, json={"requests": requests}, params=queue)
    assert "word-table-translator" in queued.headers["x-local-engine"]
    request_id = queued.json()["result"]["request_id"]
    polled = await run(client, M2M, json={"request_id": request_id}, params=queue)
    results = [r["result"] for r in polled.json()["result"]["responses"]]
    assert results == [{"translated_text": "[fr] bonjour"}, {"translated_text": "[es] bueno día"}]
    assert "word-table-translator" in polled.headers["x-local-engine"]
    image = await run(client, SDXL, json={"requests": [{"prompt": "x"}]}, params=queue)
    assert "binary" in assert_error(image, 400, 5006)["errors"][0]["message"]
