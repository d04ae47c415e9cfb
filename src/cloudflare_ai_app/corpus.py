"""The bundled sample documents (Markdown with a small front matter), split into passages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from cloudflare_ai.documents import document_id


@dataclass(frozen=True)
class Passage:
    """One chunk of a corpus document, with a stable id derived from its content."""

    id: str
    text: str
    source: str
    title: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _front_matter(raw: str) -> tuple[dict[str, str], str]:
    match = re.match(r"^---\n(.*?)\n---\n", raw, re.DOTALL)
    if not match:
        return {}, raw
    meta = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    return meta, raw[match.end() :]


def load_corpus() -> list[Passage]:
    """The bundled sample documents, split into paragraphs."""
    passages = []
    folder = resources.files("cloudflare_ai_app").joinpath("corpus")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".md"):
            continue
        meta, body = _front_matter(entry.read_text(encoding="utf-8"))
        for number, paragraph in enumerate(p.strip() for p in body.split("\n\n")):
            if not paragraph:
                continue
            passages.append(
                Passage(
                    id=document_id(paragraph, {"source": entry.name}),
                    text=paragraph,
                    source=f"{entry.name}#{number + 1}",
                    title=meta.get("title", entry.name),
                    metadata={"topic": meta.get("topic", "general")},
                )
            )
    return passages
