"""``WorkersAIAudioParser``: a LangChain blob parser that transcribes audio with Workers AI
speech recognition (Whisper by default), so ``GenericLoader`` turns audio files into
Documents::

    loader = GenericLoader.from_filesystem("calls/", glob="*.wav", parser=WorkersAIAudioParser())
    documents = loader.load()

Each audio blob becomes one Document whose text is the transcript; the metadata holds the
blob's ``source`` and what the model reports (language, duration, word count). The
transcription itself is the core's :meth:`cloudflare_ai.WorkersAIClient.transcribe`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.document_loaders import BaseBlobParser
from langchain_core.document_loaders.blob_loaders import Blob
from langchain_core.documents import Document
from pydantic import SecretStr

from ..connection import CloudflareClients
from ..transport import RetryPolicy

DEFAULT_SPEECH_MODEL = "@cf/openai/whisper"


class WorkersAIAudioParser(BaseBlobParser):
    """Transcribe audio blobs into Documents.

    Args:
        model: A Workers AI speech recognition model.
        language: The spoken language, when the model takes one (``None``: detected).
        word_timings: Keep ``(word, start, end)`` triples in ``metadata["words"]``.
        account_id, api_token, base_url, timeout, max_retries, retry_policy: connection
            settings, falling back to the environment like every other class.
    """

    def __init__(
        self,
        model: str = DEFAULT_SPEECH_MODEL,
        *,
        language: str | None = None,
        word_timings: bool = False,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.language = language
        self.word_timings = word_timings
        self._clients = CloudflareClients(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )

    def __repr__(self) -> str:
        return f"WorkersAIAudioParser(model={self.model!r})"

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        options: dict[str, Any] = {"model": self.model}
        if self.language is not None:
            options["language"] = self.language
        transcription = self._clients.workers_ai.transcribe(blob.as_bytes(), **options)
        metadata: dict[str, Any] = {"source": blob.source, "model": self.model}
        for key in ("language", "duration", "word_count"):
            value = getattr(transcription, key, None)
            if value is not None:
                metadata[key] = value
        if self.word_timings and transcription.words:
            metadata["words"] = [list(word) for word in transcription.words]
        yield Document(page_content=transcription.text, metadata=metadata)

    def close(self) -> None:
        self._clients.close()
