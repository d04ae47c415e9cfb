"""``WorkersAI``: a LangChain completion LLM (prompt in, text out) over Workers AI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import LangSmithParams
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import GenerationChunk
from pydantic import Field

from ..connection import CloudflareConnection, GenerationFields, chat_options
from ..models import DEFAULT_CHAT_MODEL
from ..types import ChatChunk
from ..workers_ai import ChatOptions


class WorkersAI(CloudflareConnection, GenerationFields, LLM):
    """Text completion with a Workers AI model.

    ``raw=True`` sends the prompt without the model's chat template (for prompts already in
    the model's own format). Streaming calls ``on_llm_new_token`` for every piece.
    """

    model: str = Field(default=DEFAULT_CHAT_MODEL, alias="model_name")
    raw: bool = False
    stop: list[str] | None = None
    lora: str | None = None

    @property
    def _llm_type(self) -> str:
        return "cloudflare-workers-ai"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "raw": self.raw}
        params.update(self._sampling_params())
        return params

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "cloudflare"
        params["ls_model_name"] = str(kwargs.get("model") or self.model)
        return params

    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> tuple[str, ChatOptions]:
        rest = {k: v for k, v in kwargs.items() if k != "stop"}
        if rest.get("raw", self.raw):
            rest["raw"] = True
        else:
            rest.pop("raw", None)
        rest.setdefault("lora", self.lora)
        stops = stop if stop is not None else self.stop
        return chat_options(self, self.model, rest, stop=stops)

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        model, options = self._options(stop, kwargs)
        options["prompt"] = prompt
        return self.workers_ai.chat(model, **options).text

    async def _acall(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        model, options = self._options(stop, kwargs)
        options["prompt"] = prompt
        return (await self.async_workers_ai.chat(model, **options)).text

    @staticmethod
    def _chunk(chunk: ChatChunk, model: str) -> GenerationChunk:
        info: dict[str, Any] | None = None
        if chunk.finish_reason is not None:
            info = {"finish_reason": chunk.finish_reason, "model_name": model}
            if chunk.usage is not None:
                info["usage"] = chunk.usage.model_dump(exclude_none=True)
        return GenerationChunk(text=chunk.text, generation_info=info)

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        model, options = self._options(stop, kwargs)
        options["prompt"] = prompt
        for chunk in self.workers_ai.stream_chat(model, **options):
            out = self._chunk(chunk, model)
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=out)
            yield out

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        model, options = self._options(stop, kwargs)
        options["prompt"] = prompt
        async for chunk in self.async_workers_ai.stream_chat(model, **options):
            out = self._chunk(chunk, model)
            if run_manager and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=out)
            yield out
