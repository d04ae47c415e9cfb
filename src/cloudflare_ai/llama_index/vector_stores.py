"""``VectorizeVectorStore``: a LlamaIndex vector store on Cloudflare Vectorize.

All HTTP goes through the core :class:`~cloudflare_ai.vectorize.VectorizeClient` /
:class:`~cloudflare_ai.vectorize.AsyncVectorizeClient`, which validate writes before sending,
split them at Vectorize's limits, retry transient failures and wait for mutations.
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import numpy as np
from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings
from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import (
    legacy_metadata_dict_to_node,
    metadata_dict_to_node,
    node_to_metadata_dict,
)
from pydantic import Field, PrivateAttr, field_validator

from .. import limits
from ..connection import CloudflareConnection
from ..documents import TEXT_KEY
from ..errors import ValidationError
from ..filters import Condition, Filter
from ..pipeline import IngestReport, Record, aingest, plan, pool_settings, run_sync
from ..scores import similarities, similarity
from ..types import Index, Match, VectorRecord
from ..validation import (
    check_id,
    check_index_name,
    check_metadata,
    check_namespace,
    check_unique_ids,
    check_values,
)
from ..vectorize import AsyncVectorizeClient, VectorizeClient
from .filters import UnsupportedFilterError, to_filter

logger = logging.getLogger(__name__)

Metric = Literal["cosine", "euclidean", "dot-product"]
IndexType = Literal["string", "number", "boolean"]

#: The metadata property holding each node's source document id (written by
#: ``node_to_metadata_dict``), indexed so ``delete(ref_doc_id)`` and ``doc_ids`` can filter.
REF_DOC_ID_KEY = "ref_doc_id"
_HEAVY_CAP = limits.MAX_TOP_K_WITH_VALUES_OR_METADATA  # topK cap with metadata "all" / values

__all__ = [
    "NodeValidationError",
    "UnsupportedFilterError",
    "UnsupportedQueryError",
    "VectorizeVectorStore",
    "similarity_from_score",
]


class NodeValidationError(ValidationError):
    """A node that cannot be stored in Vectorize, named with its position. Nothing was sent."""


class UnsupportedQueryError(ValidationError):
    """A query Vectorize cannot answer (a mode other than default or MMR). Nothing was sent."""


def similarity_from_score(score: float, metric: str) -> float:
    """A Vectorize score as a similarity where higher is more similar, for every metric (the
    core's :func:`~cloudflare_ai.scores.similarity`): cosine as returned, euclidean distance
    ``d`` as ``1 / (1 + d)``, dot-product as the dot product (Vectorize returns its negative)."""
    return similarity(metric, score)


class VectorizeVectorStore(CloudflareConnection, BasePydanticVectorStore):
    """LlamaIndex vector store on a Cloudflare Vectorize index.

    Example::

        store = VectorizeVectorStore(index_name="docs", metadata_indexes={"topic": "string"})
        index = VectorStoreIndex.from_documents(
            documents, storage_context=StorageContext.from_defaults(vector_store=store)
        )
        nodes = index.as_retriever(similarity_top_k=5).retrieve("...")

    **Storage.** Each node is one vector whose id is the node id and whose metadata is
    LlamaIndex's own serialisation (``node_to_metadata_dict``): the user metadata at top level
    (filterable), plus ``_node_content`` (the whole node as JSON: text, metadata,
    relationships, character offsets), ``_node_type`` and ``ref_doc_id`` / ``doc_id`` /
    ``document_id``. Text therefore lives in Vectorize (``stores_text``) and no docstore is
    needed. Vectorize allows 10 KiB of metadata per vector; a node whose serialisation is
    larger is refused with :class:`NodeValidationError` naming the node and its position,
    before anything is sent. Nested metadata is allowed (``flat_metadata=False``): Vectorize
    stores nested objects, filters reach them with dotted keys (``"author.name"``), and the
    node is rebuilt from ``_node_content`` exactly. Vector ids are unique per *index*, not per
    namespace: two namespaces writing the same node id overwrite each other.

    **Index set-up.** Before its first write the store calls the core's
    :meth:`~cloudflare_ai.VectorizeClient.ensure_index`: the index exists (created with
    ``dimensions`` — or the first embedding's length — and ``metric`` when
    ``create_if_missing``) and metadata indexes exist for ``ref_doc_id`` and for each property
    (or dotted path, ``"author.name"``) in ``metadata_indexes``. Vectorize filters only see
    properties that were indexed *before* a vector was written, so these are created (and
    waited for) first. Properties you want to filter on must be listed in
    ``metadata_indexes`` (or indexed by you beforehand).

    **Queries.** One Vectorize query per :meth:`query`, asking for all metadata (which caps
    ``similarity_top_k`` at 50: larger values are clamped with a warning). ``filters`` are
    parsed into the core's filter model (:mod:`cloudflare_ai.filters`, exactly as LangChain
    filters are: an unsupported filter raises, nothing is dropped, and a filter on a property
    without a metadata index warns); ``doc_ids`` become ``ref_doc_id $in [...]`` in the same
    filter. ``node_ids`` restrict the search to those nodes: they are
    fetched with ``get_by_ids`` and ranked here with the index's metric (exact, any number of
    ids, and the filters applied with Vectorize's rules to the indexed properties) — one
    ``get_by_ids`` request per 1000 ids instead of the query. ``mode=MMR`` asks for the
    values of ``similarity_top_k * mmr_prefetch_factor`` candidates (at most 50) and picks
    with LlamaIndex's MMR (``mmr_threshold``); other modes raise
    :class:`UnsupportedQueryError`.

    **Similarities** are higher-is-better for every metric (see
    :func:`similarity_from_score`): cosine as returned, euclidean distance ``d`` as
    ``1 / (1 + d)``, dot-product as the dot product (Vectorize returns its negative). The
    metric is ``metric`` when given, else read from the index once.

    **delete(ref_doc_id)** removes every node of the document through the core's
    :meth:`~cloudflare_ai.VectorizeClient.delete_matching`: it queries the document's vectors
    by ``{"ref_doc_id": id}`` (100 ids per query, no metadata), deletes them, waits until
    Vectorize has processed that deletion, and repeats until a query finds none (raising
    rather than looping if Vectorize kept returning deleted vectors). Vectors written before
    the ``ref_doc_id`` metadata index existed (e.g. by other tools) are invisible to this
    filter. ``delete_nodes(filters=...)`` deletes the same way; a filter on a property without
    a metadata index is refused.

    **get_nodes** (and ``delete_nodes`` with ``node_ids``) use the core's
    :meth:`~cloudflare_ai.VectorizeClient.select`: by id with ``get_by_ids``, or, with only
    ``filters`` (or nothing), every id of the index (``list``), keeping the vectors of this
    store's namespace that satisfy ``filters`` by Vectorize's rules over the indexed
    properties — complete, but proportional to the index size. :meth:`clear` deletes every
    vector (of the namespace, if one is set) and keeps the index.

    ``wait_for_writes=True`` makes :meth:`add`, :meth:`delete_nodes` and :meth:`clear`
    return only once Vectorize serves the change (it is eventually consistent; writes
    usually become visible within seconds).
    """

    stores_text: bool = True
    is_embedding_query: bool = True
    flat_metadata: bool = False

    index_name: str = Field(description="Vectorize index name.")
    namespace: str | None = Field(
        default=None, description="Namespace to write to and search in (None: the whole index)."
    )
    dimensions: int | None = Field(
        default=None, description="Dimensions for creating the index (default: the embeddings')."
    )
    metric: Metric | None = Field(
        default=None,
        description="Metric for creating the index and converting scores (None: read from "
        "the index; cosine when creating).",
    )
    metadata_indexes: dict[str, IndexType] = Field(
        default_factory=dict,
        description="Metadata properties to index (property → string/number/boolean) before "
        "the first write, so filters can use them.",
    )
    create_if_missing: bool = Field(default=True, description="Create the index on first write.")
    wait_for_writes: bool = Field(
        default=False, description="Return from writes only once Vectorize serves them."
    )
    wait_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for a write.")

    #: Caches that depend on the connection: rebuilt, never copied nor pickled.
    lazy_private_attributes: ClassVar[frozenset[str]] = (
        CloudflareConnection.lazy_private_attributes | {"_metric", "_ready", "_index_dimensions"}
    )

    _metric: str | None = PrivateAttr(default=None)
    _ready: bool = PrivateAttr(default=False)
    #: The index's vector length, once read (``_index_ready``): every later write must match.
    _index_dimensions: int | None = PrivateAttr(default=None)

    def __init__(self, index_name: str | None = None, **kwargs: Any) -> None:
        if index_name is not None:
            kwargs["index_name"] = index_name
        super().__init__(**kwargs)
        self._metric = self.metric

    @field_validator("index_name")
    @classmethod
    def _valid_index_name(cls, value: str) -> str:
        return check_index_name(value)

    @field_validator("namespace")
    @classmethod
    def _valid_namespace(cls, value: str | None) -> str | None:
        return None if value is None else check_namespace(value)

    @classmethod
    def class_name(cls) -> str:
        return "CloudflareVectorizeVectorStore"

    # --- clients ------------------------------------------------------------------------
    @property
    def client(self) -> VectorizeClient:
        """The synchronous core client (created on first use; see ``CloudflareConnection``)."""
        return self.vectorize

    @property
    def aclient(self) -> AsyncVectorizeClient:
        """The asynchronous core client of the running event loop."""
        return self.async_vectorize

    def delete_index(self, *, missing_ok: bool = False) -> None:
        """Delete the whole Vectorize index (every vector and metadata index in it); the next
        write creates it again."""
        self.client.delete_index(self.index_name, missing_ok=missing_ok)
        self._ready = False
        self._index_dimensions = None

    async def adelete_index(self, *, missing_ok: bool = False) -> None:
        await self.aclient.delete_index(self.index_name, missing_ok=missing_ok)
        self._ready = False
        self._index_dimensions = None

    # --- building vectors and nodes -----------------------------------------------------
    def _records(self, nodes: Sequence[BaseNode]) -> list[Record]:
        """Every node as a pipeline record carrying its embedding (written, never
        re-embedded), all checked before anything is sent.

        Per node, in this order: the id, that it has an embedding, its vector, its metadata
        (:func:`_node_metadata`); the first node (by position) with a problem is named in a
        :class:`NodeValidationError`. The vectors are converted and checked together
        (:func:`_vectors`): each record carries a row of one float32 matrix, which the
        pipeline writes as it is."""
        embeddings = [node.embedding for node in nodes]
        matrix, bad, dimensions = _vectors(embeddings, self._expected_dimensions())
        checked: list[tuple[str, dict[str, Any]]] = []
        for position, node in enumerate(nodes):
            node_id = node.node_id
            with _naming(node, position):
                check_id(node_id, position)
                if embeddings[position] is None:
                    raise ValidationError(
                        "has no embedding; embed nodes before adding them (VectorStoreIndex "
                        "does this with its embed_model)",
                        field="values",
                    )
                if position == bad:
                    check_values(embeddings[position], dimensions, node_id, position)
                    raise AssertionError(f"check_values accepted the vector at {position}")
                try:
                    metadata = _node_metadata(node, self.flat_metadata)
                except ValueError as exc:
                    raise ValidationError(str(exc), field="metadata") from None
                check_metadata(metadata, node_id, position)
            checked.append((node_id, metadata))
        assert matrix is not None  # every node has a good vector: all were converted
        check_unique_ids([node_id for node_id, _ in checked])
        return [
            Record(node_id, "", metadata, self.namespace, row)
            for (node_id, metadata), row in zip(checked, matrix, strict=True)
        ]

    def _expected_dimensions(self) -> int | None:
        """The vector length writes must have, when known before looking at the nodes: the
        index's (learnt when the store prepared it), else ``dimensions`` (the index is
        created with it, or checked against it)."""
        return self._index_dimensions or self.dimensions

    @staticmethod
    def _node(vector_id: str, metadata: Mapping[str, Any] | None, values: Any = None) -> BaseNode:
        """A node rebuilt from stored metadata; vectors not written by LlamaIndex become a
        TextNode with the ``text`` metadata property as text."""
        node: BaseNode
        try:
            node = metadata_dict_to_node(dict(metadata or {}))
        except (ValueError, TypeError):
            extra, info, relationships = legacy_metadata_dict_to_node(
                dict(metadata or {}), text_key=TEXT_KEY
            )
            text = (metadata or {}).get(TEXT_KEY)
            node = TextNode(
                id_=vector_id,
                text=text if isinstance(text, str) else "",
                metadata=extra,
                relationships=relationships,
                start_char_idx=info.get("start"),
                end_char_idx=info.get("end"),
            )
        if values is not None:
            node.embedding = [float(v) for v in values]
        return node

    def _owned(self, record: VectorRecord) -> bool:
        return self.namespace is None or record.namespace == self.namespace

    # --- query planning -----------------------------------------------------------------
    def _plan(self, query: VectorStoreQuery, kwargs: Mapping[str, Any]) -> _Plan:
        if query.mode not in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR):
            raise UnsupportedQueryError(
                f"query mode {query.mode.value!r} is not supported by Vectorize; use the "
                "default mode or 'mmr'"
            )
        if query.query_embedding is None:
            raise UnsupportedQueryError("VectorizeVectorStore needs query.query_embedding")
        top_k = int(query.similarity_top_k)
        if top_k < 1:
            raise UnsupportedQueryError(f"similarity_top_k must be at least 1, got {top_k}")
        # Empty doc_ids / node_ids mean "no restriction", as everywhere in LlamaIndex
        # (VectorStoreIndex.as_retriever passes node_ids=[] when the store keeps the text).
        extra = []
        if query.doc_ids:
            extra.append(
                MetadataFilter(
                    key=REF_DOC_ID_KEY, value=list(query.doc_ids), operator=FilterOperator.IN
                )
            )
        vfilter = to_filter(query.filters, extra)
        mmr = query.mode == VectorStoreQueryMode.MMR
        fetch = top_k
        if mmr:
            factor = float(kwargs.get("mmr_prefetch_factor", 4.0))
            fetch = int(kwargs.get("mmr_prefetch_k", max(top_k, round(top_k * factor))))
        if not query.node_ids and fetch > _HEAVY_CAP:
            if top_k > _HEAVY_CAP:
                warnings.warn(
                    f"similarity_top_k={top_k} exceeds Vectorize's cap of {_HEAVY_CAP} results "
                    "with metadata; returning at most 50",
                    UserWarning,
                    stacklevel=3,
                )
            fetch = _HEAVY_CAP
            top_k = min(top_k, _HEAVY_CAP)
        threshold = query.mmr_threshold
        if threshold is None:
            threshold = kwargs.get("mmr_threshold")
        return _Plan(
            embedding=[float(v) for v in query.query_embedding],
            top_k=top_k,
            fetch=fetch,
            filter=vfilter,
            mmr=mmr,
            mmr_threshold=threshold,
            node_ids=list(query.node_ids) if query.node_ids else None,
        )

    def _result(
        self,
        plan: _Plan,
        candidates: list[tuple[str, Mapping[str, Any] | None, list[float] | None, float]],
    ) -> VectorStoreQueryResult:
        """Candidates (id, metadata, values, similarity) best first → the query's answer."""
        chosen = candidates[: plan.top_k]
        if plan.mmr and candidates:
            by_id = {c[0]: c for c in candidates}
            _, ids = get_top_k_mmr_embeddings(
                plan.embedding,
                [list(c[2] or []) for c in candidates],
                similarity_top_k=plan.top_k,
                embedding_ids=[c[0] for c in candidates],
                mmr_threshold=plan.mmr_threshold,
            )
            chosen = [by_id[i] for i in ids]
        return VectorStoreQueryResult(
            nodes=[self._node(i, metadata, values) for i, metadata, values, _ in chosen],
            similarities=[score for *_, score in chosen],
            ids=[c[0] for c in chosen],
        )

    def _from_matches(
        self, plan: _Plan, matches: list[Match], metric: str
    ) -> VectorStoreQueryResult:
        return self._result(
            plan, [(m.id, m.metadata, m.values, similarity(metric, m.score)) for m in matches]
        )

    def _from_records(
        self, plan: _Plan, records: list[VectorRecord], metric: str
    ) -> VectorStoreQueryResult:
        kept = [r for r in records if r.values]
        if not kept:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        matrix = np.asarray([r.values for r in kept], dtype=np.float64)
        scores = similarities(plan.embedding, matrix, metric)
        order = sorted(range(len(kept)), key=lambda i: -scores[i])
        return self._result(
            plan, [(kept[i].id, kept[i].metadata, kept[i].values, scores[i]) for i in order]
        )

    def _index_ready(self, index: Index) -> None:
        metric = index.config.metric
        if self.metric is not None and self.metric != metric:
            raise ValidationError(
                f"index {self.index_name!r} uses metric {metric!r}, not the configured "
                f"{self.metric!r}",
                item=self.index_name,
            )
        self._metric = metric
        self._index_dimensions = index.config.dimensions

    def _setup(self, dimensions: int) -> dict[str, Any]:
        """``ensure_index`` arguments: the index, and the metadata indexes filters need."""
        return {
            "dimensions": self.dimensions or dimensions,
            "metric": self.metric,
            "metadata_indexes": {REF_DOC_ID_KEY: "string", **self.metadata_indexes},
            "create": self.create_if_missing,
            "wait_timeout": self.wait_timeout,
        }

    def _wait(self, kwargs: Mapping[str, Any]) -> bool:
        return bool(kwargs.get("wait", self.wait_for_writes))

    @staticmethod
    def _doc_filter(ref_doc_id: str) -> Filter:
        return Filter([Condition(REF_DOC_ID_KEY, "$eq", ref_doc_id)])

    @staticmethod
    def _check_delete_args(node_ids: list[str] | None, filters: MetadataFilters | None) -> None:
        if node_ids is None and filters is None:
            raise ValidationError("delete_nodes needs node_ids or filters (clear() deletes all)")

    # --- sync API -----------------------------------------------------------------------
    def _metric_of_index(self) -> str:
        if self._metric is None:
            self._index_ready(self.client.get_index(self.index_name))
        assert self._metric is not None
        return self._metric

    def _prepare(self, dimensions: int) -> None:
        """Index and metadata indexes, once per store, before the first write."""
        if not self._ready:
            self._index_ready(self.client.ensure_index(self.index_name, **self._setup(dimensions)))
            self._ready = True

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Write the nodes (upsert: a node id written again is replaced); their ids in order.

        Nodes arrive embedded (``VectorStoreIndex``, ``insert`` and ``IngestionPipeline``
        embed them with their ``embed_model`` first): their vectors are written as they are,
        through the ingestion pipeline (:mod:`cloudflare_ai.pipeline`), in concurrent write
        batches. Every node is checked before anything is sent; a write that still fails
        after retries raises :class:`~cloudflare_ai.errors.PartialWriteError` listing the
        node ids written and not."""
        if not nodes:
            return []
        records = self._records(nodes)
        self._prepare(_dimensions(records))
        run_sync(lambda: self._ingest(records, kwargs))
        return [r.id for r in records]

    async def _ingest(self, records: list[Record], kwargs: Mapping[str, Any]) -> IngestReport:
        """Write-only pipeline run (every record carries its vector), on a Vectorize client
        whose pool fits the writes in flight: ``max_concurrency`` when set, else derived."""
        sizing = plan(None, concurrency=self.max_concurrency, expected=len(records))
        settings = pool_settings(self.clients.settings, sizing.total_slots)
        async with AsyncVectorizeClient(settings=settings, retry=self.retry_policy) as db:
            return await aingest(
                records,
                index=self.index_name,
                vectorize=db,
                embedder=_no_embedding,
                text_key=None,
                concurrency=self.max_concurrency,
                checked=True,
                wait=self._wait(kwargs),
                wait_timeout=self.wait_timeout,
            )

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nodes nearest ``query.query_embedding`` (see the class
        docstring for filters, ``doc_ids``, ``node_ids`` and MMR)."""
        plan = self._plan(query, kwargs)
        if plan.node_ids is not None:
            records = self.client.select(
                self.index_name, plan.filter, ids=plan.node_ids, namespace=self.namespace
            )
            return self._from_records(plan, records, self._metric_of_index())
        metric = self._metric_of_index()
        found = self.client.query(
            self.index_name,
            plan.embedding,
            top_k=plan.fetch,
            filter=plan.filter,
            namespace=self.namespace,
            return_values=plan.mmr,
            return_metadata="all",
        )
        return self._from_matches(plan, found.matches, metric)

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Nodes by id (in the order asked), or every node matching ``filters``."""
        records = self.client.select(
            self.index_name, to_filter(filters), ids=node_ids, namespace=self.namespace
        )
        return [self._node(r.id, r.metadata, r.values) for r in records]

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id and/or filters (both given: the listed nodes matching them)."""
        self._check_delete_args(node_ids, filters)
        if node_ids is not None and filters is None and self.namespace is None:
            ids = list(dict.fromkeys(node_ids))
        elif node_ids is None and filters is not None:
            self.client.delete_matching(
                self.index_name, to_filter(filters), namespace=self.namespace,
                wait_timeout=self.wait_timeout,
            )  # fmt: skip
            return
        else:
            ids = [r.id for r in self.client.select(
                self.index_name, to_filter(filters), ids=node_ids, namespace=self.namespace
            )]  # fmt: skip
        if ids:
            self.client.delete_by_ids(
                self.index_name, ids, wait=self._wait(delete_kwargs), wait_timeout=self.wait_timeout
            )

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of document ``ref_doc_id`` (see the class docstring)."""
        deleted = self.client.delete_matching(
            self.index_name, self._doc_filter(ref_doc_id), namespace=self.namespace,
            wait_timeout=self.wait_timeout,
        )  # fmt: skip
        logger.debug("deleted %d nodes of document %r", len(deleted), ref_doc_id)

    def clear(self) -> None:
        """Delete every vector (of the namespace, when one is set); the index remains."""
        self.client.delete_matching(
            self.index_name, None, namespace=self.namespace, wait_timeout=self.wait_timeout
        )

    # --- async API ----------------------------------------------------------------------
    async def _ametric_of_index(self) -> str:
        if self._metric is None:
            self._index_ready(await self.aclient.get_index(self.index_name))
        assert self._metric is not None
        return self._metric

    async def _aprepare(self, dimensions: int) -> None:
        if not self._ready:
            index = await self.aclient.ensure_index(self.index_name, **self._setup(dimensions))
            self._index_ready(index)
            self._ready = True

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Asynchronous :meth:`add`."""
        if not nodes:
            return []
        records = self._records(nodes)
        await self._aprepare(_dimensions(records))
        await self._ingest(records, kwargs)
        return [r.id for r in records]

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Asynchronous :meth:`query`."""
        plan = self._plan(query, kwargs)
        if plan.node_ids is not None:
            records = await self.aclient.select(
                self.index_name, plan.filter, ids=plan.node_ids, namespace=self.namespace
            )
            return self._from_records(plan, records, await self._ametric_of_index())
        metric = await self._ametric_of_index()
        found = await self.aclient.query(
            self.index_name,
            plan.embedding,
            top_k=plan.fetch,
            filter=plan.filter,
            namespace=self.namespace,
            return_values=plan.mmr,
            return_metadata="all",
        )
        return self._from_matches(plan, found.matches, metric)

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Asynchronous :meth:`get_nodes`."""
        records = await self.aclient.select(
            self.index_name, to_filter(filters), ids=node_ids, namespace=self.namespace
        )
        return [self._node(r.id, r.metadata, r.values) for r in records]

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Asynchronous :meth:`delete_nodes`."""
        self._check_delete_args(node_ids, filters)
        if node_ids is not None and filters is None and self.namespace is None:
            ids = list(dict.fromkeys(node_ids))
        elif node_ids is None and filters is not None:
            await self.aclient.delete_matching(
                self.index_name, to_filter(filters), namespace=self.namespace,
                wait_timeout=self.wait_timeout,
            )  # fmt: skip
            return
        else:
            records = await self.aclient.select(
                self.index_name, to_filter(filters), ids=node_ids, namespace=self.namespace
            )
            ids = [r.id for r in records]
        if ids:
            await self.aclient.delete_by_ids(
                self.index_name, ids, wait=self._wait(delete_kwargs), wait_timeout=self.wait_timeout
            )

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Asynchronous :meth:`delete`."""
        await self.aclient.delete_matching(
            self.index_name, self._doc_filter(ref_doc_id), namespace=self.namespace,
            wait_timeout=self.wait_timeout,
        )  # fmt: skip

    async def aclear(self) -> None:
        """Asynchronous :meth:`clear`."""
        await self.aclient.delete_matching(
            self.index_name, None, namespace=self.namespace, wait_timeout=self.wait_timeout
        )


