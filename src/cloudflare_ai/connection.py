"""Connection settings shared by the framework adapters, and the core clients built from them.

Each LangChain and LlamaIndex class holds the same fields as the core (``account_id``,
``api_token``, ``base_url``, ``gateway``, ``timeout``, ``max_retries``) and falls back to the
same environment variables.
Clients are created once per instance, on first use, and reused (one connection pool).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from .config import (
    ACCOUNT_ID_ENV,
    API_TOKEN_ENV,
    BASE_URL_ENV,
    ClientSettings,
    GatewaySettings,
    env_first,
)
from .transport import RetryPolicy
from .workers_ai import SAMPLING_KEYS, AsyncWorkersAIClient, ChatOptions, WorkersAIClient


def resolve_settings(
    *,
    account_id: str | None = None,
    api_token: str | SecretStr | None = None,
    base_url: str | None = None,
    gateway: GatewaySettings | str | dict[str, Any] | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    max_concurrency: int | None = None,
) -> ClientSettings:
    """Core settings from adapter arguments, falling back to the environment."""
    return ClientSettings.resolve(
        account_id=account_id,
        api_token=api_token,
        base_url=base_url,
        gateway=gateway,
        timeout=timeout,
        max_retries=max_retries,
        max_concurrency=max_concurrency,
    )


class CloudflareConnection(BaseModel):
    """Pydantic fields for reaching Cloudflare, mixed into the adapter models."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    account_id: str | None = Field(
        default_factory=lambda: env_first(ACCOUNT_ID_ENV),
        description="Cloudflare account id (env CLOUDFLARE_ACCOUNT_ID).",
    )
    api_token: SecretStr | None = Field(
        default_factory=lambda: _secret(env_first(API_TOKEN_ENV)),
        alias="api_key",
        exclude=True,  # never serialised (to_json / model_dump) along with the settings
        description="Cloudflare API token (env CLOUDFLARE_API_TOKEN).",
    )
    base_url: str | None = Field(
        default_factory=lambda: env_first(BASE_URL_ENV),
        description="API root (env CLOUDFLARE_BASE_URL).",
    )
    gateway: GatewaySettings | str | None = Field(
        default=None, description="AI Gateway id or settings (env CLOUDFLARE_AI_GATEWAY_ID)."
    )
    timeout: float | None = Field(default=None, description="Request timeout in seconds.")
    max_retries: int | None = Field(default=None, description="Retries of transient failures.")
    max_concurrency: int | None = Field(
        default=None, description="Requests in flight at once for batched work."
    )
    retry_policy: RetryPolicy | None = Field(default=None, exclude=True, repr=False)

    _settings: ClientSettings | None = PrivateAttr(default=None)
    _sync_ai: WorkersAIClient | None = PrivateAttr(default=None)
    _async_ai: tuple[object, AsyncWorkersAIClient] | None = PrivateAttr(default=None)

    def _client_settings(self) -> ClientSettings:
        if self._settings is None:
            self._settings = resolve_settings(
                account_id=self.account_id,
                api_token=self.api_token,
                base_url=self.base_url,
                gateway=self.gateway,
                timeout=self.timeout,
                max_retries=self.max_retries,
                max_concurrency=self.max_concurrency,
            )
        return self._settings

    def _client_options(self) -> dict[str, Any]:
        """Extra core-client options of a subclass (e.g. a query-embedding cache)."""
        return {}

    @property
    def workers_ai(self) -> WorkersAIClient:
        """The synchronous core client (created on first use)."""
        if self._sync_ai is None:
            self._sync_ai = WorkersAIClient(
                settings=self._client_settings(), retry=self.retry_policy, **self._client_options()
            )
        return self._sync_ai

    @property
    def async_workers_ai(self) -> AsyncWorkersAIClient:
        """The asynchronous core client of the running event loop (an httpx async pool belongs
        to the loop it was first used on, so each loop gets its own)."""
        loop = running_loop()
        if self._async_ai is None or self._async_ai[0] is not loop:
            client = AsyncWorkersAIClient(
                settings=self._client_settings(), retry=self.retry_policy, **self._client_options()
            )
            self._async_ai = (loop, client)
        return self._async_ai[1]


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def running_loop() -> object:
    """The running asyncio loop, or None outside one."""
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_PASSTHROUGH = ("tools", "tool_choice", "response_format", "raw", "lora", "reasoning_effort")


class GenerationFields(BaseModel):
    """The generation settings every adapter model offers, with per-call overrides."""

    api: Literal["native", "openai"] = "native"
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    reasoning_effort: str | None = None

    def _sampling_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SAMPLING_KEYS if getattr(self, k) is not None}


def chat_options(
    fields: GenerationFields,
    model: str,
    kwargs: Mapping[str, Any],
    *,
    stop: Sequence[str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> tuple[str, ChatOptions]:
    """The model and the core's chat options for one adapter call: per-call ``kwargs`` over
    the instance's fields; unknown keys go into the request body."""
    rest = dict(kwargs)
    model = str(rest.pop("model", None) or model)
    rest.pop("stream", None)
    options: dict[str, Any] = {"api": rest.pop("api", fields.api)}
    for key in SAMPLING_KEYS:
        value = rest.pop(key, getattr(fields, key))
        if value is not None:
            options[key] = value
    for key in _PASSTHROUGH:
        value = rest.pop(key, None)
        if value is not None:
            options[key] = value
    if "reasoning_effort" not in options and fields.reasoning_effort is not None:
        options["reasoning_effort"] = fields.reasoning_effort
    stops = rest.pop("stop", None) or stop
    if stops:
        options["stop"] = list(stops)
    extra = {**(extra_body or {}), **{k: v for k, v in rest.items() if v is not None}}
    if extra:
        options["extra_body"] = extra
    return model, options  # type: ignore[return-value]
