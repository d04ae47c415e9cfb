"""Images to the LlamaIndex WorkersAI LLM on vision models: ``ImageBlock`` s (bytes, a path,
a file object, a ``data:`` or ``https`` URL) in ``ChatMessage.blocks``, through LlamaIndex's
own entry points (chat, stream_chat, achat, astream_chat) on the emulator over loopback,
which describes each image it receives."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock

from cloudflare_ai import ValidationError
from cloudflare_ai.llama_index import WorkersAI
from tests.vision_support import (
    BLUE,
    GEMMA,
    GREEN,
    LLAMA,
    LLAMA_VISION,
    MISTRAL,
    RED,
    SCOUT,
    data_url,
    image_server,
    jpeg,
    png,
)


def _ask(image: ImageBlock, text: str = "What is in this picture?") -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text=text), image])]


@pytest.mark.parametrize("model", [SCOUT, LLAMA_VISION, GEMMA, MISTRAL])
def test_image_bytes_reach_each_vision_model(model: str, connection: dict[str, Any]) -> None:
    llm = WorkersAI(model=model, **connection)
    red = llm.chat(_ask(ImageBlock(image=png(RED))))
    assert red.message.content == "The image shows: A 64x64 square image, mostly red."
    blue = llm.chat(_ask(ImageBlock(image=jpeg(BLUE, (40, 80)))))
    assert blue.message.content == "The image shows: A 40x80 portrait image, mostly blue."
    assert red.raw["usage"]["completion_tokens"] > 0


def test_paths_file_objects_and_data_urls(connection: dict[str, Any], tmp_path: Path) -> None:
    llm = WorkersAI(model=SCOUT, **connection)
    picture = tmp_path / "green.png"
    picture.write_bytes(png(GREEN))
    assert "mostly green" in str(llm.chat(_ask(ImageBlock(path=picture))).message.content)
    from_file = ImageBlock(image=io.BytesIO(png(RED)))
    assert "mostly red" in str(llm.chat(_ask(from_file)).message.content)
    inline = ImageBlock(url=data_url(png(BLUE)))
    assert "mostly blue" in str(llm.chat(_ask(inline)).message.content)


def test_remote_urls_are_downloaded(connection: dict[str, Any]) -> None:
    llm = WorkersAI(model=LLAMA_VISION, **connection)
    with image_server({"/red.png": (png(RED), "image/png")}) as server:
        answer = llm.chat(_ask(ImageBlock(url=server.url("/red.png"))))
    assert server.hits == ["/red.png"]
    assert "mostly red" in str(answer.message.content)


def test_streaming_a_vision_answer(connection: dict[str, Any]) -> None:
    llm = WorkersAI(model=GEMMA, **connection)
    responses = list(llm.stream_chat(_ask(ImageBlock(image=png(GREEN)))))
    assert len(responses) > 3
    assert "".join(r.delta or "" for r in responses) == responses[-1].message.content
    assert responses[-1].message.content == "The image shows: A 64x64 square image, mostly green."


async def test_async_chat_and_stream(connection: dict[str, Any]) -> None:
    llm = WorkersAI(model=MISTRAL, **connection)
    with image_server({"/blue.jpg": (jpeg(BLUE), "image/jpeg")}) as server:
        remote = ImageBlock(url=server.url("/blue.jpg"))
        answer = await llm.achat(_ask(remote))
        stream = await llm.astream_chat(_ask(remote))
        streamed = [response async for response in stream]
    assert "mostly blue" in str(answer.message.content)
    assert streamed[-1].message.content == answer.message.content
    assert server.hits == ["/blue.jpg", "/blue.jpg"]


def test_text_and_images_keep_their_order(connection: dict[str, Any]) -> None:
    llm = WorkersAI(model=GEMMA, **connection)
    blocks = [
        ImageBlock(image=png(RED)),
        TextBlock(text="and"),
        ImageBlock(image=png(BLUE)),
        TextBlock(text="Which is which?"),
    ]
    answer = llm.chat([ChatMessage(role=MessageRole.USER, blocks=blocks)]).message.content
    assert str(answer).startswith("Image 1: A 64x64 square image, mostly red. Image 2: ")
    assert str(answer).endswith("mostly blue.")


# --- refusals (nothing is sent: the base URL below has no server) --------------------------

OFFLINE = {"account_id": "a" * 32, "api_token": "t", "base_url": "http://127.0.0.1:9/client/v4"}


def test_text_models_refuse_images_without_downloading() -> None:
    with image_server({"/red.png": (png(RED), "image/png")}) as server:
        with pytest.raises(ValidationError) as info:
            WorkersAI(model=LLAMA, **OFFLINE).chat(_ask(ImageBlock(url=server.url("/red.png"))))
    assert server.hits == []
    assert LLAMA in str(info.value) and SCOUT in str(info.value)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (ImageBlock(image=b"these bytes are no image"), "not a readable image"),
        (ImageBlock(url="ftp://example.com/x.png"), "http"),
        (ImageBlock(url="http://127.0.0.1:9/gone.png"), "could not download"),
    ],
)
def test_unusable_images_are_refused_clearly(block: ImageBlock, expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        WorkersAI(model=SCOUT, **OFFLINE).chat(_ask(block))
