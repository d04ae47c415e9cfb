"""``WorkersAIToolSpec``: the Workers AI tasks as LlamaIndex tools, for agents::

    tools = WorkersAIToolSpec().to_tool_list()
    agent = FunctionAgent(tools=tools, llm=WorkersAI())

The tools are image generation, translation, summarisation, speech to text and image
classification, each done by the core client's typed method; a tool returns the short text an
agent reads. Media travel by file path: generated images are written to ``output_dir`` (a
temporary folder by default) and their path is returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index.core.tools.tool_spec.base import BaseToolSpec
from pydantic import SecretStr

from ..connection import CloudflareClients
from ..tool_text import image_folder, image_report, labels_text
from ..transport import RetryPolicy


class WorkersAIToolSpec(BaseToolSpec):
    """Workers AI task tools (see the module docstring)."""

    spec_functions = [
        ("generate_image", "agenerate_image"),
        ("translate", "atranslate"),
        ("summarize", "asummarize"),
        ("transcribe_audio", "atranscribe_audio"),
        ("classify_image", "aclassify_image"),
    ]

    def __init__(
        self,
        *,
        output_dir: Path | str | None = None,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self._clients = CloudflareClients(
            account_id=account_id,
            api_token=api_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )

    def __repr__(self) -> str:
        return "WorkersAIToolSpec()"

    def _saved(self, image: Any, prompt: str) -> str:
        self.output_dir = image_folder(self.output_dir)
        return image_report(image, prompt, self.output_dir)

    def generate_image(self, prompt: str, negative_prompt: str | None = None) -> str:
        """Generate an image from a detailed text prompt; returns the saved image's path."""
        image = self._clients.workers_ai.generate_image(prompt, negative_prompt=negative_prompt)
        return self._saved(image, prompt)

    async def agenerate_image(self, prompt: str, negative_prompt: str | None = None) -> str:
        """Generate an image from a detailed text prompt; returns the saved image's path."""
        image = await self._clients.async_workers_ai.generate_image(
            prompt, negative_prompt=negative_prompt
        )
        return self._saved(image, prompt)

    def translate(self, text: str, target_lang: str, source_lang: str = "en") -> str:
        """Translate text between languages, given as codes such as 'en', 'fr', 'ja'."""
        return str(
            self._clients.workers_ai.translate(
                text, target_lang=target_lang, source_lang=source_lang
            )
        )

    async def atranslate(self, text: str, target_lang: str, source_lang: str = "en") -> str:
        """Translate text between languages, given as codes such as 'en', 'fr', 'ja'."""
        return str(
            await self._clients.async_workers_ai.translate(
                text, target_lang=target_lang, source_lang=source_lang
            )
        )

    def summarize(self, text: str, max_length: int | None = None) -> str:
        """Summarise a long text into a few sentences."""
        return str(self._clients.workers_ai.summarize(text, max_length=max_length))

    async def asummarize(self, text: str, max_length: int | None = None) -> str:
        """Summarise a long text into a few sentences."""
        return str(await self._clients.async_workers_ai.summarize(text, max_length=max_length))

    def transcribe_audio(self, path: str) -> str:
        """Transcribe the speech in an audio file (given by its path) to text."""
        return self._clients.workers_ai.transcribe(Path(path)).text

    async def atranscribe_audio(self, path: str) -> str:
        """Transcribe the speech in an audio file (given by its path) to text."""
        return (await self._clients.async_workers_ai.transcribe(Path(path))).text

    def classify_image(self, path: str) -> str:
        """Say what an image file (given by its path) shows: labels with confidences."""
        return labels_text(self._clients.workers_ai.classify_image(Path(path)))

    async def aclassify_image(self, path: str) -> str:
        """Say what an image file (given by its path) shows: labels with confidences."""
        return labels_text(await self._clients.async_workers_ai.classify_image(Path(path)))
