"""LangChain tools for the Workers AI tasks an agent can call: image generation, translation,
summarisation, speech to text and image classification.

Each tool is a ``BaseTool`` with an argument schema, so it works with ``bind_tools`` and
``langchain.agents.create_agent``; ``WorkersAIToolkit`` hands out all of them with one set of
connection settings::

    tools = WorkersAIToolkit().get_tools()
    agent = create_agent(ChatWorkersAI(), tools)

The work is done by the core client's typed methods (``generate_image``, ``translate``,
``summarize``, ``transcribe``, ``classify_image``); a tool only turns their typed results into
the short text an agent reads. Media travel by file path: generated images are written to
``output_dir`` (a temporary folder by default) and the path is returned, with the
``ImageResult`` itself as the tool message's artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import BaseModel, Field, SecretStr

from ..connection import CloudflareConnection
from ..tool_text import image_folder, image_report, labels_text
from ..transport import RetryPolicy

__all__ = [
    "ClassifyImageTool",
    "GenerateImageTool",
    "SummarizeTool",
    "TranscribeAudioTool",
    "TranslateTool",
    "WorkersAIToolkit",
]


class _WorkersAITool(CloudflareConnection, BaseTool):
    """A tool backed by one Workers AI model (``model`` overrides the task's default)."""

    model: str | None = Field(default=None, description="Workers AI model (None: default).")

    def _model(self) -> dict[str, Any]:
        return {"model": self.model} if self.model else {}


# --- image generation -------------------------------------------------------------------------


class _ImageArgs(BaseModel):
    prompt: str = Field(description="What the image should show.")
    negative_prompt: str | None = Field(default=None, description="What it should not show.")


class GenerateImageTool(_WorkersAITool):
    """Generate an image from a text prompt; returns the saved file's path."""

    name: str = "generate_image"
    description: str = (
        "Generate an image from a detailed text prompt. Returns the path of the saved image."
    )
    args_schema: type[BaseModel] = _ImageArgs
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    output_dir: Path | None = Field(
        default=None, description="Where images are saved (None: a temporary folder)."
    )

    def _describe(self, image: Any, prompt: str) -> tuple[str, Any]:
        self.output_dir = image_folder(self.output_dir)
        return image_report(image, prompt, self.output_dir), image

    def _run(self, prompt: str, negative_prompt: str | None = None, **_: Any) -> tuple[str, Any]:
        image = self.workers_ai.generate_image(
            prompt, negative_prompt=negative_prompt, **self._model()
        )
        return self._describe(image, prompt)

    async def _arun(
        self, prompt: str, negative_prompt: str | None = None, **_: Any
    ) -> tuple[str, Any]:
        image = await self.async_workers_ai.generate_image(
            prompt, negative_prompt=negative_prompt, **self._model()
        )
        return self._describe(image, prompt)


# --- translation and summarisation ------------------------------------------------------------


class _TranslateArgs(BaseModel):
    text: str = Field(description="The text to translate.")
    target_lang: str = Field(description="Target language code, e.g. 'fr', 'de', 'ja'.")
    source_lang: str = Field(default="en", description="Source language code.")


class TranslateTool(_WorkersAITool):
    """Translate text between languages."""

    name: str = "translate"
    description: str = "Translate text from one language to another (language codes like 'fr')."
    args_schema: type[BaseModel] = _TranslateArgs

    def _run(self, text: str, target_lang: str, source_lang: str = "en", **_: Any) -> str:
        return str(
            self.workers_ai.translate(
                text, target_lang=target_lang, source_lang=source_lang, **self._model()
            )
        )

    async def _arun(self, text: str, target_lang: str, source_lang: str = "en", **_: Any) -> str:
        return str(
            await self.async_workers_ai.translate(
                text, target_lang=target_lang, source_lang=source_lang, **self._model()
            )
        )


class _SummarizeArgs(BaseModel):
    text: str = Field(description="The text to summarise.")
    max_length: int | None = Field(default=None, description="Longest summary, in tokens.")


class SummarizeTool(_WorkersAITool):
    """Summarise a long text."""

    name: str = "summarize"
    description: str = "Summarise a long text into a few sentences."
    args_schema: type[BaseModel] = _SummarizeArgs

    def _run(self, text: str, max_length: int | None = None, **_: Any) -> str:
        return str(self.workers_ai.summarize(text, max_length=max_length, **self._model()))

    async def _arun(self, text: str, max_length: int | None = None, **_: Any) -> str:
        summary = await self.async_workers_ai.summarize(
            text, max_length=max_length, **self._model()
        )
        return str(summary)


# --- audio and images from files --------------------------------------------------------------


class _PathArgs(BaseModel):
    path: str = Field(description="Path of the file.")


class TranscribeAudioTool(_WorkersAITool):
    """Transcribe an audio file to text."""

    name: str = "transcribe_audio"
    description: str = "Transcribe the speech in an audio file (give its path) to text."
    args_schema: type[BaseModel] = _PathArgs

    def _run(self, path: str, **_: Any) -> str:
        return self.workers_ai.transcribe(Path(path), **self._model()).text

    async def _arun(self, path: str, **_: Any) -> str:
        return (await self.async_workers_ai.transcribe(Path(path), **self._model())).text


class ClassifyImageTool(_WorkersAITool):
    """Say what an image file shows, as labels with confidences."""

    name: str = "classify_image"
    description: str = "Classify what an image file shows (give its path): labels with scores."
    args_schema: type[BaseModel] = _PathArgs

    def _run(self, path: str, **_: Any) -> str:
        return labels_text(self.workers_ai.classify_image(Path(path), **self._model()))

    async def _arun(self, path: str, **_: Any) -> str:
        return labels_text(await self.async_workers_ai.classify_image(Path(path), **self._model()))


class WorkersAIToolkit(BaseToolkit):
    """Every Workers AI task tool, sharing one set of connection settings."""

    account_id: str | None = None
    api_token: SecretStr | None = Field(default=None, exclude=True, repr=False)
    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    retry_policy: RetryPolicy | None = Field(default=None, exclude=True, repr=False)
    output_dir: Path | None = None

    TOOLS: ClassVar[tuple[type[_WorkersAITool], ...]] = (
        GenerateImageTool,
        TranslateTool,
        SummarizeTool,
        TranscribeAudioTool,
        ClassifyImageTool,
    )

    def get_tools(self) -> list[BaseTool]:
        connection: dict[str, Any] = {
            key: getattr(self, key)
            for key in ("account_id", "api_token", "base_url", "timeout", "max_retries")
            if getattr(self, key) is not None
        }
        if self.retry_policy is not None:
            connection["retry_policy"] = self.retry_policy
        tools: list[BaseTool] = []
        for cls in self.TOOLS:
            extra = {"output_dir": self.output_dir} if cls is GenerateImageTool else {}
            tools.append(cls(**connection, **extra))
        return tools
