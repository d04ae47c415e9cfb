"""``run()`` with media: binary answers returned as they came (by content type, no JSON
parsing), media inputs sent in the form the model's schema asks for; the media helpers; and
``list_models`` offline and online."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import orjson
import pytest

from cloudflare_ai import (
    APIError,
    AudioResult,
    BinaryResult,
    ImageResult,
    ModelInfo,
    RunResult,
    ValidationError,
    media,
    require_model,
)
from cloudflare_ai.transport import Request

from ._support import (
    ACCOUNT,
    Recorder,
    ai_client,
    async_ai_client,
    clear_env,
    envelope,
    json_response,
)
from ._tasks_support import (
    FLUX_KLEIN,
    JPEG,
    MP3,
    NOVA,
    PNG,
    SDXL,
    WAV,
    WHISPER,
    WHISPER_TURBO,
    Api,
    b64,
    binary,
    form_parts,
    image_bytes,
    ok,
    use_reference_models,
)


@pytest.fixture(autouse=True)
def _setup(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)
    use_reference_models(monkeypatch)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- binary answers -----------------------------------------------------------------------------


def test_run_returns_a_binary_answer_without_parsing_it(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_json(*args: object) -> object:
        raise AssertionError("a binary answer was parsed as JSON")

    monkeypatch.setattr("cloudflare_ai.transport.orjson.loads", no_json)
    api = Api(mode, binary(PNG, "image/png; charset=binary", **{"cf-ray": "ray-9"}))
    result = api("run", SDXL, {"prompt": "a cat"})
    assert isinstance(result, ImageResult) and isinstance(result, BinaryResult)
    assert result.data == PNG
    assert result.content_type == "image/png"
    assert (result.model, result.request_id, result.gateway) == (SDXL, "ray-9", None)
    assert result.headers == {"cf-ray": "ray-9"}
    assert json.loads(api.request.content) == {"prompt": "a cat"}  # orjson.loads is patched


@pytest.mark.parametrize(
    ("content_type", "cls"),
    [
        ("audio/mpeg", AudioResult),
        ("audio/wav", AudioResult),
        ("image/jpeg", ImageResult),
        ("application/octet-stream", BinaryResult),
    ],
)
def test_run_binary_answer_class_follows_the_content_type(
    mode: str, content_type: str, cls: type
) -> None:
    result = Api(mode, binary(b"\x01\x02\x03", content_type))("run", "@cf/any/model", {"x": 1})
    assert type(result) is cls
    assert (result.data, result.content_type) == (b"\x01\x02\x03", content_type)


def test_run_json_answers_stay_run_results_with_usage(mode: str) -> None:
    result = Api(
        mode, ok({"response": "hi", "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    )("run", "@cf/meta/llama-3.1-8b-instruct", {"prompt": "hi"})
    assert isinstance(result, RunResult)
    assert result.result["response"] == "hi"
    assert result.usage is not None and result.usage.total_tokens == 5


def test_a_non_json_text_answer_is_still_an_api_error(mode: str) -> None:
    api = Api(mode, binary(b"<html>proxy</html>", "text/html"))
    with pytest.raises(APIError, match="not JSON"):
        api("run", SDXL, {"prompt": "x"})


def test_the_binary_body_is_kept_not_copied() -> None:
    body = PNG * 1000
    response = httpx.Response(200, content=body, headers={"content-type": "image/png"})
    request = Request("POST", "https://example.invalid/ai/run/m", label="/ai/run/m")
    client = ai_client(lambda r: response)
    answer = client._answer("m", response, request)
    assert answer.data is response.content  # type: ignore[union-attr]


# --- media inputs to run() ----------------------------------------------------------------------


def test_run_sends_bytes_in_the_form_the_schema_asks_for(mode: str) -> None:
    api = Api(mode, ok({"text": "hi"}))
    api("run", WHISPER, {"audio": MP3})
    api("run", WHISPER_TURBO, {"audio": MP3, "language": "en"})
    api("run", "@cf/unknown/model", {"image": bytearray(b"\x00\xff")})
    whisper, turbo, unknown = (orjson.loads(r.content) for r in api.requests)
    assert whisper == {"audio": list(MP3)}
    assert turbo == {"audio": b64(MP3), "language": "en"}
    # UNCERTAIN default for a model the table does not know: the classic integer array.
    assert unknown == {"image": [0, 255]}


def test_run_with_media_alone_sends_the_raw_body(mode: str, tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    path.write_bytes(WAV)
    api = Api(mode, ok({"text": "hi"}))
    api("run", WHISPER, path)
    api("run", WHISPER, io.BytesIO(MP3))
    api("run", "@cf/microsoft/resnet-50", PNG)
    api("run", WHISPER, str(path))
    wav, mp3, png, from_str = api.requests
    assert from_str.content == WAV
    assert (wav.content, wav.headers["content-type"]) == (WAV, "audio/wav")
    assert (mp3.content, mp3.headers["content-type"]) == (MP3, "audio/mpeg")
    assert (png.content, png.headers["content-type"]) == (PNG, "image/png")


def test_run_raw_body_model_gets_the_bytes_and_other_inputs_in_the_query(mode: str) -> None:
    api = Api(mode, ok({"results": {}}))
    api("run", NOVA, {"audio": MP3, "detect_language": True})
    assert api.request.content == MP3
    assert api.request.headers["content-type"] == "audio/mpeg"
    assert dict(api.request.url.params) == {"detect_language": "true"}


def test_run_multipart_model_gets_form_data(mode: str) -> None:
    api = Api(mode, ok({"image": b64(PNG)}))
    result = api("run", FLUX_KLEIN, {"prompt": "a dog", "width": 512, "input_image_0": JPEG})
    parts = form_parts(api.request)
    assert parts["prompt"][0] == b"a dog"
    assert parts["width"][0] == b"512"
    assert parts["input_image_0"] == (JPEG, "input_image_0.jpg", "image/jpeg")
    assert isinstance(result, RunResult)  # run() leaves JSON answers as they are


def test_run_without_media_keeps_the_json_as_given(mode: str) -> None:
    api = Api(mode, ok({}))
    api("run", SDXL, {"prompt": "x", "anything": [1, 2]})
    assert api.body() == {"prompt": "x", "anything": [1, 2]}


def test_run_refuses_inputs_that_are_neither_a_mapping_nor_media(mode: str) -> None:
    api = Api(mode, ok({}))
    with pytest.raises(ValidationError, match="inputs must be a mapping") as info:
        api("run", SDXL, 42)
    assert info.value.field == "inputs"
    with pytest.raises(ValidationError, match="inputs is empty"):
        api("run", SDXL, b"")
    with pytest.raises(ValidationError, match="inputs: no such file 'a prompt'"):
        api("run", SDXL, "a prompt")
    assert api.requests == []


# --- the media helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (image_bytes(fmt="WEBP"), "image/webp"),
        (image_bytes(fmt="GIF"), "image/gif"),
        (b"just text", None),
    ],
)
def test_sniff_image(data: bytes, kind: str | None) -> None:
    assert media.sniff_image(data) == kind


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (MP3, "audio/mpeg"),
        (b"\xff\xfb\x90\x00" + bytes(8), "audio/mpeg"),
        (b"\xff\xf1\x50\x80" + bytes(8), "audio/aac"),
        (WAV, "audio/wav"),
        (b"fLaC" + bytes(8), "audio/flac"),
        (b"OggS" + bytes(8), "audio/ogg"),
        (b"\x1a\x45\xdf\xa3" + bytes(8), "audio/webm"),
        (b"\x00\x00\x00\x20ftypM4A " + bytes(8), "audio/mp4"),
        (PNG, None),
        (b"hello", None),
    ],
)
def test_sniff_audio(data: bytes, kind: str | None) -> None:
    assert media.sniff_audio(data) == kind


def test_is_blank_tolerates_jpeg_noise_but_not_content() -> None:
    assert media.is_blank_image(image_bytes(color=(0, 0, 0), fmt="JPEG"))
    assert media.is_blank_image(image_bytes(color=(3, 3, 3)))
    assert not media.is_blank_image(image_bytes(color=(40, 0, 0)))


def test_save_path_rules(tmp_path: Path) -> None:
    assert media.save_path(tmp_path / "a", "image/jpeg").name == "a.jpg"
    assert media.save_path(tmp_path / "a.jpeg", "image/jpeg").name == "a.jpeg"
    assert media.save_path(tmp_path / "speech", "audio/mpeg; charset=x").name == "speech.mp3"
    assert media.save_path(tmp_path / "x.bin", "application/x-unknown-thing").name == "x.bin"
    with pytest.raises(ValidationError, match="mislabel"):
        media.save_path(tmp_path / "a.png", "image/jpeg")


def test_audio_result_save(mode: str, tmp_path: Path) -> None:
    audio = Api(mode, binary(MP3, "audio/mpeg"))("run", "@cf/deepgram/aura-1", {"text": "hi"})
    assert audio.save(tmp_path / "hello").read_bytes() == MP3
    assert (tmp_path / "hello.mp3").exists()


def test_is_binary_content_type() -> None:
    assert media.is_binary_content_type("image/png")
    assert media.is_binary_content_type("Audio/MPEG; q=1")
    assert media.is_binary_content_type("application/octet-stream")
    assert not media.is_binary_content_type("application/json")
    assert not media.is_binary_content_type("text/event-stream")
    assert not media.is_binary_content_type(None)


# --- list_models ----------------------------------------------------------------------------------


def test_list_models_offline_reads_the_table_and_sends_nothing(mode: str) -> None:
    api = Api(mode, ok([]))
    embeddings = api("list_models", "Text Embeddings")
    assert embeddings and all(isinstance(m, ModelInfo) for m in embeddings)
    assert {m.task for m in embeddings} == {"text-embeddings"}
    assert "@cf/baai/bge-base-en-v1.5" in {m.name for m in embeddings}
    assert api("list_models", "text-embeddings") == embeddings
    assert [m.name for m in api("list_models", search="bge-m3")] == ["@cf/baai/bge-m3"]
    everything = api("list_models")
    assert len(everything) > len(embeddings)
    assert api("list_models", "Object Detection") == [
        m for m in everything if m.task == "object-detection"
    ]
    assert api.requests == []


def catalog_entry(name: str, task: str = "Text-to-Image") -> dict[str, object]:
    return {"name": name, "description": f"the {name} model", "task": {"name": task}}


def test_list_models_online_pages_through_the_search(mode: str) -> None:
    pages = {
        1: [catalog_entry("@cf/a/one"), catalog_entry("@cf/a/two")],
        2: [catalog_entry("@cf/a/three")],
    }

    def respond(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        return json_response(200, {**envelope(pages[page]), "result_info": {"page": page}})

    api = Api(mode, respond)
    models = api("list_models", "text-to-image", online=True, per_page=2)
    assert [m.name for m in models] == ["@cf/a/one", "@cf/a/two", "@cf/a/three"]
    assert models[0].task == "text-to-image"
    assert models[0].description == "the @cf/a/one model"
    assert models[0].catalog["task"] == {"name": "Text-to-Image"}
    first, second = api.requests
    assert first.url.path == f"/client/v4/accounts/{ACCOUNT}/ai/models/search"
    assert dict(first.url.params) == {"per_page": "2", "task": "Text-to-Image"}
    assert dict(second.url.params) == {"per_page": "2", "page": "2", "task": "Text-to-Image"}


def test_list_models_online_stops_at_total_count_and_uses_the_table(mode: str) -> None:
    bge = "@cf/baai/bge-base-en-v1.5"
    page = [
        catalog_entry(bge, "Text Embeddings"),
        catalog_entry("@cf/new/embedder", "Text Embeddings"),
    ]
    api = Api(
        mode,
        lambda r: json_response(200, {**envelope(page), "result_info": {"total_count": 2}}),
    )
    models = api("list_models", "Text Embeddings", online=True, per_page=2)
    assert len(api.requests) == 1
    assert models[0] == require_model(bge)  # the table's richer entry
    assert models[0].dimensions == 768
    assert (models[1].name, models[1].task, models[1].input_schema) == (
        "@cf/new/embedder",
        "text-embeddings",
        {},
    )


def test_list_models_online_stops_when_the_server_ignores_page(mode: str) -> None:
    page = [catalog_entry("@cf/a/one"), catalog_entry("@cf/a/two")]
    api = Api(mode, ok(page))
    models = api("list_models", online=True, per_page=2)
    assert [m.name for m in models] == ["@cf/a/one", "@cf/a/two"]
    assert len(api.requests) == 2  # the second page brought nothing new


def test_list_models_online_failure_is_typed(mode: str) -> None:
    api = Api(
        mode,
        lambda r: json_response(
            200, {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}
        ),
    )
    with pytest.raises(APIError, match="Authentication error"):
        api("list_models", online=True)


async def test_async_client_run_binary_and_task_in_one_loop() -> None:
    rec = Recorder(binary(PNG, "image/png"))
    async with async_ai_client(rec) as client:
        raw, image = await client.run(SDXL, {"prompt": "x"}), await client.generate_image("x")
    assert isinstance(raw, ImageResult) and isinstance(image, ImageResult)
    assert raw.data == image.data == PNG
    assert rec.count == 2


def test_list_models_online_agrees_with_the_table_on_the_reranker(mode: str) -> None:
    """Cloudflare files the reranker under "Text Classification"; the table calls it
    reranking. Online and offline listings name the same models for either task."""
    listing = [
        catalog_entry("@cf/baai/bge-reranker-base", "Text Classification"),
        catalog_entry("@cf/huggingface/distilbert-sst-2-int8", "Text Classification"),
    ]
    api = Api(mode, ok(listing))
    rerankers = api("list_models", "reranking", online=True)
    assert [m.name for m in rerankers] == ["@cf/baai/bge-reranker-base"]
    assert api.requests[0].url.params["task"] == "Text Classification"
    classifiers = api("list_models", "Text Classification", online=True)
    assert [m.name for m in classifiers] == ["@cf/huggingface/distilbert-sst-2-int8"]
    assert [m.name for m in classifiers] == [
        m.name for m in api("list_models", "text-classification")
    ]
