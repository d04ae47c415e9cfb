"""Vision chat on the emulator: images in text-generation requests are validated against the
model's schema, decoded, and described in the answer (so answers depend on the image)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.vision_support import (
    BLUE,
    GEMMA,
    GREEN,
    LLAMA,
    LLAMA_VISION,
    MISTRAL,
    RED,
    SCOUT,
    b64,
    data_url,
    png,
)

from .conftest import API
from .helpers import assert_error, sse_events


def _ask(image_url: str, question: str = "What is in this picture?") -> dict[str, Any]:
    content = [
        {"type": "text", "text": question},
        {"type": "image_url", "image_url": {"url": image_url}},
    ]
    return {"messages": [{"role": "user", "content": content}]}


async def _run(client: httpx.AsyncClient, model: str, body: Any) -> httpx.Response:
    return await client.post(f"{API}/ai/run/{model}", json=body)


async def _answer(client: httpx.AsyncClient, model: str, body: Any) -> str:
    r = await _run(client, model, body)
    assert r.status_code == 200, r.text
    return str(r.json()["result"]["response"])


async def test_parts_models_describe_the_image_they_are_sent(client: httpx.AsyncClient) -> None:
    for model in (SCOUT, MISTRAL, GEMMA):
        red = await _answer(client, model, _ask(data_url(png(RED))))
        assert red == "The image shows: A 64x64 square image, mostly red."
        blue = await _answer(client, model, _ask(data_url(png(BLUE, (80, 40)))))
        assert blue == "The image shows: A 80x40 landscape image, mostly blue."
        assert await _answer(client, model, _ask(data_url(png(RED)))) == red  # deterministic


async def test_llama_3_2_vision_reads_the_top_level_image(client: httpx.AsyncClient) -> None:
    messages = [{"role": "user", "content": "What colour is this?"}]
    as_ints = await _answer(client, LLAMA_VISION, {"messages": messages, "image": list(png(RED))})
    assert "mostly red" in as_ints
    as_b64 = await _answer(client, LLAMA_VISION, {"messages": messages, "image": b64(png(GREEN))})
    assert "mostly green" in as_b64
    prompt = await _answer(client, LLAMA_VISION, {"prompt": "Describe", "image": list(png(BLUE))})
    assert "mostly blue" in prompt


async def test_images_of_earlier_turns_are_context(client: httpx.AsyncClient) -> None:
    body = _ask(data_url(png(RED)))
    body["messages"] += [
        {"role": "assistant", "content": "It is a picture."},
        {"role": "user", "content": "Which colour was mostly in the image?"},
    ]
    assert await _answer(client, SCOUT, body) == "A 64x64 square image, mostly red."


async def test_several_images_are_each_described(client: httpx.AsyncClient) -> None:
    body = _ask(data_url(png(RED)))
    body["messages"][0]["content"].append(
        {"type": "image_url", "image_url": {"url": data_url(png(BLUE))}}
    )
    answer = await _answer(client, GEMMA, body)
    assert answer.startswith("Image 1: A 64x64 square image, mostly red. Image 2: ")
    assert answer.endswith("mostly blue.")


async def test_vision_answers_stream(client: httpx.AsyncClient) -> None:
    r = await _run(client, SCOUT, {**_ask(data_url(png(RED))), "stream": True})
    assert r.status_code == 200
    events = sse_events(r.text)
    text = "".join(e.get("response", "") for e in events if isinstance(e, dict))
    assert text == "The image shows: A 64x64 square image, mostly red."


async def test_openai_route_answers_vision_requests(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/ai/v1/chat/completions",
        json={"model": MISTRAL, **_ask(data_url(png(BLUE)))},
    )
    assert r.status_code == 200, r.text
    assert "mostly blue" in r.json()["choices"][0]["message"]["content"]


async def test_what_is_not_an_image_is_refused(client: httpx.AsyncClient) -> None:
    not_image = f"data:image/png;base64,{b64(b'just some text, not pixels')}"
    r = await _run(client, SCOUT, _ask(not_image))
    assert "not an image that decodes" in assert_error(r, 400, 5006)["errors"][0]["message"]
    r = await _run(client, SCOUT, _ask("data:image/png;base64,@@@"))
    assert_error(r, 400, 5004)
    r = await _run(client, LLAMA_VISION, {"prompt": "hi", "image": [1, 2, 3, 4]})
    assert_error(r, 400, 5006)


async def test_http_urls_are_refused_by_the_schema(client: httpx.AsyncClient) -> None:
    r = await _run(client, SCOUT, _ask("https://example.com/cat.png"))
    assert_error(r, 400, 5006)  # the url's pattern, ^data:*, fails every form
    r = await _run(client, SCOUT, _ask(data_url(png(RED))))
    assert r.status_code == 200  # (the same request with a data: URL passes)
    r = await client.post(
        f"{API}/ai/v1/chat/completions",
        json={"model": SCOUT, **_ask("https://example.com/cat.png")},
    )
    assert "^data:*" in assert_error(r, 400, 5006)["errors"][0]["message"]


async def test_text_models_do_not_take_images(client: httpx.AsyncClient) -> None:
    r = await _run(client, LLAMA, _ask(data_url(png(RED))))
    assert_error(r, 400, 5006)  # its schema: content is a string
    r = await _run(client, LLAMA_VISION, _ask(data_url(png(RED))))
    assert_error(r, 400, 5006)  # llama-3.2 vision takes the image beside the messages
    r = await client.post(
        f"{API}/ai/v1/chat/completions", json={"model": LLAMA, **_ask(data_url(png(RED)))}
    )
    assert "does not accept image input" in assert_error(r, 400, 5006)["errors"][0]["message"]
