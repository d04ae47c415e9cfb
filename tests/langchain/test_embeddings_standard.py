"""langchain-tests' standard suites for WorkersAIEmbeddings, replayed from emulator recordings."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from cloudflare_ai.langchain import WorkersAIEmbeddings
from tests.conftest import FAST_RETRY


class TestWorkersAIEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[WorkersAIEmbeddings]:
        return WorkersAIEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "@cf/baai/bge-small-en-v1.5"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"CLOUDFLARE_ACCOUNT_ID": "abcdefabcdefabcdefabcdefabcdefab", "CF_API_TOKEN": "t"},
            {},
            {"account_id": "abcdefabcdefabcdefabcdefabcdefab"},
        )


@pytest.mark.vcr
@pytest.mark.usefixtures("cloudflare_env")
class TestWorkersAIEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[WorkersAIEmbeddings]:
        return WorkersAIEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "@cf/baai/bge-small-en-v1.5", "retry_policy": FAST_RETRY}
