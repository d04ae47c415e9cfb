"""``WorkersAIAudioReader``: a LlamaIndex reader that transcribes audio files with Workers AI
speech recognition (Whisper by default). Use it alone or as a ``SimpleDirectoryReader`` file
extractor::

    reader = SimpleDirectoryReader("calls/", file_extractor={".wav": WorkersAIAudioReader()})
    documents = reader.load_data()

Each file becomes one Document whose text is the transcript, with the model's language,
duration and word count in the metadata. The transcription itself is the core's
:meth:`cloudflare_ai.WorkersAIClient.transcribe`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document
from pydantic import SecretStr

from ..connection import CloudflareClients
from ..transport import RetryPolicy

DEFAULT_SPEECH_MODEL = "@cf/openai/whisper"


class WorkersAIAudioReader(BaseReader):
    """Transcribe audio files into Documents (see the module docstring)."""

    def __init__(
        self,
        model: str = DEFAULT_SPEECH_MODEL,
        *,
        language: str | None = None,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.language = language
        self._clients = CloudflareClients(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )

    def __repr__(self) -> str:
        return f"WorkersAIAudioReader(model={self.model!r})"

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"model": self.model}
        if self.language is not None:
            options["language"] = self.language
        return options

    def _document(
        self, file: Path, transcription: Any, extra_info: dict[str, Any] | None
    ) -> Document:
        metadata: dict[str, Any] = {"file_path": str(file), "model": self.model}
        for key in ("language", "duration", "word_count"):
            value = getattr(transcription, key, None)
            if value is not None:
                metadata[key] = value
        metadata.update(extra_info or {})
        return Document(text=transcription.text, metadata=metadata)

    def load_data(
        self, file: Path | str, extra_info: dict[str, Any] | None = None, **_: Any
    ) -> list[Document]:
        path = Path(file)
        transcription = self._clients.workers_ai.transcribe(path, **self._options())
        return [self._document(path, transcription, extra_info)]

    async def aload_data(
        self, file: Path | str, extra_info: dict[str, Any] | None = None, **_: Any
    ) -> list[Document]:
        path = Path(file)
        transcription = await self._clients.async_workers_ai.transcribe(path, **self._options())
        return [self._document(path, transcription, extra_info)]

    def close(self) -> None:
        self._clients.close()
