"""Images to ChatWorkersAI on vision models, written as LangChain users write them, through
LangChain's own entry points (invoke, stream, a prompt-template chain) on the emulator over
loopback: the emulator describes each image it receives, so an answer naming the image's
colour shows the image arrived, in the form the model takes."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from cloudflare_ai import ValidationError
from cloudflare_ai.langchain import ChatWorkersAI
from tests.vision_support import (
    BLUE,
    GEMMA,
    GREEN,
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

VISION_MODELS = [SCOUT, LLAMA_VISION, GEMMA, MISTRAL]


def _question(image_block: dict[str, Any], text: str = "What is in this image?") -> HumanMessage:
    return HumanMessage(content=[{"type": "text", "text": text}, image_block])


@pytest.mark.parametrize("model", VISION_MODELS)
def test_openai_image_url_blocks_reach_each_vision_model(
    model: str, connection: dict[str, Any]
) -> None:
    llm = ChatWorkersAI(model=model, **connection)
    red = llm.invoke([_question({"type": "image_url", "image_url": {"url": data_url(png(RED))}})])
    assert isinstance(red, AIMessage)
    assert red.text == "The image shows: A 64x64 square image, mostly red."
    blue = llm.invoke(
        [
            SystemMessage("You describe pictures."),
            _question({"type": "image_url", "image_url": {"url": data_url(png(BLUE, (80, 40)))}}),
        ]
    )
    assert blue.text == "The image shows: A 80x40 landscape image, mostly blue."
    assert blue.usage_metadata is not None and blue.usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("model", [SCOUT, LLAMA_VISION])
def test_standard_base64_and_raw_bytes_blocks(model: str, connection: dict[str, Any]) -> None:
    llm = ChatWorkersAI(model=model, **connection)
    standard = {"type": "image", "base64": b64(png(GREEN)), "mime_type": "image/png"}
    assert "mostly green" in llm.invoke([_question(standard)]).text
    # bytes where base64 text is expected; the type sent is the one of the bytes
    raw = {"type": "image", "base64": jpeg(RED), "mime_type": "image/png"}
    assert "mostly red" in llm.invoke([_question(raw)]).text
    v0 = {"type": "image", "source_type": "base64", "data": png(GREEN), "mime_type": "image/png"}
    assert "mostly green" in llm.invoke([_question(v0)]).text


def test_remote_images_are_downloaded_in_every_block_form(connection: dict[str, Any]) -> None:
    files = {"/red.png": (png(RED), "image/png"), "/blue.jpg": (jpeg(BLUE), "image/jpeg")}
    llm = ChatWorkersAI(model=GEMMA, **connection)
    with image_server(files) as server:
        blocks = [
            {"type": "image", "url": server.url("/red.png")},
            {"type": "image_url", "image_url": {"url": server.url("/blue.jpg")}},
            {"type": "image", "source": {"type": "url", "url": server.url("/red.png")}},
        ]
        answers = [llm.invoke([_question(block)]).text for block in blocks]
    assert server.hits == ["/red.png", "/blue.jpg", "/red.png"]
    assert ["mostly red" in answers[0], "mostly blue" in answers[1]] == [True, True]
    assert "mostly red" in answers[2]


def test_streaming_a_vision_answer(connection: dict[str, Any]) -> None:
    llm = ChatWorkersAI(model=SCOUT, **connection)
    chunks = list(
        llm.stream(
            [_question({"type": "image", "base64": b64(png(RED)), "mime_type": "image/png"})]
        )
    )
    assert len(chunks) > 3  # word by word, then the closing chunk
    assert "".join(c.text for c in chunks) == "The image shows: A 64x64 square image, mostly red."
    assert chunks[-1].usage_metadata is not None


async def test_async_invoke_and_stream_download_remote_images(connection: dict[str, Any]) -> None:
    llm = ChatWorkersAI(model=LLAMA_VISION, **connection)
    with image_server({"/green.png": (png(GREEN), "image/png")}) as server:
        block = {"type": "image", "url": server.url("/green.png")}
        answer = await llm.ainvoke([_question(block)])
        streamed = [chunk.text async for chunk in llm.astream([_question(block)])]
    assert "mostly green" in answer.text
    assert "".join(streamed) == answer.text
    assert server.hits == ["/green.png", "/green.png"]


def test_streaming_setting_uses_the_stream_for_invoke(connection: dict[str, Any]) -> None:
    llm = ChatWorkersAI(model=MISTRAL, streaming=True, **connection)
    block = {"type": "image_url", "image_url": {"url": data_url(png(BLUE))}}
    assert "mostly blue" in llm.invoke([_question(block)]).text


def test_openai_api_sends_parts(connection: dict[str, Any]) -> None:
    llm = ChatWorkersAI(model=LLAMA_VISION, api="openai", **connection)
    block = {"type": "image", "base64": b64(png(RED)), "mime_type": "image/png"}
    assert "mostly red" in llm.invoke([_question(block)]).text


def test_an_image_in_a_prompt_template_chain(connection: dict[str, Any]) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Describe images briefly."),
            (
                "user",
                [
                    {"type": "text", "text": "{question}"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,{image}"}},
                ],
            ),
        ]
    )
    chain = prompt | ChatWorkersAI(model=SCOUT, **connection) | StrOutputParser()
    answer = chain.invoke({"question": "What colour is it?", "image": b64(png(GREEN))})
    assert answer == "The image shows: A 64x64 square image, mostly green."


def test_images_from_earlier_turns_and_tool_results(connection: dict[str, Any]) -> None:
    llm = ChatWorkersAI(model=SCOUT, **connection)
    history = [
        _question({"type": "image", "base64": b64(png(RED)), "mime_type": "image/png"}),
        AIMessage("A picture."),
        HumanMessage("Which colour was mostly in the image?"),
    ]
    assert llm.invoke(history).text.startswith("A 64x64 square image, mostly red.")
    with_tool = [
        HumanMessage("Fetch the chart."),
        AIMessage("", tool_calls=[{"name": "chart", "args": {}, "id": "call00001"}]),
        ToolMessage(
            content=[{"type": "image_url", "image_url": {"url": data_url(png(BLUE))}}],
            tool_call_id="call00001",
        ),
        HumanMessage("Which colour was mostly in the image?"),
    ]
    assert "mostly blue" in llm.invoke(with_tool).text


# --- refusals (nothing is sent: the base URL below has no server) --------------------------

OFFLINE = {"account_id": "a" * 32, "api_token": "t", "base_url": "http://127.0.0.1:9/client/v4"}


def test_text_models_refuse_images_naming_a_vision_model() -> None:
    block = {"type": "image", "base64": b64(png(RED)), "mime_type": "image/png"}
    with pytest.raises(ValidationError) as info:
        ChatWorkersAI(model=LLAMA, **OFFLINE).invoke([_question(block)])
    assert LLAMA in str(info.value) and SCOUT in str(info.value)
    with pytest.raises(ValidationError, match="image-to-text model"):
        ChatWorkersAI(model=LLAVA, **OFFLINE).invoke([_question(block)])


def test_text_models_refuse_remote_images_without_downloading() -> None:
    with image_server({"/red.png": (png(RED), "image/png")}) as server:
        block = {"type": "image", "url": server.url("/red.png")}
        with pytest.raises(ValidationError, match="not a vision model"):
            list(ChatWorkersAI(model=LLAMA, **OFFLINE).stream([_question(block)]))
    assert server.hits == []


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "image", "base64": b64(b"plain text"), "mime_type": "image/png"}, "readable"),
        ({"type": "image", "base64": b"text", "mime_type": "image/png"}, "not a readable"),
        ({"type": "image", "file_id": "file-123"}, "by file id"),
        ({"type": "image_url", "image_url": {"url": "ftp://example.com/x.png"}}, "http"),
        ({"type": "image", "url": "http://127.0.0.1:9/gone.png"}, "could not download"),
    ],
)
def test_unusable_images_are_refused_clearly(block: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        ChatWorkersAI(model=SCOUT, **OFFLINE).invoke([_question(block)])


def test_llama_3_2_vision_takes_one_image() -> None:
    message = HumanMessage(
        content=[
            {"type": "image", "base64": b64(png(RED)), "mime_type": "image/png"},
            {"type": "image", "base64": b64(png(BLUE)), "mime_type": "image/png"},
        ]
    )
    with pytest.raises(ValidationError, match="one image per request"):
        ChatWorkersAI(model=LLAMA_VISION, **OFFLINE).invoke([message])
