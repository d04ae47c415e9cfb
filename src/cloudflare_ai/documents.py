"""How a text document lives in Vectorize: the metadata key holding its text, and its id.

**The text key.** A document's text is stored in its vector's metadata under
:data:`TEXT_KEY` (``"text"``), so a search returns the text with no second database. The
LangChain store (``text_key=``), the ingestion pipeline, the command line and the demo all use
it; LlamaIndex keeps its own node serialisation (``_node_content``) and reads ``text`` only
for vectors it did not write.

**Ids.** A document written without an id gets :func:`document_id`: a UUIDv5 of the
namespace, the text, the metadata (as canonical JSON, keys sorted) and an occurrence number
that tells identical documents of one batch apart. The same content always gets the same id,
so re-running an ingestion overwrites instead of duplicating. This is the scheme the LangChain
store has used since its first release, so ids already written by it stay the same.
LlamaIndex nodes keep the node ids LlamaIndex gives them.

Migration (0.1 → 0.2): ``pipeline.content_id`` (then a 48-hex-digit SHA-256) and
``cloudflare-ai ingest`` (SHA-256 of path and text) now use :func:`document_id` too.
Re-ingesting data written by 0.1 through those two paths writes new ids beside the old
vectors: delete the old ones first (``cloudflare-ai ingest`` indexes ``source``, so
``VectorizeClient.delete_matching(index, {"source": path})`` removes one file's chunks), or
re-ingest into a new index.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

import orjson

__all__ = ["ID_NAMESPACE", "TEXT_KEY", "document_id"]

#: The metadata property holding each document's text.
TEXT_KEY: Final = "text"

#: Namespace of the UUIDv5 document ids (fixed forever: changing it would make re-ingestion
#: duplicate everything).
ID_NAMESPACE: Final = uuid.UUID("5b0c6f0e-3f5e-5d55-9b8e-6c0a7e2f4d11")


def document_id(
    text: str,
    metadata: Mapping[str, Any] | None = None,
    *,
    namespace: str | None = None,
    occurrence: int = 0,
) -> str:
    """The id of a document from its content: a UUIDv5 of ``[namespace, text, metadata,
    occurrence]`` as canonical JSON (36 characters, within Vectorize's 64-byte limit)."""
    canonical = orjson.dumps(
        [namespace, text, dict(metadata or {}), occurrence],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return str(uuid.uuid5(ID_NAMESPACE, canonical.decode()))
