"""The task methods (generate_image, transcribe, translate, summarize, classify_text,
classify_image, detect_objects, describe_image, rerank, speak), sync and async twins alike.

Each sends its input in the form the model's published schema asks for (the reference schemas
in tests/reference/workers-ai-models/), answers shaped like the output schemas come back typed,
and bad input is refused, naming the argument, before anything is sent.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from cloudflare_ai import (
    AudioResult,
    Box,
    Detection,
    ImageResult,
    InvalidRequestError,
    Label,
    Ranked,
    Transcription,
    ValidationError,
    Word,
    media,
)

from ._support import clear_env, failure, json_response
from ._tasks_support import (
    AURA,
    BART,
    BLACK_PNG,
    DETR,
    DISTILBERT,
    DREAMSHAPER,
    FLUX_KLEIN,
    FLUX_SCHNELL,
    INDICTRANS,
    JPEG,
    LLAVA,
    M2M,
    MELOTTS,
    MP3,
    NOVA,
    PHOENIX,
    PNG,
    RERANKER,
    RESNET,
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


def ints(data: bytes) -> list[int]:
    return list(data)


# --- generate_image -----------------------------------------------------------------------------


def test_generate_image_sends_json_and_returns_the_png_as_it_came(mode: str) -> None:
    api = Api(mode, binary(PNG, "image/png", **{"cf-ray": "ray-1"}))
    image = api(
        "generate_image",
        "a red square",
        negative_prompt="blur",
        num_steps=12,
        guidance=6.5,
        seed=7,
        width=512,
        height=768,
    )
    assert api.request.url.path.endswith(f"/ai/run/{SDXL}")
    assert api.request.headers["content-type"] == "application/json"
    assert api.body() == {
        "prompt": "a red square",
        "negative_prompt": "blur",
        "num_steps": 12,
        "guidance": 6.5,
        "seed": 7,
        "width": 512,
        "height": 768,
    }
    assert isinstance(image, ImageResult)
    assert image.data == PNG
    assert image.content_type == "image/png"
    assert image.model == SDXL
    assert image.request_id == "ray-1"
    assert image.size == (8, 6)
    assert image.is_blank is False


def test_generate_image_is_blank_for_the_safety_filters_black_image(mode: str) -> None:
    image = Api(mode, binary(BLACK_PNG, "image/png"))("generate_image", "something refused")
    assert image.is_blank is True


def test_generate_image_img2img_sends_image_and_mask_as_integer_arrays(mode: str) -> None:
    mask = image_bytes(color=(255, 255, 255))
    api = Api(mode, binary(PNG, "image/png"))
    api("generate_image", "repaint", model=DREAMSHAPER, image=PNG, mask=mask, strength=0.4)
    body = api.body()
    assert body["image"] == ints(PNG)
    assert body["mask"] == ints(mask)
    assert body["strength"] == 0.4
    assert "image_b64" not in body


def test_generate_image_accepts_a_path_and_a_file_object(
    mode: str, tmp_path: pytest.TempPathFactory
) -> None:
    path = tmp_path / "input.png"  # type: ignore[operator]
    path.write_bytes(PNG)
    api = Api(mode, binary(PNG, "image/png"))
    api("generate_image", "from a path", image=path)
    with path.open("rb") as handle:
        api("generate_image", "from a file", image=handle)
    api("generate_image", "from a str path", image=str(path))
    assert [orjson.loads(r.content)["image"] for r in api.requests] == [ints(PNG)] * 3


def test_generate_image_decodes_a_base64_json_answer(mode: str) -> None:
    api = Api(mode, ok({"image": b64(JPEG)}))
    image = api("generate_image", "a lake", model=FLUX_SCHNELL, num_steps=4)
    # flux-1-schnell calls the step count "steps" and refuses unknown inputs.
    assert api.body() == {"prompt": "a lake", "steps": 4}
    assert isinstance(image, ImageResult)
    assert image.data == JPEG
    assert image.content_type == "image/jpeg"
    assert image.size == (8, 6)


def test_generate_image_jpeg_model(mode: str) -> None:
    image = Api(mode, binary(JPEG, "image/jpeg"))("generate_image", "x", model=PHOENIX)
    assert image.content_type == "image/jpeg"
    assert image.extension == ".jpg"


def test_generate_image_flux2_sends_multipart_form_data_even_for_a_prompt(mode: str) -> None:
    api = Api(mode, ok({"image": b64(PNG)}))
    image = api("generate_image", "a sunset", model=FLUX_KLEIN, num_steps=4, width=1024, height=768)
    parts = form_parts(api.request)
    assert {k: v[0] for k, v in parts.items()} == {
        "prompt": b"a sunset",
        "steps": b"4",
        "width": b"1024",
        "height": b"768",
    }
    assert image.data == PNG

    api = Api(mode, ok({"image": b64(PNG)}))
    api("generate_image", "restyle", model=FLUX_KLEIN, image=JPEG, seed=3)
    parts = form_parts(api.request)
    assert parts["input_image_0"] == (JPEG, "input_image_0.jpg", "image/jpeg")
    assert parts["seed"][0] == b"3"


def test_generate_image_save_adds_the_right_extension(
    mode: str, tmp_path: pytest.TempPathFactory
) -> None:
    image = Api(mode, binary(PNG, "image/png"))("generate_image", "x")
    written = image.save(tmp_path / "picture")  # type: ignore[operator]
    assert written.name == "picture.png"
    assert written.read_bytes() == PNG
    assert image.save(tmp_path / "kept.PNG").name == "kept.PNG"  # type: ignore[operator]
    with pytest.raises(ValidationError, match=r"image/png.*'\.png'"):
        image.save(tmp_path / "wrong.jpg")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"prompt": ""}, "prompt", r"prompt must not be empty"),
        ({"prompt": "   "}, "prompt", r"prompt must not be empty"),
        ({"prompt": 42}, "prompt", r"prompt must be a string, got int"),
        ({"width": 100}, "width", r"'width' must be at least 256, got 100"),
        ({"num_steps": 30}, "num_steps", r"'num_steps' must be at most 20, got 30"),
        ({"seed": "7"}, "seed", r"'seed' must be an integer, got str"),
        ({"image": b"not an image at all"}, "image", r"image is not a readable image"),
        ({"image": b""}, "image", r"image is empty"),
        ({"image": 12345}, "image", r"image must be bytes, a file path or a binary file"),
        ({"image": "/no/such/picture.png"}, "image", r"no such file '/no/such/picture.png'"),
        ({"mask": b"\x89PNG but broken"}, "mask", r"mask is not a readable image"),
        ({"model": "@cf/nobody/no-such-model"}, "model", r"unknown model '@cf/nobody/no-such"),
        ({"options": {"tiling": True}}, "tiling", r"takes no 'tiling' input"),
        ({"options": {"seed": 1}, "seed": 2}, "seed", r"both as an argument and in options"),
    ],
)
def test_generate_image_refuses_bad_input_before_sending(
    mode: str, kwargs: dict[str, object], field: str, message: str
) -> None:
    api = Api(mode, binary(PNG, "image/png"))
    args = {"prompt": "a cat", **kwargs}  # a copy: the parameters are shared by both modes
    with pytest.raises(ValidationError, match=message) as info:
        api("generate_image", args.pop("prompt"), **args)
    assert info.value.field == field
    assert api.requests == []


def test_generate_image_names_the_schema_field_when_it_differs(mode: str) -> None:
    api = Api(mode, ok({"image": b64(PNG)}))
    with pytest.raises(ValidationError, match=r"'num_steps' \(sent as 'steps'\) must be at most 8"):
        api("generate_image", "x", model=FLUX_SCHNELL, num_steps=9)
    with pytest.raises(ValidationError, match=r"takes no 'negative_prompt' input") as info:
        api("generate_image", "x", model=FLUX_SCHNELL, negative_prompt="blur")
    assert info.value.field == "negative_prompt"
    with pytest.raises(ValidationError, match=r"takes no 'mask' input"):
        api("generate_image", "x", model=FLUX_KLEIN, mask=PNG)
    with pytest.raises(ValidationError, match=r"'width' must be at most 1920"):
        api("generate_image", "x", model=FLUX_KLEIN, width=4096)
    assert api.requests == []


def test_an_oversized_image_is_refused(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media, "MAX_IMAGE_BYTES", len(PNG) - 1)
    api = Api(mode, ok([]))
    with pytest.raises(
        ValidationError, match=r"image is [\d,]+ bytes; images up to [\d,]+ bytes"
    ) as info:
        api("classify_image", PNG)
    assert info.value.field == "image"
    assert api.requests == []


def test_a_text_mode_file_is_refused(mode: str, tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "a.png"  # type: ignore[operator]
    path.write_bytes(PNG)
    api = Api(mode, ok([]))
    with (
        path.open("r", encoding="latin-1") as handle,
        pytest.raises(ValidationError, match="text mode; open it with 'rb'"),
    ):
        api("detect_objects", handle)
    assert api.requests == []


def test_an_answer_without_an_image_is_an_api_error(mode: str) -> None:
    from cloudflare_ai import APIError

    with pytest.raises(APIError, match=r"answered without 'image'"):
        Api(mode, ok({"nope": 1}))("generate_image", "x", model=FLUX_SCHNELL)
    with pytest.raises(APIError, match=r"answered audio/mpeg where image/\* was expected"):
        Api(mode, binary(MP3, "audio/mpeg"))("generate_image", "x")


# --- transcribe ---------------------------------------------------------------------------------


WHISPER_ANSWER = {
    "text": "hello world",
    "word_count": 2,
    "words": [
        {"word": "hello", "start": 0.0, "end": 0.4},
        {"word": "world", "start": 0.5, "end": 0.9},
    ],
    "vtt": "WEBVTT\n\n00:00.000 --> 00:00.900\nhello world",
}


def test_transcribe_whisper_sends_audio_as_integers(mode: str) -> None:
    api = Api(mode, ok(WHISPER_ANSWER))
    result = api("transcribe", MP3)
    assert api.request.url.path.endswith(f"/ai/run/{WHISPER}")
    assert api.body() == {"audio": ints(MP3)}
    assert isinstance(result, Transcription)
    assert result.text == "hello world"
    assert result.words == [Word("hello", 0.0, 0.4), Word("world", 0.5, 0.9)]
    assert result.words[0].end == 0.4
    assert result.vtt.startswith("WEBVTT")  # type: ignore[union-attr]
    assert result.word_count == 2
    assert result.language is None and result.duration is None


def test_transcribe_turbo_sends_base64_and_reads_language_duration_and_segment_words(
    mode: str,
) -> None:
    answer = {
        "text": "bonjour",
        "transcription_info": {"language": "fr", "duration": 1.5},
        "segments": [
            {
                "start": 0,
                "end": 1.5,
                "text": "bonjour",
                "words": [{"word": "bonjour", "start": 0.1, "end": 0.8}],
            }
        ],
    }
    api = Api(mode, ok(answer))
    result = api("transcribe", WAV, model=WHISPER_TURBO, language="fr", prompt="a greeting")
    assert api.body() == {"audio": b64(WAV), "language": "fr", "initial_prompt": "a greeting"}
    assert (result.language, result.duration) == ("fr", 1.5)
    assert result.words == [Word("bonjour", 0.1, 0.8)]


def test_transcribe_nova3_sends_the_raw_audio_with_its_type(mode: str) -> None:
    answer = {
        "results": {
            "channels": [
                {
                    "detected_language": "en",
                    "alternatives": [
                        {
                            "transcript": "hi there",
                            "words": [{"word": "hi", "start": 0.0, "end": 0.2, "confidence": 0.9}],
                        }
                    ],
                }
            ]
        },
        "metadata": {"duration": 2.25},
    }
    api = Api(mode, ok(answer))
    result = api("transcribe", MP3, model=NOVA, language="en", options={"punctuate": True})
    request = api.request
    assert request.headers["content-type"] == "audio/mpeg"
    assert request.content == MP3
    # UNCERTAIN upstream: the other inputs travel in the query string.
    assert dict(request.url.params) == {"language": "en", "punctuate": "true"}
    assert result.text == "hi there"
    assert (result.language, result.duration) == ("en", 2.25)
    assert result.words == [Word("hi", 0.0, 0.2)]


def test_transcribe_raw_pcm_needs_a_content_type(mode: str) -> None:
    pcm = bytes(320)
    api = Api(mode, ok({"results": {"channels": [{"alternatives": [{"transcript": ""}]}]}}))
    with pytest.raises(ValidationError, match="not a recognised audio file") as info:
        api("transcribe", pcm, model=NOVA)
    assert info.value.field == "audio"
    assert api.requests == []
    api("transcribe", pcm, model=NOVA, content_type="audio/l16", options={"encoding": "linear16"})
    assert api.request.headers["content-type"] == "audio/l16"


@pytest.mark.parametrize(
    ("args", "kwargs", "field", "message"),
    [
        ((b"just some text",), {}, "audio", r"not a recognised audio file"),
        ((PNG,), {}, "audio", r"not a recognised audio file"),
        ((b"",), {}, "audio", r"audio is empty"),
        ((MP3,), {"language": "en"}, "language", r"@cf/openai/whisper takes no 'language'"),
        (
            (MP3,),
            {"model": NOVA, "options": {"mode": "legal"}},
            "mode",
            r"'mode' must be one of 'general'",
        ),
    ],
)
def test_transcribe_refuses_bad_input_before_sending(
    mode: str, args: tuple[object, ...], kwargs: dict[str, object], field: str, message: str
) -> None:
    api = Api(mode, ok(WHISPER_ANSWER))
    with pytest.raises(ValidationError, match=message) as info:
        api("transcribe", *args, **kwargs)
    assert info.value.field == field
    assert api.requests == []


def test_an_oversized_audio_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media, "MAX_AUDIO_BYTES", 100)
    api = Api("sync", ok(WHISPER_ANSWER))
    with pytest.raises(ValidationError, match=r"audio is [\d,]+ bytes; audio up to 100 bytes"):
        api("transcribe", MP3)
    assert api.requests == []


# --- text tasks ---------------------------------------------------------------------------------


def test_translate(mode: str) -> None:
    api = Api(mode, ok({"translated_text": "Bonjour"}))
    assert api("translate", "Hello", target_lang="fr") == "Bonjour"
    assert api.request.url.path.endswith(M2M)
    assert api.body() == {"text": "Hello", "target_lang": "fr", "source_lang": "en"}


def test_translate_with_a_model_that_names_fields_differently(mode: str) -> None:
    api = Api(mode, ok({"translations": ["नमस्ते"]}))
    assert api("translate", "Hello", target_lang="hin_Deva", model=INDICTRANS) == "नमस्ते"
    # indictrans2 translates from English and has no source field: the default is not sent.
    assert api.body() == {"text": "Hello", "target_language": "hin_Deva"}


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        (
            {"target_lang": "xx_Nope", "model": INDICTRANS},
            "target_lang",
            r"'target_lang' \(sent as 'target_language'\) must be one of 'asm_Beng'",
        ),
        (
            {"target_lang": "hin_Deva", "source_lang": "fr", "model": INDICTRANS},
            "source_lang",
            r"takes no 'source_lang' input",
        ),
        ({"target_lang": ""}, "target_lang", r"target_lang must not be empty"),
        ({"target_lang": 3}, "target_lang", r"target_lang must be a string"),
        ({"target_lang": "fr", "text": ""}, "text", r"text must not be empty"),
        ({"target_lang": "fr", "text": ["a", "b"]}, "text", r"text must be a string, got list"),
    ],
)
def test_translate_refuses_bad_input(
    mode: str, kwargs: dict[str, object], field: str, message: str
) -> None:
    api = Api(mode, ok({"translated_text": "x"}))
    kwargs = dict(kwargs)
    text = kwargs.pop("text", "Hello")
    with pytest.raises(ValidationError, match=message) as info:
        api("translate", text, **kwargs)
    assert info.value.field == field
    assert api.requests == []


def test_summarize(mode: str) -> None:
    api = Api(mode, ok({"summary": "Short."}))
    assert api("summarize", "A long text. " * 20, max_length=64) == "Short."
    assert api.body() == {"input_text": "A long text. " * 20, "max_length": 64}
    assert api.request.url.path.endswith(BART)
    with pytest.raises(ValidationError, match=r"'max_length' must be an integer, got str"):
        api("summarize", "text", max_length="64")


def test_classify_text_best_first(mode: str) -> None:
    api = Api(mode, ok([{"label": "NEGATIVE", "score": 0.1}, {"label": "POSITIVE", "score": 0.9}]))
    labels = api("classify_text", "I love it")
    assert labels == [Label("POSITIVE", 0.9), Label("NEGATIVE", 0.1)]
    assert labels[0].label == "POSITIVE"
    assert api.body() == {"text": "I love it"}
    assert api.request.url.path.endswith(DISTILBERT)
    with pytest.raises(ValidationError, match="text must not be empty"):
        api("classify_text", "")


def test_rerank_best_first_with_passages(mode: str) -> None:
    passages = ["about cats", "about vectors", "about bread"]
    answer = {
        "response": [{"id": 0, "score": 0.2}, {"id": 1, "score": 0.95}, {"id": 2, "score": 0.01}]
    }
    api = Api(mode, ok(answer))
    ranked = api("rerank", "vector databases", passages)
    assert ranked == [
        Ranked(1, 0.95, "about vectors"),
        Ranked(0, 0.2, "about cats"),
        Ranked(2, 0.01, "about bread"),
    ]
    index, score, passage = ranked[0]
    assert (index, score, passage) == (1, 0.95, "about vectors")
    assert api.body() == {"query": "vector databases", "contexts": [{"text": p} for p in passages]}
    assert api.request.url.path.endswith(RERANKER)


def test_rerank_top_k(mode: str) -> None:
    answer = {"response": [{"id": 1, "score": 0.9}, {"id": 0, "score": 0.5}]}
    api = Api(mode, ok(answer))
    assert api("rerank", "q", ["a", "b", "c"], top_k=1) == [Ranked(1, 0.9, "b")]
    assert api.body()["top_k"] == 1


@pytest.mark.parametrize(
    ("query", "passages", "kwargs", "field", "position", "message"),
    [
        ("q", [], {}, "passages", None, r"passages must not be empty"),
        ("q", "one string", {}, "passages", None, r"passages must be a list of strings, got str"),
        ("q", ["ok", "  "], {}, "passages", 1, r"passage #1 is empty"),
        ("q", ["ok", 3], {}, "passages", 1, r"passage #1 is a int"),
        ("", ["ok"], {}, "query", None, r"query must not be empty"),
        ("q", ["ok"], {"top_k": 0}, "top_k", None, r"'top_k' must be at least 1, got 0"),
    ],
)
def test_rerank_refuses_bad_input(
    mode: str,
    query: object,
    passages: object,
    kwargs: dict[str, object],
    field: str,
    position: int | None,
    message: str,
) -> None:
    api = Api(mode, ok({"response": []}))
    with pytest.raises(ValidationError, match=message) as info:
        api("rerank", query, passages, **kwargs)
    assert (info.value.field, info.value.position) == (field, position)
    assert api.requests == []


# --- image understanding ------------------------------------------------------------------------


def test_classify_image(mode: str) -> None:
    api = Api(mode, ok([{"label": "TABBY", "score": 0.3}, {"label": "EGYPTIAN CAT", "score": 0.6}]))
    assert api("classify_image", PNG) == [Label("EGYPTIAN CAT", 0.6), Label("TABBY", 0.3)]
    assert api.request.url.path.endswith(RESNET)
    assert api.body() == {"image": ints(PNG)}


def test_detect_objects(mode: str) -> None:
    answer = [
        {"label": "cat", "score": 0.7, "box": {"xmin": 1, "ymin": 2, "xmax": 30, "ymax": 40}},
        {"label": "remote", "score": 0.99, "box": {"xmin": 5, "ymin": 6, "xmax": 7, "ymax": 8}},
        {"label": "blob", "score": 0.1},
    ]
    api = Api(mode, ok(answer))
    found = api("detect_objects", JPEG)
    assert found == [
        Detection("remote", 0.99, Box(5, 6, 7, 8)),
        Detection("cat", 0.7, Box(1, 2, 30, 40)),
        Detection("blob", 0.1, None),
    ]
    assert found[0].box.xmax == 7  # type: ignore[union-attr]
    assert api.request.url.path.endswith(DETR)
    assert api.body() == {"image": ints(JPEG)}


def test_describe_image(mode: str) -> None:
    api = Api(mode, ok({"description": "A red square."}))
    assert api("describe_image", PNG, prompt="What is this?", max_tokens=50) == "A red square."
    assert api.body() == {"image": ints(PNG), "prompt": "What is this?", "max_tokens": 50}
    assert api.request.url.path.endswith(LLAVA)
    api("describe_image", PNG)
    assert orjson.loads(api.requests[1].content)["prompt"] == "Describe this image."


def test_image_bytes_go_on_the_wire_as_a_numpy_view_not_a_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[object] = []
    real = orjson.dumps

    def spy(value: object, *args: object, **kwargs: object) -> bytes:
        if isinstance(value, dict) and "image" in value:
            seen.append(value["image"])
        return real(value, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("cloudflare_ai.transport.orjson.dumps", spy)
    Api("sync", ok([]))("classify_image", PNG)
    [sent] = seen
    assert isinstance(sent, np.ndarray) and sent.dtype == np.uint8 and sent.tobytes() == PNG


# --- speak --------------------------------------------------------------------------------------


def test_speak_returns_the_audio_as_it_came(mode: str) -> None:
    api = Api(mode, binary(MP3, "audio/mpeg"))
    audio = api("speak", "Hello there", voice="luna")
    assert api.request.url.path.endswith(AURA)
    assert api.body() == {"text": "Hello there", "speaker": "luna"}
    assert isinstance(audio, AudioResult)
    assert (audio.data, audio.content_type, audio.extension) == (MP3, "audio/mpeg", ".mp3")


def test_speak_decodes_melotts_base64_answer(mode: str) -> None:
    api = Api(mode, ok({"audio": b64(MP3)}))
    audio = api("speak", "Bonjour", model=MELOTTS, language="fr")
    assert api.body() == {"prompt": "Bonjour", "lang": "fr"}
    assert (audio.data, audio.content_type) == (MP3, "audio/mpeg")


def test_speak_melotts_answer_of_unrecognised_bytes_takes_the_schema_type(mode: str) -> None:
    audio = Api(mode, ok({"audio": b64(b"\x00\x01\x02 raw")}))("speak", "x", model=MELOTTS)
    assert audio.content_type == "audio/mpeg"  # melotts's output schema declares audio/mpeg


def test_speak_refuses_bad_input(mode: str) -> None:
    api = Api(mode, binary(MP3, "audio/mpeg"))
    with pytest.raises(
        ValidationError, match=r"'voice' \(sent as 'speaker'\) must be one of 'angus'"
    ) as info:
        api("speak", "hi", voice="nobody")
    assert info.value.field == "voice"
    with pytest.raises(ValidationError, match="text must not be empty"):
        api("speak", "")
    with pytest.raises(ValidationError, match=r"takes no 'voice' input"):
        api("speak", "hi", model=MELOTTS, voice="luna")
    assert api.requests == []


# --- errors and retries with media bodies -------------------------------------------------------


def test_a_refused_upload_is_not_retried(mode: str) -> None:
    api = Api(mode, lambda r: json_response(400, failure(5006, "Bad input: audio")))
    with pytest.raises(InvalidRequestError) as info:
        api("transcribe", MP3)
    assert info.value.code == 5006
    assert len(api.requests) == 1


def test_a_too_large_upload_is_not_retried(mode: str) -> None:
    api = Api(mode, lambda r: json_response(413, failure(3006, "Request is too large")))
    with pytest.raises(InvalidRequestError):
        api("transcribe", MP3, model=NOVA)
    assert len(api.requests) == 1


@pytest.mark.parametrize("model", [WHISPER, NOVA])
def test_transient_failures_resend_the_same_body(mode: str, model: str) -> None:
    answers = iter(
        [
            json_response(503, failure(None, "busy")),
            json_response(200, {"success": True, "result": WHISPER_ANSWER}),
        ]
    )
    api = Api(mode, lambda r: next(answers))
    assert api("transcribe", MP3, model=model).text == "hello world"
    first, second = api.requests
    assert first.content == second.content and len(first.content) >= len(MP3)
    assert first.headers["content-type"] == second.headers["content-type"]


def test_multipart_retry_resends_identical_bytes(mode: str) -> None:
    answers = iter(
        [
            json_response(429, failure(3040, "Capacity")),
            json_response(200, {"success": True, "result": {"image": b64(PNG)}}),
        ]
    )
    api = Api(mode, lambda r: next(answers))
    api("generate_image", "x", model=FLUX_KLEIN, image=PNG)
    first, second = api.requests
    assert first.content == second.content
    assert first.headers["content-type"] == second.headers["content-type"]


def test_task_calls_go_through_the_gateway(mode: str) -> None:
    api = Api(mode, binary(PNG, "image/png", **{"cf-aig-cache-status": "HIT"}), gateway="my-gw")
    image = api("generate_image", "x")
    assert "/my-gw/workers-ai/" in str(api.request.url)
    assert image.gateway is not None and image.gateway.cache_status == "HIT"
