"""langchain-tests' VectorStoreIntegrationTests for VectorizeVectorStore, replayed from
emulator recordings (every standard test, sync and async, on its own fresh index)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from cloudflare_ai.langchain.vectorstores import VectorizeVectorStore
from tests.conftest import Target


def index_name_for(test_name: str, prefix: str = "lcstd") -> str:
    """A valid, deterministic Vectorize index name (≤ 64 bytes) derived from a test name."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")
    name = f"{prefix}-{slug}"
    if len(name) > 64:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:55].rstrip('-_')}-{digest}"
    assert re.fullmatch(r"[a-z][a-z0-9_-]*[a-z0-9]", name) and len(name.encode()) <= 64
    return name


@pytest.mark.vcr
class TestVectorizeVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(  # type: ignore[override]
        self, target: Target, request: pytest.FixtureRequest
    ) -> Iterator[VectorizeVectorStore]:
        kwargs = target.client_kwargs()
        store = VectorizeVectorStore(
            self.get_embeddings(),
            index_name_for(request.node.name),
            wait_for_writes=True,
            account_id=kwargs["account_id"],
            api_token=kwargs["api_token"],
            base_url=kwargs["base_url"],
            retry_policy=kwargs["retry"],
        )
        index = store.create_index(dimensions=6, metric="cosine", exist_ok=False)
        assert index.config.dimensions == 6
        try:
            yield store
        finally:
            store.delete_index()
            store.close()
