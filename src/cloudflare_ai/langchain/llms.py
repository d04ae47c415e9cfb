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
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import Field

from ..connection import CloudflareConnection, GenerationFields, chat_options
from ..models import DEFAULT_CHAT_MODEL
from ..types import ChatChunk, ChatResponse, FallbackAttempt
from ..workers_ai import ChatOptions


class WorkersAI(CloudflareConnection, GenerationFields, LLM):
    """Text completion with a Workers AI model.

    ``raw=True`` sends the prompt without the model's chat template (for prompts already in
    the model's own format). Streaming calls ``on_llm_new_token`` for every piece. Each
    generation's ``generation_info`` names the model that answered (``model_name``) and, with
    ``fallback_models``, the models that failed before it (``fallbacks``).
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

    @staticmethod
    def _info(
        model: str,
        finish_reason: str | None,
        fallbacks: list[FallbackAttempt],
        usage: Any = None,
    ) -> dict[str, Any]:
        info: dict[str, Any] = {"finish_reason": finish_reason, "model_name": model}
        if usage is not None:
            info["usage"] = usage.model_dump(exclude_none=True)
        if fallbacks:
            info["fallbacks"] = [f.model_dump(exclude_none=True) for f in fallbacks]
        return info

    @staticmethod
    def _prompted(options: ChatOptions, prompt: str) -> ChatOptions:
        call = options.copy()
        call["prompt"] = prompt
        return call

    def _generation(self, answer: ChatResponse) -> list[Generation]:
        info = self._info(answer.model, answer.finish_reason, answer.fallbacks, answer.usage)
        return [Generation(text=answer.text, generation_info=info)]

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        model, options = self._options(stop, kwargs)
        answers = [self.workers_ai.chat(model, **self._prompted(options, p)) for p in prompts]
        return LLMResult(generations=[self._generation(a) for a in answers])

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        model, options = self._options(stop, kwargs)
        client = self.async_workers_ai
        answers = [await client.chat(model, **self._prompted(options, p)) for p in prompts]
        return LLMResult(generations=[self._generation(a) for a in answers])

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

    def _chunk(
        self, chunk: ChatChunk, model: str, fallbacks: list[FallbackAttempt]
    ) -> GenerationChunk:
        info: dict[str, Any] | None = None
        if chunk.finish_reason is not None:
            info = self._info(model, chunk.finish_reason, fallbacks, chunk.usage)
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
        stream = self.workers_ai.stream_chat(model, **options)
        for chunk in stream:
            out = self._chunk(chunk, stream.model, stream.fallbacks)
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
        stream = self.async_workers_ai.stream_chat(model, **options)
        async for chunk in stream:
            out = self._chunk(chunk, stream.model, stream.fallbacks)
            if run_manager and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=out)
            yield out
