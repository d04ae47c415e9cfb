"""``VectorizeVectorStore``: a LlamaIndex vector store on Cloudflare Vectorize.

All HTTP goes through the core :class:`~cloudflare_ai.vectorize.VectorizeClient` /
:class:`~cloudflare_ai.vectorize.AsyncVectorizeClient`, which validate writes before sending,
split them at Vectorize's limits, retry transient failures and wait for mutations.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

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
from pydantic import Field, PrivateAttr, SecretStr, field_validator

from .. import limits
from ..config import ACCOUNT_ID_ENV, API_TOKEN_ENV, BASE_URL_ENV, ClientSettings, env_first
from ..connection import resolve_settings, running_loop
from ..errors import CloudflareError, NotFoundError, ValidationError
from ..transport import RetryPolicy
from ..types import Index, Match, Mutation, VectorRecord
from ..validation import check_id, check_index_name, check_metadata, check_namespace, check_values
from ..vectorize import AsyncVectorizeClient, Vector, VectorizeClient
from .filters import UnsupportedFilterError, matches_filter, to_vectorize_filter

logger = logging.getLogger(__name__)

Metric = Literal["cosine", "euclidean", "dot-product"]
IndexType = Literal["string", "number", "boolean"]

#: The metadata property holding each node's source document id (written by
#: ``node_to_metadata_dict``), indexed so ``delete(ref_doc_id)`` and ``doc_ids`` can filter.
REF_DOC_ID_KEY = "ref_doc_id"
_TEXT_KEY = "text"
_SCAN_PAGE = limits.MAX_TOP_K  # ids per delete round (no metadata returned: the cap is 100)
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
    """A Vectorize score as a similarity where higher is more similar, for every metric.

    ``cosine`` scores already are similarities (-1..1). ``euclidean`` scores are distances
    ``d >= 0``: the similarity is ``1 / (1 + d)`` (1 for identical vectors). ``dot-product``
    scores are Vectorize's *negative* dot product: the similarity is the dot product itself.
    """
    if metric == "euclidean":
        return 1.0 / (1.0 + max(score, 0.0))
    if metric == "dot-product":
        return -score
    return score


def _local_similarities(
    query: np.ndarray[Any, Any], matrix: np.ndarray[Any, Any], metric: str
) -> list[float]:
    """The same similarities as :func:`similarity_from_score`, computed here from values."""
    dots = matrix @ query
    if metric == "euclidean":
        distances = np.linalg.norm(matrix - query, axis=1)
        return [1.0 / (1.0 + float(d)) for d in distances]
    if metric == "dot-product":
        return [float(d) for d in dots]
    norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(query))
    norms[norms == 0] = 1.0
    return [float(s) for s in dots / norms]


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


class VectorizeVectorStore(BasePydanticVectorStore):
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

    **Index set-up.** Before its first write the store makes sure the index exists (creating
    it with ``dimensions`` — or the first embedding's length — and ``metric`` when
    ``create_if_missing``) and that metadata indexes exist for ``ref_doc_id`` and for each
    property in ``metadata_indexes``. Vectorize filters only see properties that were indexed
    *before* a vector was written, so these are created (and waited for) first. Properties you
    want to filter on must be listed in ``metadata_indexes`` (or indexed by you beforehand).

    **Queries.** One Vectorize query per :meth:`query`, asking for all metadata (which caps
    ``similarity_top_k`` at 50: larger values are clamped with a warning). ``filters`` are
    translated by :func:`~cloudflare_ai.llama_index.filters.to_vectorize_filter` (an
    unsupported filter raises, nothing is dropped); ``doc_ids`` become ``ref_doc_id $in
    [...]`` in the same filter. ``node_ids`` restrict the search to those nodes: they are
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

    **delete(ref_doc_id)** removes every node of the document: it queries the document's
    vectors by ``{"ref_doc_id": id}`` (100 ids per query, no metadata), deletes them, waits
    until Vectorize has processed that deletion, and repeats until a query finds none. Each
    round removes what the previous query saw, and waiting makes the next query see the
    index after the deletion, so the loop ends; if Vectorize kept returning vectors it had
    already been asked to delete, a :class:`~cloudflare_ai.errors.CloudflareError` is raised
    rather than looping. Vectors written before the ``ref_doc_id`` metadata index existed
    (e.g. by other tools) are invisible to this filter.

    **get_nodes / delete_nodes** with ``node_ids`` use ``get_by_ids`` (then keep the nodes in
    this store's namespace that satisfy ``filters``). With only ``filters`` (or nothing),
    they list every id of the index (``list``), fetch the vectors and select locally with
    Vectorize's filter rules over the indexed properties — complete, but proportional to the
    index size. :meth:`clear` deletes every vector (of the namespace, if one is set) and
    keeps the index.

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

    account_id: str | None = Field(
        default_factory=lambda: env_first(ACCOUNT_ID_ENV),
        description="Cloudflare account id (env CLOUDFLARE_ACCOUNT_ID).",
    )
    api_token: SecretStr | None = Field(
        default_factory=lambda: _secret(env_first(API_TOKEN_ENV)),
        description="Cloudflare API token (env CLOUDFLARE_API_TOKEN); never serialised.",
        repr=False,
        exclude=True,
    )
    base_url: str | None = Field(
        default_factory=lambda: env_first(BASE_URL_ENV),
        description="API root (env CLOUDFLARE_BASE_URL).",
    )
    timeout: float | None = Field(default=None, description="Request timeout in seconds.")
    max_retries: int | None = Field(default=None, description="Retries of transient failures.")
    max_concurrency: int | None = Field(
        default=None, description="Write requests in flight at once."
    )
    retry_policy: RetryPolicy | None = Field(default=None, exclude=True, repr=False)

    _settings: ClientSettings | None = PrivateAttr(default=None)
    _sync: VectorizeClient | None = PrivateAttr(default=None)
    _async: tuple[object, AsyncVectorizeClient] | None = PrivateAttr(default=None)
    _metric: str | None = PrivateAttr(default=None)
    _ready: bool = PrivateAttr(default=False)
    _indexed: dict[str, str] | None = PrivateAttr(default=None)

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
    def _client_settings(self) -> ClientSettings:
        if self._settings is None:
            self._settings = resolve_settings(
                account_id=self.account_id,
                api_token=self.api_token,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                max_concurrency=self.max_concurrency,
            )
        return self._settings

    @property
    def client(self) -> VectorizeClient:
        """The synchronous core client (created on first use)."""
        if self._sync is None:
            self._sync = VectorizeClient(settings=self._client_settings(), retry=self.retry_policy)
        return self._sync

    @property
    def aclient(self) -> AsyncVectorizeClient:
        """The asynchronous core client of the running event loop (an httpx async pool belongs
        to the loop it was first used on, so each loop gets its own)."""
        loop = running_loop()
        if self._async is None or self._async[0] is not loop:
            client = AsyncVectorizeClient(settings=self._client_settings(), retry=self.retry_policy)
            self._async = (loop, client)
        return self._async[1]

    def close(self) -> None:
        """Close the synchronous client's connections."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def delete_index(self, *, missing_ok: bool = False) -> None:
        """Delete the whole Vectorize index (every vector and metadata index in it); the next
        write creates it again."""
        self.client.delete_index(self.index_name, missing_ok=missing_ok)
        self._ready = False

    async def adelete_index(self, *, missing_ok: bool = False) -> None:
        await self.aclient.delete_index(self.index_name, missing_ok=missing_ok)
        self._ready = False

    async def aclose(self) -> None:
        """Close the asynchronous client's connections (of the running loop)."""
        if self._async is not None and self._async[0] is running_loop():
            await self._async[1].aclose()
        self._async = None

    # --- building vectors and nodes -----------------------------------------------------
    def _vectors(self, nodes: Sequence[BaseNode]) -> list[Vector]:
        """Every node as a Vectorize vector, all checked before anything is sent."""
        vectors: list[Vector] = []
        dimensions: int | None = None
        for position, node in enumerate(nodes):
            node_id = node.node_id
            try:
                check_id(node_id, position)
                embedding = node.embedding
                if embedding is None:
                    raise ValidationError(
                        "has no embedding; embed nodes before adding them (VectorStoreIndex "
                        "does this with its embed_model)",
                        field="values",
                    )
                values = check_values(embedding, dimensions, node_id, position)
                dimensions = dimensions or int(values.size)
                try:
                    metadata = node_to_metadata_dict(
                        node, remove_text=False, flat_metadata=self.flat_metadata
                    )
                except ValueError as exc:
                    raise ValidationError(str(exc), field="metadata") from None
                check_metadata(metadata, node_id, position)
            except ValidationError as exc:
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
            vectors.append(Vector(node_id, embedding, metadata, self.namespace))
        return vectors

    @staticmethod
    def _node(vector_id: str, metadata: Mapping[str, Any] | None, values: Any = None) -> BaseNode:
        """A node rebuilt from stored metadata; vectors not written by LlamaIndex become a
        TextNode with the ``text`` metadata property as text."""
        node: BaseNode
        try:
            node = metadata_dict_to_node(dict(metadata or {}))
        except (ValueError, TypeError):
            extra, info, relationships = legacy_metadata_dict_to_node(
                dict(metadata or {}), text_key=_TEXT_KEY
            )
            text = (metadata or {}).get(_TEXT_KEY)
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
        vfilter = to_vectorize_filter(query.filters, extra)
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
            plan,
            [(m.id, m.metadata, m.values, similarity_from_score(m.score, metric)) for m in matches],
        )

    def _from_records(
        self, plan: _Plan, records: list[VectorRecord], metric: str
    ) -> VectorStoreQueryResult:
        indexed = self._indexed
        kept = [
            r
            for r in records
            if r.values and self._owned(r) and matches_filter(plan.filter, r.metadata, indexed)
        ]
        if not kept:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        matrix = np.asarray([r.values for r in kept], dtype=np.float64)
        scores = _local_similarities(np.asarray(plan.embedding, dtype=np.float64), matrix, metric)
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

    def _missing_indexes(self, existing: Mapping[str, str]) -> dict[str, str]:
        wanted: dict[str, str] = {REF_DOC_ID_KEY: "string", **self.metadata_indexes}
        missing = {}
        for prop, kind in wanted.items():
            have = existing.get(prop)
            if have is None:
                missing[prop] = kind
            elif have != kind:
                logger.warning(
                    "metadata index %r on %r is of type %r, not %r; keeping it",
                    prop,
                    self.index_name,
                    have,
                    kind,
                )
        return missing

    def _create_spec(self, dimensions: int) -> dict[str, Any]:
        return {"dimensions": self.dimensions or dimensions, "metric": self.metric or "cosine"}

    # --- sync API -----------------------------------------------------------------------
    def _metric_of_index(self) -> str:
        if self._metric is None:
            self._index_ready(self.client.get_index(self.index_name))
        assert self._metric is not None
        return self._metric

    def _known_indexes(self) -> dict[str, str]:
        if self._indexed is None:
            found = self.client.list_metadata_indexes(self.index_name)
            self._indexed = {m.property_name: m.index_type for m in found}
        return self._indexed

    def _prepare(self, dimensions: int) -> None:
        """Index and metadata indexes, once per store, before the first write."""
        if self._ready:
            return
        client = self.client
        try:
            index = client.get_index(self.index_name)
        except NotFoundError:
            if not self.create_if_missing:
                raise
            index = client.create_index(
                self.index_name, **self._create_spec(dimensions), exist_ok=True
            )
        self._index_ready(index)
        existing = {
            m.property_name: m.index_type for m in client.list_metadata_indexes(self.index_name)
        }
        last: Mutation | None = None
        for prop, kind in self._missing_indexes(existing).items():
            last = client.create_metadata_index(self.index_name, prop, kind)
            existing[prop] = kind
        if last is not None:
            client.wait_for_mutation(
                self.index_name, last.mutation_id, timeout=self.wait_timeout, since=last.accepted_at
            )
        self._indexed = existing
        self._ready = True

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Write the nodes (upsert: a node id written again is replaced); their ids in order."""
        if not nodes:
            return []
        vectors = self._vectors(nodes)
        self._prepare(len(vectors[0].values))
        self.client.upsert(
            self.index_name,
            vectors,
            wait=bool(add_kwargs.get("wait", self.wait_for_writes)),
            wait_timeout=self.wait_timeout,
        )
        return [v.id for v in vectors]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nodes nearest ``query.query_embedding`` (see the class
        docstring for filters, ``doc_ids``, ``node_ids`` and MMR)."""
        plan = self._plan(query, kwargs)
        if plan.node_ids is not None:
            if plan.filter:
                self._known_indexes()
            records = self.client.get_by_ids(self.index_name, plan.node_ids)
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

    def _all_records(self) -> Iterable[VectorRecord]:
        ids = list(self.client.iter_ids(self.index_name))
        for start in range(0, len(ids), limits.MAX_IDS_PER_REQUEST):
            yield from self.client.get_by_ids(
                self.index_name, ids[start : start + limits.MAX_IDS_PER_REQUEST]
            )

    def _select(
        self, node_ids: list[str] | None, filters: MetadataFilters | None
    ) -> list[VectorRecord]:
        vfilter = to_vectorize_filter(filters)
        indexed = self._known_indexes() if vfilter else None
        records: Iterable[VectorRecord]
        if node_ids is not None:
            records = self.client.get_by_ids(self.index_name, node_ids) if node_ids else []
        else:
            records = self._all_records()
        return [
            r for r in records if self._owned(r) and matches_filter(vfilter, r.metadata, indexed)
        ]

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Nodes by id (in the order asked), or every node matching ``filters``."""
        records = self._select(node_ids, filters)
        return [self._node(r.id, r.metadata, r.values) for r in records]

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id and/or filters (both given: the listed nodes matching them)."""
        if node_ids is None and filters is None:
            raise ValidationError("delete_nodes needs node_ids or filters (clear() deletes all)")
        if node_ids is not None and filters is None and self.namespace is None:
            ids = list(dict.fromkeys(node_ids))
        else:
            ids = [r.id for r in self._select(node_ids, filters)]
        self._delete_ids(ids, bool(delete_kwargs.get("wait", self.wait_for_writes)))

    def _delete_ids(self, ids: Sequence[str], wait: bool) -> None:
        if not ids:
            return
        mutations = self.client.delete_by_ids(self.index_name, ids)
        if wait and mutations:
            last = mutations[-1]
            self.client.wait_for_mutation(
                self.index_name, last.mutation_id, timeout=self.wait_timeout, since=last.accepted_at
            )

    def _delete_matching(self, vfilter: Mapping[str, Any] | None) -> int:
        """Delete every vector the filter (and namespace) selects, query page by page."""
        dims = self.client.dimensions(self.index_name)
        probe = [1.0] + [0.0] * (dims - 1)
        deleted: set[str] = set()
        while True:
            found = self.client.query(
                self.index_name,
                probe,
                top_k=_SCAN_PAGE,
                filter=vfilter,
                namespace=self.namespace,
                return_metadata="none",
            )
            ids = [m.id for m in found.matches]
            if not ids:
                return len(deleted)
            _check_progress(ids, deleted, self.index_name)
            deleted.update(ids)
            self._delete_ids(ids, wait=True)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of document ``ref_doc_id`` (see the class docstring)."""
        vfilter = to_vectorize_filter(
            MetadataFilters(filters=[MetadataFilter(key=REF_DOC_ID_KEY, value=ref_doc_id)])
        )
        count = self._delete_matching(vfilter)
        logger.debug("deleted %d nodes of document %r", count, ref_doc_id)

    def clear(self) -> None:
        """Delete every vector (of the namespace, when one is set); the index remains."""
        if self.namespace is not None:
            self._delete_matching(None)
            return
        ids = list(self.client.iter_ids(self.index_name))
        self._delete_ids(ids, self.wait_for_writes)

    # --- async API ----------------------------------------------------------------------
    async def _ametric_of_index(self) -> str:
        if self._metric is None:
            self._index_ready(await self.aclient.get_index(self.index_name))
        assert self._metric is not None
        return self._metric

    async def _aknown_indexes(self) -> dict[str, str]:
        if self._indexed is None:
            found = await self.aclient.list_metadata_indexes(self.index_name)
            self._indexed = {m.property_name: m.index_type for m in found}
        return self._indexed

    async def _aprepare(self, dimensions: int) -> None:
        if self._ready:
            return
        client = self.aclient
        try:
            index = await client.get_index(self.index_name)
        except NotFoundError:
            if not self.create_if_missing:
                raise
            index = await client.create_index(
                self.index_name, **self._create_spec(dimensions), exist_ok=True
            )
        self._index_ready(index)
        existing = {
            m.property_name: m.index_type
            for m in await client.list_metadata_indexes(self.index_name)
        }
        last: Mutation | None = None
        for prop, kind in self._missing_indexes(existing).items():
            last = await client.create_metadata_index(self.index_name, prop, kind)
            existing[prop] = kind
        if last is not None:
            await client.wait_for_mutation(
                self.index_name, last.mutation_id, timeout=self.wait_timeout, since=last.accepted_at
            )
        self._indexed = existing
        self._ready = True

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Asynchronous :meth:`add`."""
        if not nodes:
            return []
        vectors = self._vectors(nodes)
        await self._aprepare(len(vectors[0].values))
        await self.aclient.upsert(
            self.index_name,
            vectors,
            wait=bool(kwargs.get("wait", self.wait_for_writes)),
            wait_timeout=self.wait_timeout,
        )
        return [v.id for v in vectors]

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Asynchronous :meth:`query`."""
        plan = self._plan(query, kwargs)
        if plan.node_ids is not None:
            if plan.filter:
                await self._aknown_indexes()
            records = await self.aclient.get_by_ids(self.index_name, plan.node_ids)
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

    async def _aall_ids(self) -> list[str]:
        return [i async for i in self.aclient.iter_ids(self.index_name)]

    async def _aselect(
        self, node_ids: list[str] | None, filters: MetadataFilters | None
    ) -> list[VectorRecord]:
        vfilter = to_vectorize_filter(filters)
        indexed = await self._aknown_indexes() if vfilter else None
        ids = node_ids if node_ids is not None else await self._aall_ids()
        records = await self.aclient.get_by_ids(self.index_name, ids) if ids else []
        return [
            r for r in records if self._owned(r) and matches_filter(vfilter, r.metadata, indexed)
        ]

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Asynchronous :meth:`get_nodes`."""
        records = await self._aselect(node_ids, filters)
        return [self._node(r.id, r.metadata, r.values) for r in records]

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Asynchronous :meth:`delete_nodes`."""
        if node_ids is None and filters is None:
            raise ValidationError("delete_nodes needs node_ids or filters (clear() deletes all)")
        if node_ids is not None and filters is None and self.namespace is None:
            ids = list(dict.fromkeys(node_ids))
        else:
            ids = [r.id for r in await self._aselect(node_ids, filters)]
        await self._adelete_ids(ids, bool(delete_kwargs.get("wait", self.wait_for_writes)))

    async def _adelete_ids(self, ids: Sequence[str], wait: bool) -> None:
        if not ids:
            return
        mutations = await self.aclient.delete_by_ids(self.index_name, ids)
        if wait and mutations:
            last = mutations[-1]
            await self.aclient.wait_for_mutation(
                self.index_name, last.mutation_id, timeout=self.wait_timeout, since=last.accepted_at
            )

    async def _adelete_matching(self, vfilter: Mapping[str, Any] | None) -> int:
        dims = await self.aclient.dimensions(self.index_name)
        probe = [1.0] + [0.0] * (dims - 1)
        deleted: set[str] = set()
        while True:
            found = await self.aclient.query(
                self.index_name,
                probe,
                top_k=_SCAN_PAGE,
                filter=vfilter,
                namespace=self.namespace,
                return_metadata="none",
            )
            ids = [m.id for m in found.matches]
            if not ids:
                return len(deleted)
            _check_progress(ids, deleted, self.index_name)
            deleted.update(ids)
            await self._adelete_ids(ids, wait=True)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Asynchronous :meth:`delete`."""
        vfilter = to_vectorize_filter(
            MetadataFilters(filters=[MetadataFilter(key=REF_DOC_ID_KEY, value=ref_doc_id)])
        )
        await self._adelete_matching(vfilter)

    async def aclear(self) -> None:
        """Asynchronous :meth:`clear`."""
        if self.namespace is not None:
            await self._adelete_matching(None)
            return
        await self._adelete_ids(await self._aall_ids(), self.wait_for_writes)


def _check_progress(ids: list[str], deleted: set[str], index: str) -> None:
    if all(i in deleted for i in ids):
        raise CloudflareError(
            f"Vectorize index {index!r} still returns {len(ids)} vectors whose deletion it "
            "reported as processed; stopping instead of looping"
        )


class _Plan:
    """A query, checked and translated, before it is sent."""

    __slots__ = ("embedding", "fetch", "filter", "mmr", "mmr_threshold", "node_ids", "top_k")

    def __init__(
        self,
        *,
        embedding: list[float],
        top_k: int,
        fetch: int,
        filter: dict[str, Any] | None,
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
