"""Behaviour of the local task engines, called directly with the reference models' schemas."""

from __future__ import annotations

import base64
import io
import itertools
from functools import cache
from typing import Any

import numpy as np
import pytest
import soundfile
from PIL import Image

from cloudflare_ai_local import audio, inputs, speech, tasks, text_tasks
from cloudflare_ai_local.engine_io import TaskAnswer, TaskCall
from cloudflare_ai_local.errors import ApiError

from .schema_inputs import kebab, reference_entries, sample_png, sample_wav

SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
PHOENIX = "@cf/leonardo/phoenix-1.0"
SCHNELL = "@cf/black-forest-labs/flux-1-schnell"
KLEIN = "@cf/black-forest-labs/flux-2-klein-4b"
WHISPER = "@cf/openai/whisper"
NOVA = "@cf/deepgram/nova-3"
AURA = "@cf/deepgram/aura-1"
MELO = "@cf/myshell-ai/melotts"
M2M = "@cf/meta/m2m100-1.2b"
INDIC = "@cf/ai4bharat/indictrans2-en-indic-1B"
BART = "@cf/facebook/bart-large-cnn"
SST2 = "@cf/huggingface/distilbert-sst-2-int8"
RERANKER = "@cf/baai/bge-reranker-base"
RESNET = "@cf/microsoft/resnet-50"
DETR = "@cf/facebook/detr-resnet-50"
LLAVA = "@cf/llava-hf/llava-1.5-7b-hf"


@cache
def _entries() -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in reference_entries()}


def run(model: str, body: dict[str, Any]) -> TaskAnswer:
    entry = _entries()[model]
    schema = entry["schema"]
    call = TaskCall(model, body, schema["input"], schema["output"])
    return tasks.run_task(kebab(entry["task"]["name"]), call)


def fails(model: str, body: dict[str, Any], code: int = 5006) -> str:
    with pytest.raises(ApiError) as info:
        run(model, body)
    assert info.value.code == code, info.value
    return info.value.message


def image_of(answer: TaskAnswer) -> Image.Image:
    data = answer.media if answer.media is not None else base64.b64decode(answer.result["image"])
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def pixels(answer: TaskAnswer) -> np.ndarray[Any, Any]:
    return np.asarray(image_of(answer).convert("RGB"), dtype=float)


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> list[int]:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return list(buf.getvalue())


# --- text to image ---------------------------------------------------------------------------


def test_image_is_deterministic_and_depends_on_every_input() -> None:
    base = {"prompt": "a lighthouse at dawn", "width": 256, "height": 256, "seed": 1}
    first = run(SDXL, base)
    assert first.media == run(SDXL, dict(base)).media
    variants = [
        {**base, "prompt": "a lighthouse at dusk"},
        {**base, "seed": 2},
        {**base, "num_steps": 4},
        {**base, "negative_prompt": "fog"},
    ]
    for body in variants:
        other = pixels(run(SDXL, body))
        assert np.abs(other - pixels(first)).mean() > 1.0, body


def test_image_size_and_format_follow_request_and_schema() -> None:
    answer = run(SDXL, {"prompt": "a cat", "width": 320, "height": 256})
    assert answer.media_type == "image/png" and image_of(answer).format == "PNG"
    assert image_of(answer).size == (320, 256)
    answer = run(PHOENIX, {"prompt": "a cat", "width": 300, "height": 200})
    assert answer.media_type == "image/jpeg" and image_of(answer).size == (300, 200)
    answer = run(SCHNELL, {"prompt": "a cat"})
    assert answer.media is None and set(answer.result) == {"image"}
    assert image_of(answer).format == "JPEG" and image_of(answer).size == (1024, 1024)


def test_colour_words_choose_the_colours() -> None:
    red = pixels(run(SDXL, {"prompt": "a red apple", "width": 256, "height": 256})).mean((0, 1))
    blue = pixels(run(SDXL, {"prompt": "the blue ocean", "width": 256, "height": 256}))
    assert red[0] > 1.5 * max(red[1], red[2])
    assert blue.mean((0, 1))[2] > 1.5 * blue.mean((0, 1))[0]


@pytest.mark.parametrize("prompt", ["nsfw", "an NSFW scene", "something (Nsfw) here"])
def test_marker_word_gives_an_all_black_image(prompt: str) -> None:
    for model in (SDXL, PHOENIX, SCHNELL):
        img = image_of(run(model, {"prompt": prompt, "width": 256, "height": 256}))
        assert np.asarray(img).max() <= 2  # JPEG may round, PNG is exact
    assert image_of(run(SDXL, {"prompt": "nsfw", "width": 384, "height": 256})).size == (384, 256)