_NO_EMBEDDING = {"embedding"}
#: ``json.dumps(obj, ensure_ascii=False)``'s encoder, built once instead of once per node.
_JSON = json.JSONEncoder(ensure_ascii=False)


@functools.cache
def _fields_before_embedding(node_type: type[BaseNode]) -> frozenset[str]:
    """The fields a node class serialises before ``embedding`` (pydantic dumps fields in
    declaration order): where the key goes back so the JSON matches LlamaIndex's."""
    names = list(node_type.model_fields)
    return frozenset(names[: names.index("embedding")]) if "embedding" in names else frozenset()


def _node_metadata(node: BaseNode, flat_metadata: bool) -> dict[str, Any]:
    """Exactly what LlamaIndex's ``node_to_metadata_dict(node, remove_text=False)`` returns,
    built without serialising the embedding.

    LlamaIndex dumps the whole node to a dict, every float of its embedding included, only to
    set the embedding to None and ``json.dumps`` the rest into ``_node_content``. Here the
    node is dumped without its embedding and ``"embedding": null`` is put back in its place,
    so ``_node_content`` is the same string, byte for byte (``json.dumps`` of a small dict
    costs little; the embedding was the expensive part), and the other keys are LlamaIndex's:
    the node's metadata (JSON mode), ``_node_type`` and ``document_id`` / ``doc_id`` /
    ``ref_doc_id``. ``flat_metadata`` goes through LlamaIndex's own function, whose check it
    needs.
    """
    if flat_metadata:
        return node_to_metadata_dict(node, remove_text=False, flat_metadata=True)
    dumped = node.model_dump(mode="json", exclude=_NO_EMBEDDING)
    before = _fields_before_embedding(type(node))
    items = list(dumped.items())
    at = sum(1 for key, _ in items if key in before)
    node_dict = dict(items[:at])
    node_dict["embedding"] = None
    node_dict.update(items[at:])
    metadata: dict[str, Any] = node_dict.get("metadata", {})
    metadata["_node_content"] = _JSON.encode(node_dict)
    metadata["_node_type"] = node.class_name()
    ref_doc_id = node.ref_doc_id or "None"
    metadata["document_id"] = ref_doc_id
    metadata["doc_id"] = ref_doc_id
    metadata["ref_doc_id"] = ref_doc_id
    return metadata


