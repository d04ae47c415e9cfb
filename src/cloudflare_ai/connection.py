"""Connection settings shared by the framework adapters, and the core clients built from them.

Each LangChain and LlamaIndex class holds the same fields as the core (``account_id``,
``api_token``, ``base_url``, ``gateway``, ``timeout``, ``max_retries``) and falls back to the
same environment variables.

Clients and resolved settings are built lazily, on first use, and reused (one connection pool
per client). They are never copied nor pickled: a copy (``copy.copy``, ``copy.deepcopy``,
``model_copy``) or an unpickled object starts without clients and builds its own from its
fields, so ``model_copy(update={"base_url": ...})`` talks to the new URL. The API token is a
:class:`~pydantic.SecretStr`: hidden in ``repr``/``str``, left out of ``model_dump`` /
``model_dump_json`` and LangChain's serialisation, but kept in a pickle (an unpickled adapter
must be able to call Cloudflare; treat pickles of adapters as secrets).

:class:`CloudflareClients` is the same lazy holder for classes that are not pydantic models.
"""

from __future__ import annotations

import copy as _copy
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_serializer

from .config import (
    ACCOUNT_ID_ENV,
    API_TOKEN_ENV,
    BASE_URL_ENV,
    ClientSettings,
    GatewaySettings,
    env_first,
)
from .fallback import FallbackVia
from .transport import RetryPolicy
from .universal import StepConfig
from .vectorize import AsyncVectorizeClient, VectorizeClient
from .workers_ai import SAMPLING_KEYS, AsyncWorkersAIClient, ChatOptions, WorkersAIClient


def resolve_settings(
    *,
    account_id: str | None = None,
    api_token: str | SecretStr | None = None,
    base_url: str | None = None,
    gateway: GatewaySettings | str | Mapping[str, Any] | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    max_concurrency: int | None = None,
    rate_limits: bool | Mapping[str, int] | None = None,
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
        rate_limits=rate_limits,
    )


_CONNECTION_KEYS = (
    "account_id",
    "api_token",
    "base_url",
    "gateway",
    "timeout",
    "max_retries",
    "max_concurrency",
    "rate_limits",
)