def test_marker_must_be_a_whole_word() -> None:
    img = image_of(run(SDXL, {"prompt": "nsfwish paintings", "width": 256, "height": 256}))
    assert np.asarray(img).mean() > 20


def test_img2img_blends_with_the_input_by_strength() -> None:
    body = {"prompt": "a red apple", "width": 256, "height": 256, "image": png((0, 0, 255))}
    plain = pixels(run(SDXL, {"prompt": "a red apple", "width": 256, "height": 256}))
    full = pixels(run(SDXL, body))
    assert np.abs(full - plain).max() == 0  # strength 1 (the default) ignores the input
    light = pixels(run(SDXL, {**body, "strength": 0.2})).mean((0, 1))
    assert light[2] > 150 and light[2] > light[0]  # mostly the blue input
    green = pixels(run(SDXL, {**body, "strength": 0.5, "image": png((0, 255, 0))}))
    assert np.abs(green - pixels(run(SDXL, {**body, "strength": 0.5}))).mean() > 20
    b64 = {**body, "strength": 0.2, "image_b64": base64.b64encode(bytes(body["image"])).decode()}
    del b64["image"]
    assert run(SDXL, b64).media == run(SDXL, {**body, "strength": 0.2}).media


def test_inpainting_changes_only_the_masked_part() -> None:
    mask = Image.new("L", (256, 256), 0)
    mask.paste(255, (0, 0, 128, 256))
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    body = {
        "prompt": "a red apple",
        "width": 256,
        "height": 256,
        "image": png((0, 0, 255), (256, 256)),
        "mask": list(buf.getvalue()),
    }
    out = pixels(run(SDXL, body))
    assert np.abs(out[:, 130:] - np.array([0, 0, 255])).max() == 0
    assert np.abs(out[:, :120] - np.array([0, 0, 255])).mean() > 50


def test_flux2_reference_image_and_bad_images() -> None:
    schema = _entries()[KLEIN]["schema"]["input"]
    plain = inputs.from_form(schema, {"prompt": "a cat", "width": "128", "height": "96"})
    ref = {**plain, "input_image_0": bytes(png((255, 255, 0)))}
    assert image_of(run(KLEIN, plain)).size == (128, 96)
    assert np.abs(pixels(run(KLEIN, ref)) - pixels(run(KLEIN, plain))).mean() > 10
    assert "not an image" in fails(KLEIN, {**plain, "input_image_0": b"not an image"})
    assert "at most" in fails(KLEIN, {**plain, "width": 100_000})
    assert "mask" in fails(SDXL, {"prompt": "x", "mask": png((255, 255, 255))})
    assert "not an image" in fails(SDXL, {"prompt": "x", "image": [1, 2, 3]})


# --- speech ----------------------------------------------------------------------------------


def transcribe(model: str, data: bytes) -> dict[str, Any]:
    result = run(model, {"audio": list(data)} if model == WHISPER else {"audio": {"body": data}})
    return dict(result.result)


@pytest.mark.parametrize("seconds", [1.0, 3.2, 7.5])
def test_transcript_fits_the_audio_length(seconds: float) -> None:
    result = transcribe(WHISPER, sample_wav(seconds))
    words = result["words"]
    assert result["word_count"] == len(words) == round(seconds * speech.WORDS_PER_SECOND)
    assert result["text"].split() == [w["word"] for w in words]
    assert words[0]["start"] >= 0 and words[-1]["end"] == pytest.approx(seconds, abs=0.01)
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in itertools.pairwise(words))
    assert result["vtt"].startswith("WEBVTT\n\n00:00:00.")
    assert result["text"].startswith("The quick")


def test_embedded_text_is_the_transcript_and_silence_is_empty() -> None:
    said = "Cloudflare runs models at the edge"
    assert transcribe(WHISPER, sample_wav(2.0, text=said))["text"] == said
    silent = audio.wav_bytes(np.zeros(16000, dtype=np.int16), 16000)
    assert transcribe(WHISPER, silent) == {
        "text": "",
        "word_count": 0,
        "words": [],
        "vtt": "WEBVTT\n\n",
    }


@pytest.mark.parametrize("encoding", [None, "linear16"])
def test_speech_round_trips_through_recognition(encoding: str | None) -> None:
    said = "Hello there, this is the local speaker."
    body = {"text": said} | ({"encoding": encoding} if encoding else {})
    spoken = run(AURA, body)
    assert spoken.media_type == ("audio/wav" if encoding else "audio/mpeg")
    assert spoken.media is not None
    samples, rate = soundfile.read(io.BytesIO(spoken.media))
    assert len(samples) / rate == pytest.approx(speech.speech_seconds(said), abs=0.05)
    heard = run(NOVA, {"audio": {"body": spoken.media, "contentType": spoken.media_type}})
    alternative = heard.result["results"]["channels"][0]["alternatives"][0]
    assert alternative["transcript"] == said
    assert alternative["words"][-1]["end"] <= len(samples) / rate + 1e-6
    if encoding:
        assert np.abs(samples).max() > 0.1  # tones, not silence


