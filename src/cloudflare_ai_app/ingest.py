"""Files on disk to searchable chunks in Vectorize, safely re-runnable.

Markdown, text and HTML (and PDF when ``pypdf`` is installed) are read, split (Markdown by
headings, then by paragraphs and sentences), embedded with Workers AI and upserted with their
text in metadata — the layout both framework stores read. Chunk ids are derived from the file's
path and the chunk's text, so ingesting the same files again with the same splitter rewrites
the same vectors instead of adding duplicates.

Two splitters: LlamaIndex's (``MarkdownNodeParser`` then ``SentenceSplitter``) when
``llama-index-core`` is installed, and otherwise the built-in one of :mod:`.splitter`, so the
``cli`` extra alone can ingest. They cut text differently, so pick one with ``splitter=`` to
keep chunk ids stable across machines with different extras.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from cloudflare_ai.config import ClientSettings
from cloudflare_ai.documents import TEXT_KEY, document_id
from cloudflare_ai.errors import ValidationError
from cloudflare_ai.models import DEFAULT_EMBEDDING_MODEL, require_model
from cloudflare_ai.pipeline import Progress, Record
from cloudflare_ai.pipeline import ingest as run_pipeline
from cloudflare_ai.vectorize import VectorizeClient

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}

Splitter = Literal["auto", "builtin", "llama-index"]


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    source: str
    title: str
    position: int


@dataclass
class IngestStats:
    """What one ingestion did (also reported as it goes)."""

    documents: int = 0
    chunks: int = 0
    vectors_written: int = 0
    requests: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    #: The splitter that cut the chunks: ``"builtin"`` or ``"llama-index"``.
    splitter: str = ""

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


class _TextOfHTML(HTMLParser):
    """Visible text of an HTML page (scripts and styles dropped), paragraphs kept apart."""

    _BLOCKS = {"p", "div", "section", "article", "li", "br", "h1", "h2", "h3", "h4", "tr"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif not self._skip:
            self.parts.append(data)


def supported(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Supported files under ``paths`` (folders are walked), sorted, without duplicates."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and supported(p))
        elif path.is_file():
            if not supported(path):
                raise ValidationError(
                    f"{path}: unsupported file type {path.suffix or '(none)'}; ingest reads "
                    "Markdown, text, HTML and PDF",
                    item=str(path),
                )
            found.add(path)
        else:
            raise ValidationError(f"{path}: no such file or folder", item=str(path))
    return sorted(found)


def read_text(path: Path) -> tuple[str, str]:
    """(title, text) of a file."""
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        parser = _TextOfHTML()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        return parser.title or path.stem, "".join(parser.parts)
    if suffix in PDF_SUFFIXES:
        try:
            from pypdf import PdfReader
        except ImportError:
            raise ValidationError(
                f"{path}: reading PDF needs pypdf: pip install 'cloudflare-ai[cli]'",
                item=str(path),
            ) from None
        reader = PdfReader(str(path))
        text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
        return path.stem, text
    text = path.read_text(encoding="utf-8", errors="replace")
    front = _FRONT_MATTER.match(text)
    if front:
        text = text[front.end() :]
        for line in front.group(1).splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "title" and value.strip():
                return value.strip().strip("'\""), text
    title = next(
        (line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("# ")),
        path.stem,
    )
    return title, text


def resolve_splitter(splitter: Splitter = "auto") -> Literal["builtin", "llama-index"]:
    """``"auto"``: LlamaIndex's splitters when llama-index-core is installed, else the
    built-in one. Asking for ``"llama-index"`` without it installed is an error."""
    if splitter == "builtin":
        return "builtin"
    try:
        import llama_index.core.node_parser  # noqa: F401
    except ImportError:
        if splitter == "llama-index":
            raise ValidationError(
                "the llama-index splitter needs llama-index-core: "
                "pip install 'cloudflare-ai[llama-index]' (or use the built-in splitter)"
            ) from None
        return "builtin"
    return "llama-index"


def split(
    path: Path,
    text: str,
    *,
    chunk_size: int,
    chunk_overlap: int,
    splitter: Splitter = "auto",
) -> list[str]:
    """Chunks of ``text``, headings first for Markdown (see :func:`resolve_splitter`)."""
    markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
    if resolve_splitter(splitter) == "builtin":
        from .splitter import split_text

        return split_text(
            text, chunk_size=chunk_size, chunk_overlap=chunk_overlap, markdown=markdown
        )
    from llama_index.core import Document
    from llama_index.core.node_parser import MarkdownNodeParser, SentenceSplitter

    document = Document(text=text)
    sentences = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    if markdown:
        sections = MarkdownNodeParser().get_nodes_from_documents([document])
        nodes = sentences.get_nodes_from_documents(
            [Document(text=s.get_content()) for s in sections]
        )
    else:
        nodes = sentences.get_nodes_from_documents([document])
    return [n.get_content().strip() for n in nodes if n.get_content().strip()]


def chunk_id(source: str, text: str) -> str:
    """The id of a chunk: the same file and text always give the same id (the library's one
    scheme, :func:`~cloudflare_ai.documents.document_id`, over the text and its source)."""
    return document_id(text, {"source": source})


def iter_chunks(
    files: Iterable[Path],
    root: Path | None,
    *,
    chunk_size: int,
    chunk_overlap: int,
    splitter: Splitter = "auto",
) -> Iterator[tuple[Path, list[Chunk]]]:
    for path in files:
        title, text = read_text(path)
        try:
            source = str(path.resolve().relative_to(root)) if root else path.name
        except ValueError:
            source = str(path)
        pieces = split(
            path, text, chunk_size=chunk_size, chunk_overlap=chunk_overlap, splitter=splitter
        )
        yield path, [Chunk(chunk_id(source, t), t, source, title, i) for i, t in enumerate(pieces)]


def ingest(
    paths: Iterable[Path],
    index: str,
    *,
    settings: ClientSettings,
    model: str = DEFAULT_EMBEDDING_MODEL,
    chunk_size: int = 256,
    chunk_overlap: int = 32,
    text_key: str = TEXT_KEY,
    splitter: Splitter = "auto",
    progress: Callable[[IngestStats, Path | None], None] | None = None,
) -> IngestStats:
    """Read, split, embed and upsert ``paths`` into ``index`` (created if missing, with a
    ``source`` metadata index made before the first write). Files are read lazily and fed to
    the ingestion pipeline, which embeds and writes concurrently."""
    files = find_files(paths)
    chosen = resolve_splitter(splitter)
    if not 0 <= chunk_overlap < chunk_size:
        raise ValidationError(
            f"chunk_overlap ({chunk_overlap}) must be at least 0 and below chunk_size "
            f"({chunk_size})"
        )
    dims = require_model(model).dimensions
    if dims is None:
        raise ValidationError(f"{model} is not an embedding model with known dimensions")
    with VectorizeClient(settings=settings) as vectorize:
        vectorize.ensure_index(
            index, dimensions=dims, metric="cosine", metadata_indexes={"source": "string"}
        )
    stats = IngestStats(splitter=chosen)
    started = time.perf_counter()
    current: list[Path | None] = [None]

    def records() -> Iterator[Record]:
        root = Path.cwd().resolve()
        for path, chunks in iter_chunks(
            files, root, chunk_size=chunk_size, chunk_overlap=chunk_overlap, splitter=chosen
        ):
            stats.documents += 1
            stats.chunks += len(chunks)
            current[0] = path
            for c in chunks:
                yield Record(
                    c.id, c.text, {"source": c.source, "title": c.title, "chunk": c.position}
                )

    def on_progress(state: Progress) -> None:
        stats.vectors_written = state.written
        stats.requests = state.embed_requests + state.write_requests
        stats.seconds = time.perf_counter() - started
        if progress:
            progress(stats, current[0])

    report = run_pipeline(
        records(), index=index, settings=settings, model=model, text_key=text_key,
        dimensions=dims, progress=on_progress,
    )  # fmt: skip
    stats.vectors_written = report.written
    stats.requests = report.requests
    stats.seconds = time.perf_counter() - started
    if progress:
        progress(stats, None)
    return stats