class CloudflareClients:
    """The core clients of one set of connection settings, each built on first use.

    For classes that are not pydantic models (the LangChain vector store)::

        self._clients = CloudflareClients(account_id=..., api_token=..., retry_policy=...)
        self._clients.vectorize.query(...)         # sync
        await self._clients.async_vectorize.query(...)  # async, one client per event loop

    Pass either ready ``settings`` or the connection arguments (resolved, with the
    environment as fallback, on first use). ``workers_ai_options`` go to the Workers AI
    clients only (e.g. ``query_cache_size``).

    Copies and pickles carry the arguments, never the clients or the resolved settings: a
    copy builds its own clients. The token is kept in a pickle (it is needed to work) but
    never shown by ``repr``.
    """

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        base_url: str | None = None,
        gateway: GatewaySettings | str | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        rate_limits: bool | Mapping[str, int] | None = None,
        retry_policy: RetryPolicy | None = None,
        workers_ai_options: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(api_token, str):
            api_token = SecretStr(api_token)
        self._given_settings = settings
        self._arguments: dict[str, Any] = {
            "account_id": account_id,
            "api_token": api_token,
            "base_url": base_url,
            "gateway": gateway,
            "timeout": timeout,
            "max_retries": max_retries,
            "max_concurrency": max_concurrency,
            "rate_limits": rate_limits,
        }
        self.retry_policy = retry_policy
        self.workers_ai_options = dict(workers_ai_options or {})
        self._start_empty()

    def _start_empty(self) -> None:
        self._lock = threading.RLock()
        self._settings: ClientSettings | None = self._given_settings
        self._sync_ai: WorkersAIClient | None = None
        self._async_ai: tuple[object, AsyncWorkersAIClient] | None = None
        self._sync_vectorize: VectorizeClient | None = None
        self._async_vectorize: tuple[object, AsyncVectorizeClient] | None = None

    # --- copies and pickles: the arguments only ------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {
            "settings": self._given_settings,
            "arguments": dict(self._arguments),
            "retry_policy": self.retry_policy,
            "workers_ai_options": dict(self.workers_ai_options),
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self._given_settings = state["settings"]
        self._arguments = dict(state["arguments"])
        self.retry_policy = state["retry_policy"]
        self.workers_ai_options = dict(state["workers_ai_options"])
        self._start_empty()

    def __copy__(self) -> CloudflareClients:
        new = type(self).__new__(type(self))
        new.__setstate__(self.__getstate__())
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> CloudflareClients:
        new = type(self).__new__(type(self))
        new.__setstate__(_copy.deepcopy(self.__getstate__(), memo))
        return new

    def __repr__(self) -> str:
        built = [
            name
            for name, value in (
                ("workers_ai", self._sync_ai),
                ("async_workers_ai", self._async_ai),
                ("vectorize", self._sync_vectorize),
                ("async_vectorize", self._async_vectorize),
            )
            if value is not None
        ]
        where = self._arguments["base_url"] or (
            self._given_settings.base_url if self._given_settings else None
        )
        return f"CloudflareClients(base_url={where!r}, built={built})"

    # --- settings and clients ----------------------------------------------------------------
    @property
    def settings(self) -> ClientSettings:
        """The resolved settings (arguments over the environment), resolved once."""
        with self._lock:
            if self._settings is None:
                self._settings = resolve_settings(**self._arguments)
            return self._settings

    @property
    def workers_ai(self) -> WorkersAIClient:
        """The synchronous Workers AI client (created on first use)."""
        with self._lock:
            if self._sync_ai is None:
                self._sync_ai = WorkersAIClient(
                    settings=self.settings, retry=self.retry_policy, **self.workers_ai_options
                )
            return self._sync_ai

    @property
    def async_workers_ai(self) -> AsyncWorkersAIClient:
        """The asynchronous Workers AI client of the running event loop (an httpx async pool
        belongs to the loop it was first used on, so each loop gets its own)."""
        loop = running_loop()
        with self._lock:
            if self._async_ai is None or self._async_ai[0] is not loop:
                client = AsyncWorkersAIClient(
                    settings=self.settings, retry=self.retry_policy, **self.workers_ai_options
                )
                self._async_ai = (loop, client)
            return self._async_ai[1]

    @property
    def vectorize(self) -> VectorizeClient:
        """The synchronous Vectorize client (created on first use)."""
        with self._lock:
            if self._sync_vectorize is None:
                self._sync_vectorize = VectorizeClient(
                    settings=self.settings, retry=self.retry_policy
                )
            return self._sync_vectorize

    @property
    def async_vectorize(self) -> AsyncVectorizeClient:
        """The asynchronous Vectorize client of the running event loop."""
        loop = running_loop()
        with self._lock:
            if self._async_vectorize is None or self._async_vectorize[0] is not loop:
                client = AsyncVectorizeClient(settings=self.settings, retry=self.retry_policy)
                self._async_vectorize = (loop, client)
            return self._async_vectorize[1]

    def close(self) -> None:
        """Close the synchronous clients built so far. Async clients cannot be closed without
        their event loop: use :meth:`aclose` there (they are forgotten here either way).
        The next use builds new clients."""
        with self._lock:
            sync = [c for c in (self._sync_ai, self._sync_vectorize) if c is not None]
            self._sync_ai = self._sync_vectorize = None
            self._async_ai = self._async_vectorize = None
        for client in sync:
            client.close()

    async def aclose(self) -> None:
        """Close every client built so far: the async ones of the running event loop (those
        of another loop are only forgotten) and the synchronous ones."""
        loop = running_loop()
        with self._lock:
            pairs = [p for p in (self._async_ai, self._async_vectorize) if p is not None]
            sync = [c for c in (self._sync_ai, self._sync_vectorize) if c is not None]
            self._sync_ai = self._sync_vectorize = None
            self._async_ai = self._async_vectorize = None
        for client in sync:
            client.close()
        for owner, async_client in pairs:
            if owner is loop:
                await async_client.aclose()