@contextmanager
def _naming(node: BaseNode, position: int) -> Iterator[None]:
    """Re-raise a node's :class:`ValidationError` as a :class:`NodeValidationError` naming
    the node and its position (with advice when its metadata is too large)."""
    try:
        yield
    except ValidationError as exc:
        node_id = node.node_id
        detail = str(exc).removeprefix(f"vector {node_id!r} at position {position}: ")
        raise NodeValidationError(
            f"node {node_id!r} at position {position}: {detail}"
            + (
                " (the node's text, metadata and relationships are all stored in "
                "Vectorize metadata; use smaller chunks or less metadata)"
                if exc.field == "metadata" and "bytes" in str(exc)
                else ""
            ),
            item=node_id,
            position=position,
            field=exc.field,
        ) from None


def _vectors(
    embeddings: Sequence[Any], dimensions: int | None
) -> tuple[np.ndarray[Any, np.dtype[np.float32]] | None, int | None, int | None]:
    """Every embedding as one row of a float32 matrix, converted by one numpy call instead
    of one check per node, under the rules of ``check_values``: a flat, non-empty list of
    numbers, of ``dimensions`` values (when known; else as many as the first), finite and
    within float32's range. Returns the matrix (None when some vector is missing or bad),
    the position of the first bad vector (None if there is none) and the dimensions it was
    held to; the caller re-checks that one vector with ``check_values`` for its message.

    Python floats are converted straight to float32 (the same rounding as through float64);
    a value that overflows becomes infinite there, so one finiteness test of the float32
    matrix finds both non-finite and overflowing values. Embeddings numpy cannot stack (of
    different lengths, not numbers, or some missing) are checked one by one instead."""
    if all(e is not None for e in embeddings):
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                matrix = np.array(embeddings, dtype=np.float32)
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            if matrix.ndim == 2 and matrix.shape[1] > 0:
                if dimensions is not None and matrix.shape[1] != dimensions:
                    return None, 0, dimensions
                width = int(matrix.shape[1])
                bad = _first_false(np.isfinite(matrix).all(axis=1))
                return (matrix, None, width) if bad is None else (None, bad, width)
    rows: list[np.ndarray[Any, np.dtype[np.float32]]] = []
    for position, embedding in enumerate(embeddings):
        if embedding is None:
            continue
        try:
            rows.append(check_values(embedding, dimensions, None, position))
        except ValidationError:
            return None, position, dimensions
        dimensions = dimensions or int(rows[-1].size)
    if len(rows) < len(embeddings):
        return None, None, dimensions  # a missing embedding: the caller names its node
    return np.stack(rows), None, dimensions


def _first_false(flags: Any) -> int | None:
    """The position of the first False in ``flags``, or None when all are True."""
    if flags.all():
        return None
    return int(np.argmin(flags))


def _dimensions(records: Sequence[Record]) -> int:
    """The vector length of checked records (each carries a float32 array)."""
    return len(records[0].values) if records[0].values is not None else 0


async def _no_embedding(texts: list[str]) -> Any:
    """Nodes reach the store embedded; a record without a vector is a bug upstream."""
    raise ValidationError(f"{len(texts)} node(s) reached the pipeline without an embedding")


class _Plan:
    """A query, checked and parsed, before it is sent."""

    __slots__ = ("embedding", "fetch", "filter", "mmr", "mmr_threshold", "node_ids", "top_k")

    def __init__(
        self,
        *,
        embedding: list[float],
        top_k: int,
        fetch: int,
        filter: Filter,
        mmr: bool,
        mmr_threshold: float | None,
        node_ids: list[str] | None,
    ) -> None:
        self.embedding = embedding
        self.top_k = top_k
        self.fetch = fetch
        self.filter = filter
        self.mmr = mmr
        self.mmr_threshold = mmr_threshold
        self.node_ids = node_ids
