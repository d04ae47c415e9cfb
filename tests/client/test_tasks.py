"""One recorded exchange per Workers AI task, through the core client's typed methods.

Replayed strictly from ``cassettes/test_tasks/`` (recorded from the emulator with ``make
record``; against real Cloudflare with ``make record-live``), so the request each method builds
and the answer it parses are pinned per task: images and audio as binary bodies, media inputs
as the schema's integer arrays, JSON answers as typed results.
"""

from __future__ import annotations

import io
import math
import wave

import pytest
from PIL import Image

from cloudflare_ai import AsyncWorkersAIClient, ImageResult, WorkersAIClient

pytestmark = pytest.mark.vcr


def _png() -> bytes:
    """White, with a red square: what the image tasks look at."""
    image = Image.new("RGB", (96, 64), "white")
    image.paste((220, 20, 30), (48, 16, 80, 48))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A tone (no embedded text): the local recogniser answers its fixed phrase."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        frames += int(8000 * math.sin(2 * math.pi * 220 * i / rate)).to_bytes(
            2, "little", signed=True
        )
    out = io.BytesIO()
    with wave.open(out, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(bytes(frames))
    return out.getvalue()


def test_generate_image(workers_ai: WorkersAIClient) -> None:
    image = workers_ai.generate_image("a red apple", width=256, height=256, seed=7)
    assert isinstance(image, ImageResult)
    assert image.content_type == "image/png" and image.size == (256, 256)
    assert not image.is_blank


def test_generate_image_json_answer_model(workers_ai: WorkersAIClient) -> None:
    image = workers_ai.generate_image(
        "a blue lake", model="@cf/black-forest-labs/flux-1-schnell", num_steps=4
    )
    assert image.content_type.startswith("image/") and image.size[0] > 0


def test_transcribe(workers_ai: WorkersAIClient) -> None:
    heard = workers_ai.transcribe(_wav())
    assert heard.text
    assert heard.words and heard.words[-1].end is not None and heard.words[-1].end <= 1.0


def test_speak(workers_ai: WorkersAIClient) -> None:
    spoken = workers_ai.speak("hello there")
    assert spoken.content_type == "audio/mpeg" and len(spoken.data) > 1000


def test_translate_and_summarize(workers_ai: WorkersAIClient) -> None:
    assert "[fr]" in workers_ai.translate("hello world", target_lang="fr")
    text = (
        "The Eiffel Tower is in Paris. It was completed in 1889. Paris is the capital of "
        "France. Bananas are rich in potassium."
    )
    summary = workers_ai.summarize(text, max_length=20)
    assert summary and len(summary) < len(text)


def test_classify_text(workers_ai: WorkersAIClient) -> None:
    labels = workers_ai.classify_text("I love this wonderful library")
    assert labels[0].label == "POSITIVE" and labels[0].score > 0.5


def test_image_tasks(workers_ai: WorkersAIClient) -> None:
    png = _png()
    assert workers_ai.classify_image(png)[0].score > 0
    detections = workers_ai.detect_objects(png)
    assert detections and detections[0].box is not None
    assert "red" in workers_ai.describe_image(png).lower()


def test_rerank(workers_ai: WorkersAIClient) -> None:
    passages = ["Bananas are yellow.", "The Eiffel Tower is in Paris.", "Paris is in France."]
    ranked = workers_ai.rerank("Where is the Eiffel Tower?", passages, top_k=2)
    assert [r.index for r in ranked][0] == 1 and len(ranked) == 2
    assert ranked[0].passage == passages[1]


async def test_async_twins(async_workers_ai: AsyncWorkersAIClient) -> None:
    image = await async_workers_ai.generate_image("a green field", width=256, height=256)
    assert image.size == (256, 256)
    ranked = await async_workers_ai.rerank("green", ["a green field", "a red car"])
    assert ranked[0].index == 0