class CloudflareConnection(BaseModel):
    """Pydantic fields for reaching Cloudflare, mixed into the adapter models.

    Gives every subclass the lazily built core clients :attr:`workers_ai`,
    :attr:`async_workers_ai`, :attr:`vectorize` and :attr:`async_vectorize` (one per event
    loop), :meth:`close` / :meth:`aclose`, and copies and pickles that never carry clients:
    the private attributes named in :attr:`lazy_private_attributes` are reset to their
    defaults in every copy and pickle. A subclass with caches of its own that depend on the
    connection (an index's metric, say) adds their names there.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    #: Private attributes rebuilt on demand, never copied nor pickled.
    lazy_private_attributes: ClassVar[frozenset[str]] = frozenset({"_clients"})

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
    rate_limits: bool | dict[str, int] | None = Field(
        default=None,
        description=(
            "Workers AI requests-per-minute limits, shared by every client of the account: "
            "None = on for Cloudflare's hosts, off elsewhere (the local emulator); True = on; "
            "{model: rpm} = on with these limits; False = off."
        ),
    )
    retry_policy: RetryPolicy | None = Field(default=None, exclude=True, repr=False)
    provider_keys: dict[str, SecretStr] | None = Field(
        default=None,
        exclude=True,  # secrets, like api_token: never serialised
        repr=False,
        description="API keys of other providers reached through AI Gateway ('openai', "
        "'anthropic'); added to the gateway's settings (env OPENAI_API_KEY, "
        "ANTHROPIC_API_KEY otherwise).",
    )

    _clients: CloudflareClients | None = PrivateAttr(default=None)

    @field_serializer("gateway")
    def _gateway_without_token(self, gateway: GatewaySettings | str | None) -> Any:
        """Gateway settings as data, without their token (a secret, like ``api_token``), so
        ``model_dump`` / ``to_json`` work and never carry it."""
        if isinstance(gateway, GatewaySettings):
            return gateway.without_secrets()
        return gateway

    # --- clients ------------------------------------------------------------------------------
    def _client_options(self) -> dict[str, Any]:
        """Extra Workers AI client options of a subclass (e.g. a query-embedding cache)."""
        return {}

    def _default_max_concurrency(self) -> int | None:
        """The clients' ``max_concurrency`` when the field is unset (None: the core's
        default). Embedding classes derive theirs from the model's published rate limit, so
        a large batch has all its requests in flight at once."""
        return None

    @property
    def clients(self) -> CloudflareClients:
        """The lazy holder of this object's core clients, built from its fields on first use."""
        holder = self._clients
        if holder is None:
            arguments = {key: getattr(self, key) for key in _CONNECTION_KEYS}
            arguments["gateway"] = self._gateway_with_keys()
            if arguments["max_concurrency"] is None:
                arguments["max_concurrency"] = self._default_max_concurrency()
            holder = CloudflareClients(
                **arguments,
                retry_policy=self.retry_policy,
                workers_ai_options=self._client_options(),
            )
            self._clients = holder
        return holder

    def _gateway_with_keys(self) -> GatewaySettings | str | None:
        """The gateway field with ``provider_keys`` added (keys without a gateway, here or in
        the environment, have nothing to authenticate and are ignored)."""
        if not self.provider_keys:
            return self.gateway
        gateway = GatewaySettings.coerce(self.gateway)
        if gateway is None:
            return None
        return gateway.merged(provider_keys={**gateway.provider_keys, **self.provider_keys})

    def _client_settings(self) -> ClientSettings:
        return self.clients.settings

    @property
    def workers_ai(self) -> WorkersAIClient:
        """The synchronous Workers AI client (created on first use)."""
        return self.clients.workers_ai

    @property
    def async_workers_ai(self) -> AsyncWorkersAIClient:
        """The asynchronous Workers AI client of the running event loop (an httpx async pool
        belongs to the loop it was first used on, so each loop gets its own)."""
        return self.clients.async_workers_ai

    @property
    def vectorize(self) -> VectorizeClient:
        """The synchronous Vectorize client (created on first use)."""
        return self.clients.vectorize

    @property
    def async_vectorize(self) -> AsyncVectorizeClient:
        """The asynchronous Vectorize client of the running event loop."""
        return self.clients.async_vectorize

    def close(self) -> None:
        """Close the synchronous clients built so far (see :meth:`CloudflareClients.close`)."""
        if self._clients is not None:
            self._clients.close()

    async def aclose(self) -> None:
        """Close every client built so far (see :meth:`CloudflareClients.aclose`)."""
        if self._clients is not None:
            await self._clients.aclose()

    # --- copies and pickles without clients -----------------------------------------------------
    def _reset_lazy(self) -> None:
        private = self.__pydantic_private__
        if private is None:
            return
        for name in self.lazy_private_attributes:
            attribute = self.__private_attributes__.get(name)
            if attribute is not None:
                private[name] = attribute.get_default()

    def __copy__(self) -> Any:
        copied = super().__copy__()
        copied._reset_lazy()
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        # A shallow copy without the lazy state first, so clients (their locks and sockets)
        # are never deep-copied; then pydantic's deep copy of that.
        return super(CloudflareConnection, self.__copy__()).__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        # The state of a shallow copy without the lazy state: pickling never touches clients
        # (nor mutates this object, as LlamaIndex's __getstate__ would drop unpicklable fields).
        state: dict[Any, Any] = super(CloudflareConnection, self.__copy__()).__getstate__()
        return state


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def running_loop() -> object:
    """The running asyncio loop, or None outside one."""
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_PASSTHROUGH = (
    "tools",
    "tool_choice",
    "response_format",
    "raw",
    "lora",
    "reasoning_effort",
    "fallback_models",
    "step_config",
)


class GenerationFields(BaseModel):
    """The generation settings every adapter model offers, with per-call overrides."""

    api: Literal["native", "openai", "compat"] = "native"
    #: Models tried in order when ``model`` fails in a way another may not (capacity,
    #: timeouts; see :mod:`cloudflare_ai.fallback`), by this client or by AI Gateway.
    fallback_models: list[str] | None = None
    fallback_via: FallbackVia = "client"
    #: Per-step timeout and retries on the Universal endpoint (``fallback_via="gateway"``).
    step_config: StepConfig | dict[str, StepConfig] | None = None
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
    via = rest.pop("fallback_via", fields.fallback_via)
    if via != "client":
        options["fallback_via"] = via
    for key in ("fallback_models", "step_config"):
        if rest.get(key) is None and getattr(fields, key) is not None:
            rest[key] = getattr(fields, key)
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