def test_speech_length_follows_the_text_and_speaker() -> None:
    short = run(AURA, {"text": "Hi."}).media
    long = run(AURA, {"text": "Hi. " * 30}).media
    assert short is not None and long is not None and len(long) > 10 * len(short)
    a = run(AURA, {"text": "Hi there", "encoding": "linear16", "speaker": "luna"}).media
    b = run(AURA, {"text": "Hi there", "encoding": "linear16", "speaker": "zeus"}).media
    assert a != b
    rate = soundfile.info(
        io.BytesIO(
            run(AURA, {"text": "x", "encoding": "linear16", "sample_rate": 16000}).media or b""
        )
    ).samplerate
    assert rate == 16000
    melo = run(MELO, {"prompt": "Bonjour", "lang": "fr"})
    assert melo.media is None and soundfile.read(io.BytesIO(base64.b64decode(melo.result["audio"])))


def test_speech_refusals() -> None:
    assert "flac" in fails(AURA, {"text": "hi", "encoding": "flac"})
    assert "empty" in fails(AURA, {"text": "  "})
    assert "could not be decoded" in fails(WHISPER, {"audio": list(sample_png())})
    assert "empty" in fails(WHISPER, {"audio": []})


def test_formats_whose_length_is_estimated_say_so() -> None:
    ogg = b"OggS" + bytes(31_996)
    answer = run(WHISPER, {"audio": list(ogg)})
    assert answer.result["words"][-1]["end"] == pytest.approx(2.0, abs=0.01)
    assert "estimated" in answer.headers["x-local-audio-duration"]
    assert "x-local-audio-duration" not in run(WHISPER, {"audio": list(sample_wav(1))}).headers


def test_mp3_and_flac_durations_are_read_from_the_file() -> None:
    assert audio.inspect(audio.mp3_bytes(2.0)).duration == pytest.approx(2.0, abs=0.03)
    buf = io.BytesIO()
    soundfile.write(buf, np.zeros(44100 * 3), 44100, format="FLAC")
    info = audio.inspect(buf.getvalue())
    assert (info.format, info.duration, info.estimated) == ("flac", 3.0, False)


# --- text tasks ------------------------------------------------------------------------------


def test_translation_word_table_and_tags() -> None:
    out = run(M2M, {"text": "Hello world!", "target_lang": "fr"}).result
    assert out == {"translated_text": "[fr] Bonjour monde!"}
    back = run(M2M, {"text": "bonjour monde", "source_lang": "french", "target_lang": "es"})
    assert back.result["translated_text"] == "[es] hola mundo"
    assert run(M2M, {"text": "same", "source_lang": "de", "target_lang": "de"}).result == {
        "translated_text": "same"
    }
    assert "'xx'" in fails(M2M, {"text": "hi", "target_lang": "xx"})
    assert "source_lang" in fails(
        M2M, {"text": "hi", "source_lang": "klingon", "target_lang": "fr"}
    )
    indic = run(INDIC, {"text": ["hello world", "good day"], "target_language": "hin_Deva"})
    assert indic.result == {"translations": ["[hin_Deva] नमस्ते दुनिया", "[hin_Deva] अच्छा दिन"]}
    assert run(INDIC, {"text": "a book", "target_language": "tam_Taml"}).result == {
        "translations": ["[tam_Taml] a book"]
    }


def test_summary_keeps_the_central_sentences_within_max_length() -> None:
    text = (
        "Solar panels turn sunlight into electricity. Bananas are yellow. "
        "Modern solar panels convert more sunlight than older solar panels did. "
        "My neighbour owns a dog. Solar electricity is cheaper every year."
    )
    summary = run(BART, {"input_text": text, "max_length": 30}).result["summary"]
    assert "solar panels" in summary.lower() and "Bananas" not in summary
    assert all(s in text for s in summary.split(". "))
    assert text_tasks.estimate_tokens(summary) <= 30
    tiny = run(BART, {"input_text": text, "max_length": 8}).result["summary"]
    assert 0 < len(tiny.split()) < 4 and text_tasks.estimate_tokens(tiny) <= 8
    assert len(run(BART, {"input_text": text, "max_length": 1}).result["summary"].split()) == 1


def test_sentiment_scores() -> None:
    def positive(text: str) -> float:
        labels = {d["label"]: d["score"] for d in run(SST2, {"text": text}).result}
        assert labels["POSITIVE"] + labels["NEGATIVE"] == pytest.approx(1.0)
        return float(labels["POSITIVE"])

    assert positive("I love it, a wonderful and helpful tool") > 0.95
    assert positive("terrible, slow and broken") < 0.05
    assert positive("this is not good") < 0.5 < positive("this is good")


