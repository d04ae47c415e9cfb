"""Images in chat messages, checked and shaped for each vision model before sending (the
request bodies are captured by a mock transport), and remote images downloaded (from a
loopback server)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from cloudflare_ai import ValidationError, chat_images
from cloudflare_ai.chat_images import prepare_messages
from tests.vision_support import (
    BLUE,
    GEMMA,
    LLAMA,
    LLAMA_VISION,
    LLAVA,
    MISTRAL,
    RED,
    SCOUT,
    b64,
    data_url,
    image_server,
    jpeg,
    png,
)

from ._support import Recorder, ai_client, async_ai_client, envelope, json_response


def _user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(parts)}


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _answering() -> Recorder:
    return Recorder(lambda _: json_response(200, envelope({"response": "ok"})))


def _sent(recorder: Recorder) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(recorder.requests[-1].content)
    return body


def test_parts_models_keep_the_image_in_the_message_with_its_real_type() -> None:
    image = jpeg(RED)
    for model in (SCOUT, GEMMA, MISTRAL):
        recorder = _answering()
        with ai_client(recorder) as ai:
            # labelled PNG, but the bytes are a JPEG: the type sent is the one of the bytes
            ai.chat(model, [_user(_text("What is it?"), _image(data_url(image, "image/png")))])
        body = _sent(recorder)
        assert "image" not in body
        assert body["messages"][0]["content"] == [
            _text("What is it?"),
            _image(f"data:image/jpeg;base64,{b64(image)}"),
        ]


def test_llama_3_2_vision_takes_one_image_as_integers_beside_string_messages() -> None:
    image = png(BLUE)
    recorder = _answering()
    messages = [
        {"role": "system", "content": "Be brief."},
        _user(_text("What colour"), _image(data_url(image)), _text("is this?")),
    ]
    with ai_client(recorder) as ai:
        ai.chat(LLAMA_VISION, messages)
    body = _sent(recorder)
    assert body["image"] == list(image)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What colour\nis this?"},
    ]


def test_llama_3_2_vision_refuses_a_second_image() -> None:
    url = data_url(png(RED))
    with pytest.raises(ValidationError, match="one image per request, got 2"):
        prepare_messages(LLAMA_VISION, [_user(_image(url)), _user(_image(url))])


def test_openai_route_sends_parts_for_every_vision_model() -> None:
    recorder = Recorder(
        lambda _: json_response(
            200, {"choices": [{"message": {"role": "assistant", "content": "ok"}}]}
        )
    )
    url = data_url(png(RED))
    with ai_client(recorder) as ai:
        ai.chat(LLAMA_VISION, [_user(_text("hi"), _image(url))], api="openai")
    body = _sent(recorder)
    assert "image" not in body
    assert body["messages"][0]["content"][1] == _image(url)


def test_text_only_messages_are_sent_as_given() -> None:
    messages = [_user(_text("one"), _text("two")), {"role": "assistant", "content": "x"}]
    assert prepare_messages(LLAMA, messages) == (messages, {})
    assert prepare_messages(LLAMA_VISION, messages) == (messages, {})


def test_a_text_model_given_an_image_is_refused_naming_a_vision_model() -> None:
    recorder = _answering()
    with ai_client(recorder) as ai, pytest.raises(ValidationError) as info:
        ai.chat(LLAMA, [_user(_text("hi"), _image(data_url(png(RED))))])
    assert recorder.count == 0
    message = str(info.value)
    assert LLAMA in message and "not a vision model" in message and SCOUT in message
    assert info.value.item == LLAMA


def test_an_image_to_text_model_is_pointed_to_describe_image() -> None:
    with pytest.raises(ValidationError, match=r"image-to-text model.*describe_image"):
        prepare_messages(LLAVA, [_user(_image(data_url(png(RED))))])


def test_models_the_table_does_not_know_get_the_parts_form() -> None:
    url = data_url(png(RED))
    messages, extra = prepare_messages("@cf/someone/new-vision-model", [_user(_image(url))])
    assert messages[0]["content"] == [_image(url)] and extra == {}
    assert chat_images.image_form(SCOUT) == "parts"
    assert chat_images.image_form(LLAMA_VISION) == "field"
    assert chat_images.image_form(LLAMA) is None
    assert not chat_images.accepts_images(LLAVA)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("data:image/png;base64,bm90IGFuIGltYWdl", "not a readable image"),
        ("data:image/png;base64,%%%not-base64%%%", "not valid base64"),
        ("https://example.com/cat.png", "only as data: URLs"),
        ("file:///etc/passwd", "must be a data: URL"),
        ("", "without a URL"),
    ],
)
def test_unusable_images_are_refused_before_sending(url: str, expected: str) -> None:
    recorder = _answering()
    with ai_client(recorder) as ai, pytest.raises(ValidationError, match=expected) as info:
        ai.chat(SCOUT, [_user(_text("hi"), _image(url))])
    assert recorder.count == 0
    assert info.value.field == "message #0 part #1"


def test_oversized_images_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudflare_ai import media

    monkeypatch.setattr(media, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(ValidationError, match="images up to 100 bytes"):
        prepare_messages(SCOUT, [_user(_image(data_url(png(RED))))])


async def test_the_async_client_shapes_images_the_same_way() -> None:
    recorder = _answering()
    image = png(RED)
    async with async_ai_client(recorder) as ai:
        await ai.chat(LLAMA_VISION, [_user(_text("hi"), _image(data_url(image)))])
    assert _sent(recorder)["image"] == list(image)


# --- remote images ---------------------------------------------------------------------------


def test_remote_images_are_downloaded_into_data_urls() -> None:
    image = png(RED)
    with image_server({"/red.png": (image, "image/png")}) as server:
        messages = [
            {"role": "system", "content": "Be brief."},
            _user(_text("What is it?"), _image(server.url("/red.png"))),
        ]
        resolved = chat_images.resolve_remote_images(messages, model=SCOUT)
    assert server.hits == ["/red.png"]
    assert resolved[0] == messages[0]
    assert resolved[1]["content"] == [_text("What is it?"), _image(data_url(image))]
    assert messages[1]["content"][1] == _image(server.url("/red.png"))  # input left alone


async def test_remote_images_are_downloaded_asynchronously() -> None:
    image = jpeg(BLUE)
    with image_server({"/blue": (image, "application/octet-stream")}) as server:
        resolved = await chat_images.aresolve_remote_images(
            [_user(_image(server.url("/blue")))], model=GEMMA
        )
    assert resolved[0]["content"] == [_image(data_url(image, "image/jpeg"))]


def test_download_failures_are_clear() -> None:
    files = {"/page.html": (b"<html></html>", "text/html"), "/big": (b"x" * 5000, "image/png")}
    with image_server(files, unsized={"/big"}) as server:
        with pytest.raises(ValidationError, match=r"could not download .*HTTP 404"):
            chat_images.resolve_remote_images([_user(_image(server.url("/missing.png")))])
        with pytest.raises(ValidationError, match="not a readable image"):
            chat_images.resolve_remote_images([_user(_image(server.url("/page.html")))])
        with pytest.raises(ValidationError, match=r"13 bytes \(at most 10\)"):
            chat_images.fetch_image(server.url("/page.html"), field="x", max_bytes=10)
        with pytest.raises(ValidationError, match="larger than 1,000 bytes"):
            chat_images.fetch_image(server.url("/big"), field="x", max_bytes=1000)


def test_unreachable_hosts_are_a_validation_error() -> None:
    with pytest.raises(ValidationError, match=r"could not download .*ConnectError"):
        chat_images.fetch_image("http://127.0.0.1:9/x.png", field="x", timeout=2)


def test_a_text_model_is_refused_before_anything_is_downloaded() -> None:
    with image_server({"/red.png": (png(RED), "image/png")}) as server:
        with pytest.raises(ValidationError, match="not a vision model"):
            chat_images.resolve_remote_images([_user(_image(server.url("/red.png")))], model=LLAMA)
    assert server.hits == []


def test_download_timeouts_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    real = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(httpx, "Client", client)
    with image_server({"/red.png": (png(RED), "image/png")}) as server:
        chat_images.fetch_image(server.url("/red.png"), field="x", timeout=3.5)
    assert seen["timeout"] == 3.5 and seen["follow_redirects"] is True
