"""``ChatWorkersAI``: a LangChain chat model over Workers AI.

A thin translation over the core :class:`~cloudflare_ai.WorkersAIClient`: LangChain messages
become Workers AI messages, answers become ``AIMessage`` s with usage, finish reason, cost and
AI Gateway metadata. Retries, errors, streaming and result shapes are the core's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import LangSmithParams, LanguageModelInput
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    agenerate_from_stream,
    generate_from_stream,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import (
    JsonOutputKeyToolsParser,
    JsonOutputParser,
    PydanticOutputParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import Field

from ..chat_images import aresolve_remote_images, resolve_remote_images
from ..connection import CloudflareConnection, GenerationFields, chat_options
from ..errors import ValidationError
from ..models import DEFAULT_CHAT_MODEL
from ..streaming import aggregate
from ..tools import fix_tool_calls
from ..types import ChatChunk, ChatResponse, ToolCall
from ..workers_ai import AsyncChatStream, ChatOptions, ChatStream
from ._messages import (
    PROVIDER,
    final_chunk,
    to_ai_message,
    to_message_chunk,
    to_workers_ai,
    used_tool_call_ids,
)


class ChatWorkersAI(CloudflareConnection, GenerationFields, BaseChatModel):
    """Chat with a Workers AI text-generation model.

    ```python
    from cloudflare_ai.langchain import ChatWorkersAI

    llm = ChatWorkersAI(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", temperature=0)
    llm.invoke("What is Vectorize?")
    ```

    Credentials come from ``account_id`` / ``api_token`` or ``CLOUDFLARE_ACCOUNT_ID`` /
    ``CLOUDFLARE_API_TOKEN``; ``gateway`` routes calls through an AI Gateway and its headers
    (cache status, log id) appear in ``response_metadata["gateway"]``. ``api="openai"`` uses
    the OpenAI-compatible endpoint instead of ``/ai/run``.

    Vision models (``@cf/meta/llama-4-scout-17b-16e-instruct``, ``@cf/google/gemma-3-12b-it``,
    ``@cf/meta/llama-3.2-11b-vision-instruct``, ...) take images in human and tool messages,
    written as LangChain users write them:

    ```python
    llm = ChatWorkersAI(model="@cf/meta/llama-4-scout-17b-16e-instruct")
    llm.invoke([HumanMessage(content=[
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image", "base64": png_base64, "mime_type": "image/png"},
    ])])
    ```

    OpenAI ``image_url`` blocks (``data:`` or ``https://`` URLs), standard ``image`` blocks
    (``base64``, raw bytes, ``url``) and Anthropic ``source`` blocks all work; remote images
    are downloaded here (Workers AI fetches nothing), and each image is checked and sent in
    the form the model takes. A text model given an image raises ``ValidationError``.
    """

    model: str = Field(default=DEFAULT_CHAT_MODEL, alias="model_name")
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    streaming: bool = False
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra fields sent in the request body."
    )

    @property
    def _llm_type(self) -> str:
        return "cloudflare-workers-ai-chat"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        # langchain-core 1.7 deserialises only classes on its own allowlist (partner packages
        # it ships a mapping for), so a serialised ChatWorkersAI could not be loaded back.
        return False

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["cloudflare_ai", "langchain", "chat_models"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_token": "CLOUDFLARE_API_TOKEN"}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = {"model": self.model, "api": self.api}
        params.update(self._sampling_params())
        return params

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=PROVIDER,
            ls_model_name=str(kwargs.get("model") or self.model),
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stops = stop or kwargs.get("stop") or self.stop
        if stops:
            params["ls_stop"] = list(stops)
        return params

    # --- translation ------------------------------------------------------------------------
    def _call_options(
        self, stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[str, ChatOptions]:
        """The model and the core's chat options for one call."""
        stops = stop if stop is not None else kwargs.get("stop") or self.stop
        rest = {k: v for k, v in kwargs.items() if k != "stop"}
        return chat_options(self, self.model, rest, stop=stops, extra_body=self.model_kwargs)

    @staticmethod
    def _wire(model: str, messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
        """Workers AI messages, remote images downloaded (refused first for a model that
        takes no images)."""
        return resolve_remote_images(to_workers_ai(messages), model=model)

    @staticmethod
    async def _awire(model: str, messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
        return await aresolve_remote_images(to_workers_ai(messages), model=model)

    @staticmethod
    def _fixed_calls(
        calls: list[ToolCall], options: ChatOptions, messages: Sequence[BaseMessage]
    ) -> list[ToolCall]:
        return fix_tool_calls(calls, options.get("tools"), used_tool_call_ids(messages))

    def _result(
        self, answer: ChatResponse, options: ChatOptions, messages: Sequence[BaseMessage]
    ) -> ChatResult:
        answer = answer.model_copy(
            update={"tool_calls": self._fixed_calls(answer.tool_calls, options, messages)}
        )
        message = to_ai_message(answer)
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"model_name": answer.model},
        )

    def _closing(
        self,
        stream: ChatStream | AsyncChatStream,
        chunks: list[ChatChunk],
        options: ChatOptions,
        messages: Sequence[BaseMessage],
    ) -> ChatGenerationChunk:
        """The closing chunk, named after the model that answered (after any fallback)."""
        whole = aggregate(stream.model, [c for c in chunks if c.tool_calls])
        calls = self._fixed_calls(whole.tool_calls, options, messages)
        last = chunks[-1]
        if calls and last.finish_reason == "stop":
            last = last.model_copy(update={"finish_reason": "tool_calls"})
        message = final_chunk(
            stream.model, last, calls, stream.gateway, stream.request_id, stream.fallbacks
        )
        return ChatGenerationChunk(message=message)

    # --- generation -------------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming and "tools" not in kwargs:
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        model, options = self._call_options(stop, kwargs)
        answer = self.workers_ai.chat(model, self._wire(model, messages), **options)
        return self._result(answer, options, messages)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming and "tools" not in kwargs:
            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        model, options = self._call_options(stop, kwargs)
        wire = await self._awire(model, messages)
        answer = await self.async_workers_ai.chat(model, wire, **options)
        return self._result(answer, options, messages)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Text streams as it arrives; tool calls are delivered complete (validated and
        coerced to their schema) on the closing chunk, which also carries usage."""
        model, options = self._call_options(stop, kwargs)
        stream = self.workers_ai.stream_chat(model, self._wire(model, messages), **options)
        chunks: list[ChatChunk] = []
        for chunk in stream:
            chunks.append(chunk)
            if chunk.finish_reason is not None:
                break
            if chunk.text or chunk.reasoning:
                out = ChatGenerationChunk(message=to_message_chunk(chunk))
                if run_manager:
                    run_manager.on_llm_new_token(chunk.text, chunk=out)
                yield out
        yield self._closing(stream, chunks, options, messages)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        model, options = self._call_options(stop, kwargs)
        wire = await self._awire(model, messages)
        stream = self.async_workers_ai.stream_chat(model, wire, **options)
        chunks: list[ChatChunk] = []
        async for chunk in stream:
            chunks.append(chunk)
            if chunk.finish_reason is not None:
                break
            if chunk.text or chunk.reasoning:
                out = ChatGenerationChunk(message=to_message_chunk(chunk))
                if run_manager:
                    await run_manager.on_llm_new_token(chunk.text, chunk=out)
                yield out
        yield self._closing(stream, chunks, options, messages)

    # --- tools and structured output --------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[Mapping[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | Mapping[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer tools to the model. ``tool_choice``: ``"auto"``, ``"none"``, ``"any"`` /
        ``"required"`` / ``True`` (a call is required), or a tool's name (that tool)."""
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        if tool_choice is not None and tool_choice is not False:
            if tool_choice is True:
                tool_choice = "required"
            if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "any"):
                names = [t["function"]["name"] for t in formatted]
                if tool_choice != "required" and tool_choice not in names:
                    raise ValidationError(
                        f"tool_choice {tool_choice!r} is not one of the bound tools {names}",
                        item=tool_choice,
                    )
            kwargs["tool_choice"] = tool_choice
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: Mapping[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Answers parsed into ``schema`` (a Pydantic class, TypedDict or JSON Schema).

        ``function_calling`` forces a tool call; ``json_schema`` uses Workers AI's JSON mode
        with the schema (fetched whole when streamed, since Cloudflare cannot stream it);
        ``json_mode`` asks for any JSON object.
        """
        if kwargs:
            raise ValueError(f"unexpected arguments: {', '.join(kwargs)}")
        if schema is None and method != "json_mode":
            raise ValueError(f"method={method!r} needs a schema")
        pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        llm: Runnable[LanguageModelInput, Any]
        parser: Runnable[Any, Any]
        if method == "function_calling":
            assert schema is not None
            tool = convert_to_openai_tool(schema, strict=strict)
            name = tool["function"]["name"]
            llm = self.bind_tools(
                [schema], tool_choice=name, strict=strict, ls_structured_output_format=ls_format
            )
            if pydantic:
                parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
            else:
                parser = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        elif method == "json_schema":
            assert schema is not None
            json_schema = convert_to_json_schema(
                dict(schema) if isinstance(schema, Mapping) else schema
            )
            llm = self.bind(
                response_format={"type": "json_schema", "json_schema": json_schema},
                ls_structured_output_format=ls_format,
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()
            )
        elif method == "json_mode":
            llm = self.bind(
                response_format={"type": "json_object"}, ls_structured_output_format=ls_format
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()
            )
        else:
            raise ValueError(
                f"method must be 'function_calling', 'json_mode' or 'json_schema', got {method!r}"
            )
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        unparsed = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks(
            [unparsed], exception_key="parsing_error"
        )