def test_reranker_reorders_by_relevance() -> None:
    contexts = [
        {"text": "Bananas are rich in potassium."},
        {"text": "The Eiffel Tower stands in Paris."},
        {"text": "Paris hosts the Eiffel Tower, completed in 1889."},
    ]
    ranked = run(RERANKER, {"query": "When was the Eiffel Tower completed?", "contexts": contexts})
    ids = [r["id"] for r in ranked.result["response"]]
    assert ids[0] == 2 and ids[-1] == 0
    scores = [r["score"] for r in ranked.result["response"]]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] < scores[0] < 1
    top = run(RERANKER, {"query": "bananas", "contexts": contexts, "top_k": 1}).result
    assert top == {"response": [{"id": 0, "score": top["response"][0]["score"]}]}


# --- vision ----------------------------------------------------------------------------------


def test_classification_names_the_dominant_colour() -> None:
    red = run(RESNET, {"image": png((210, 20, 30))}).result
    assert len(red) == 5 and red[0]["label"] == "STRAWBERRY"
    assert [r["score"] for r in red] == sorted((r["score"] for r in red), reverse=True)
    assert sum(r["score"] for r in red) <= 1.0
    assert run(RESNET, {"image": png((250, 230, 30))}).result[0]["label"] == "LEMON"
    assert "not an image" in fails(RESNET, {"image": [0, 1, 2, 3]})


def test_detection_boxes_the_object() -> None:
    found = run(DETR, {"image": list(sample_png(96, 64))}).result
    assert len(found) == 1
    box = found[0]["box"]
    # sample_png: a red square at x 48..80, y 16..48 on white
    assert abs(box["xmin"] - 48) <= 2 and abs(box["xmax"] - 80) <= 2
    assert abs(box["ymin"] - 16) <= 2 and abs(box["ymax"] - 48) <= 2
    assert found[0]["label"] == "stop sign" and 0.5 < found[0]["score"] < 1
    assert run(DETR, {"image": png((0, 128, 0))}).result == []


def test_description_from_size_and_colours() -> None:
    text = run(LLAVA, {"image": list(sample_png(96, 64))}).result["description"]
    assert text.startswith("A 96x64 landscape image, mostly white, with red.")
    assert "red shape near the right" in text
    short = run(LLAVA, {"image": list(sample_png()), "max_tokens": 3}).result["description"]
    assert short == "A 96x64 landscape"


# --- input forms -----------------------------------------------------------------------------


def test_binary_fields_come_from_the_schemas() -> None:
    def field(name: str) -> str | None:
        return inputs.binary_field(_entries()[name]["schema"]["input"])

    assert [field(m) for m in (WHISPER, RESNET, DETR, LLAVA, NOVA)] == [
        "audio",
        "image",
        "image",
        "image",
        "audio",
    ]
    assert field(SDXL) is None and field(KLEIN) is None and field(M2M) is None
    assert inputs.takes_multipart(_entries()[KLEIN]["schema"]["input"])


def test_byte_fields_in_every_form(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"\x00\x01\xfe\xff"
    b64 = base64.b64encode(data).decode()
    for value in (
        data,
        list(data),
        [0.0, 1.0, 254.0, 255.0],
        b64,
        "data:image/png;base64," + b64,
        {"body": data, "contentType": "x"},
    ):
        assert inputs.read_bytes(value, "/x") == data
    for bad in ([256], [-1], [1.5], ["1"]):
        with pytest.raises(ApiError) as err:
            inputs.read_bytes(bad, "/audio")
        assert err.value.code == 5006 and "/audio/0" in err.value.message
    with pytest.raises(ApiError) as err:
        inputs.read_bytes("not base64!", "/image_b64")
    assert err.value.code == 5004
    monkeypatch.setattr(inputs, "MAX_MEDIA_BYTES", 3)
    with pytest.raises(ApiError) as err:
        inputs.read_bytes(data, "/audio")
    assert (err.value.code, err.value.status) == (3006, 413)


def test_long_byte_arrays_validate_quickly_but_strictly() -> None:
    from cloudflare_ai_local import workers_ai

    from .schema_inputs import reference_model

    info = reference_model(_entries()[WHISPER])
    data = list(sample_wav(1.0))
    view = inputs.schema_view({"audio": data})
    assert len(view["audio"]) < 5000 and view["audio"] == data[: len(view["audio"])]
    workers_ai.validate_input(info, view)
    for bad in ("7", True):  # 300 passes the schema; read_bytes refuses it
        with pytest.raises(ApiError) as err:
            workers_ai.validate_input(info, inputs.schema_view({"audio": [*data, bad]}))
        assert err.value.code == 5006
