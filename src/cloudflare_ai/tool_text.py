"""The short texts both frameworks' task tools give an agent, written once: where a generated
image was saved (or that the safety filter refused the prompt), and classifier labels."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from .types import ImageResult, Label

__all__ = ["image_folder", "image_report", "labels_text"]

SAFETY_REFUSAL = (
    "The image came back all black: Workers AI's safety filter refused this prompt. "
    "Try rephrasing it."
)


def image_folder(folder: Path | None) -> Path:
    """``folder`` (created if needed), or a new temporary folder when None."""
    target = folder if folder is not None else Path(tempfile.mkdtemp(prefix="workers-ai-images-"))
    target.mkdir(parents=True, exist_ok=True)
    return target


def image_report(image: ImageResult, prompt: str, folder: Path) -> str:
    """Save ``image`` in ``folder`` under a name made from the prompt and say where, or say
    that the safety filter refused the prompt (an all-black image is not saved)."""
    if image.is_blank:
        return SAFETY_REFUSAL
    stem = "".join(c if c.isalnum() else "-" for c in prompt.lower())[:40].strip("-")
    path = image.save(folder / (stem or "image"))
    width, height = image.size
    return f"Saved a {width}x{height} image to {path}"


def labels_text(labels: Iterable[Label], top: int = 5) -> str:
    """``"label (0.93), other (0.05)"`` for the ``top`` labels."""
    return ", ".join(f"{label.label} ({label.score:.2f})" for label in list(labels)[:top])
