"""``WorkersAI``: a LlamaIndex function-calling LLM over Workers AI.

Chat, completion and streaming in sync and async forms through the core clients; tool calling
for agents, ``structured_predict`` and ``as_structured_llm``; usage in ``raw`` and
``additional_kwargs``. Nothing here speaks HTTP: the core does.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from pydantic import Field

from ..chat_images import aresolve_remote_images, resolve_remote_images
from ..connection import CloudflareConnection, GenerationFields, chat_options
from ..models import DEFAULT_CHAT_MODEL, get_model
from ..streaming import aggregate
from ..tools import fix_tool_calls
from ..types import ChatChunk
from ..types import ChatResponse as CoreAnswer
from ..workers_ai import ChatOptions
from ._messages import (
    answer_kwargs,
    assistant_message,
    raw_of,
    to_workers_ai,
    used_tool_call_ids,
)

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

#: Context window assumed for a model the table does not know.
_FALLBACK_CONTEXT = 8192


class WorkersAI(CloudflareConnection, GenerationFields, FunctionCallingLLM):
    """A Workers AI text-generation model for LlamaIndex.

    ```python
    from cloudflare_ai.llama_index import WorkersAI

    llm = WorkersAI(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast")
    print(llm.complete("What is Vectorize?"))
    ```

    Credentials: ``account_id`` / ``api_token`` or ``CLOUDFLARE_ACCOUNT_ID`` /
    ``CLOUDFLARE_API_TOKEN``. ``gateway`` routes through AI Gateway; ``api="openai"`` uses the
    OpenAI-compatible endpoint.

    Vision models (``@cf/meta/llama-4-scout-17b-16e-instruct``, ``@cf/google/gemma-3-12b-it``,
    ``@cf/meta/llama-3.2-11b-vision-instruct``, ...) take ``ImageBlock`` s in
    ``ChatMessage.blocks``: image bytes, a path, a file object, a ``data:`` URL or an http(s)
    URL (downloaded here: Workers AI fetches nothing). Each image is checked and sent in the
    form the model takes; a text model given an image raises ``ValidationError``.
    """

    model: str = Field(default=DEFAULT_CHAT_MODEL, description="Workers AI model name.")
    stop: list[str] | None = None
    context_window: int | None = Field(
        default=None, description="Override the model table's context window."
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra fields sent in every request body."
    )

    @classmethod
    def class_name(cls) -> str:
        return "CloudflareWorkersAI"

    @property
    def metadata(self) -> LLMMetadata:
        info = get_model(self.model)
        window = self.context_window or (info.context_window if info else None)
        return LLMMetadata(
            context_window=window or _FALLBACK_CONTEXT,
            num_output=self.max_tokens or 256,
            is_chat_model=True,
            is_function_calling_model=bool(info.function_calling) if info else True,
            model_name=self.model,
        )

    # --- translation ------------------------------------------------------------------------
    def _options(self, kwargs: dict[str, Any]) -> tuple[str, ChatOptions]:
        return chat_options(
            self, self.model, kwargs, stop=self.stop, extra_body=self.additional_kwargs
        )

    @staticmethod
    def _wire(model: str, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        """Workers AI messages, remote images downloaded (refused first for a model that
        takes no images)."""
        return resolve_remote_images(to_workers_ai(messages), model=model)

    @staticmethod
    async def _awire(model: str, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        return await aresolve_remote_images(to_workers_ai(messages), model=model)

    @staticmethod
    def _response(
        answer: CoreAnswer, options: ChatOptions, messages: Sequence[ChatMessage]
    ) -> ChatResponse:
        calls = fix_tool_calls(
            answer.tool_calls, options.get("tools"), used_tool_call_ids(messages)
        )
        message = assistant_message(answer.text, answer.reasoning, calls)
        return ChatResponse(
            message=message, raw=raw_of(answer), additional_kwargs=answer_kwargs(answer)
        )

    def _streamed(
        self,
        model: str,
        chunks: list[ChatChunk],
        options: ChatOptions,
        messages: Sequence[ChatMessage],
        extra: dict[str, Any],
    ) -> ChatResponse | None:
        """The response for the newest chunk: cumulative text so far and its delta; on the
        last chunk, the complete (coerced) tool calls and usage as well."""
        chunk = chunks[-1]
        final = chunk.finish_reason is not None
        if not (final or chunk.text or chunk.reasoning):
            return None
        whole = aggregate(extra.get("model", model), chunks)
        calls = (
            fix_tool_calls(whole.tool_calls, options.get("tools"), used_tool_call_ids(messages))
            if final
            else []
        )
        message = assistant_message(whole.text, whole.reasoning, calls)
        if not final:
            return ChatResponse(message=message, delta=chunk.text, raw=chunk.raw or {})
        answer = whole.model_copy(update={"tool_calls": calls, "usage": chunk.usage, **extra})
        return ChatResponse(
            message=message,
            delta=chunk.text,
            raw=raw_of(answer),
            additional_kwargs=answer_kwargs(answer),
        )

    # --- chat -------------------------------------------------------------------------------
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        model, options = self._options(kwargs)
        answer = self.workers_ai.chat(model, self._wire(model, messages), **options)
        return self._response(answer, options, messages)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        model, options = self._options(kwargs)
        wire = await self._awire(model, messages)
        answer = await self.async_workers_ai.chat(model, wire, **options)
        return self._response(answer, options, messages)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        model, options = self._options(kwargs)
        stream = self.workers_ai.stream_chat(model, self._wire(model, messages), **options)

        def generate() -> Generator[ChatResponse, None, None]:
            chunks: list[ChatChunk] = []
            for chunk in stream:
                chunks.append(chunk)
                extra = {
                    "gateway": stream.gateway,
                    "request_id": stream.request_id,
                    "model": stream.model,
                    "fallbacks": stream.fallbacks,
                }
                response = self._streamed(model, chunks, options, messages, extra)
                if response is not None:
                    yield response

        return generate()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        model, options = self._options(kwargs)
        wire = await self._awire(model, messages)
        stream = self.async_workers_ai.stream_chat(model, wire, **options)

        async def generate() -> AsyncGenerator[ChatResponse, None]:
            chunks: list[ChatChunk] = []
            async for chunk in stream:
                chunks.append(chunk)
                extra = {
                    "gateway": stream.gateway,
                    "request_id": stream.request_id,
                    "model": stream.model,
                    "fallbacks": stream.fallbacks,
                }
                response = self._streamed(model, chunks, options, messages, extra)
                if response is not None:
                    yield response

        return generate()

    # --- completion (derived from chat) --------------------------------------------------------
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self.chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await achat_to_completion_decorator(self.achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self.stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self.astream_chat)(prompt, **kwargs)

    # --- tools --------------------------------------------------------------------------------
    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Arguments for :meth:`chat` offering ``tools``; ``tool_required`` forces a call."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
        if tool_choice is None:
            tool_choice = "required" if tool_required else "auto"
        return {
            "messages": messages,
            "tools": specs or None,
            "tool_choice": tool_choice if specs else None,
            **kwargs,
        }

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if allow_parallel_tool_calls:
            return response
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if len(calls) > 1:
            keep = calls[0]
            response.message.blocks = [
                b for b in response.message.blocks if not isinstance(b, ToolCallBlock) or b is keep
            ]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not calls and error_on_no_tool_call:
            raise ValueError(
                f"expected at least one tool call, got none (answer: {response.message.content!r})"
            )
        selections = []
        for call in calls:
            kwargs_ = call.tool_kwargs
            if isinstance(kwargs_, str):
                raise ValueError(
                    f"tool call {call.tool_name!r} has arguments that are not a JSON object: "
                    f"{kwargs_[:200]!r}"
                )
            selections.append(
                ToolSelection(
                    tool_id=call.tool_call_id or "",
                    tool_name=call.tool_name,
                    tool_kwargs=dict(kwargs_),
                )
            )
        return selections
