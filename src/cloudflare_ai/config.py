"""Credentials, endpoints and AI Gateway settings, from arguments or the environment.

Every client and adapter resolves its settings here, so the same environment variables work
everywhere. The API token is held as a :class:`pydantic.SecretStr`: it never appears in a
repr, a log line or an exception message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from . import limits
from .errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
DEFAULT_GATEWAY_URL = "https://gateway.ai.cloudflare.com/v1"

#: Environment variables read for each setting, first match wins. The ``CF_*`` names are the
#: ones other Cloudflare integrations (langchain-cloudflare, wrangler scripts) use.
ACCOUNT_ID_ENV = ("CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID")
API_TOKEN_ENV = ("CLOUDFLARE_API_TOKEN", "CF_API_TOKEN", "CF_AI_API_TOKEN")
BASE_URL_ENV = ("CLOUDFLARE_BASE_URL",)
HTTP_BACKEND_ENV = ("CLOUDFLARE_AI_HTTP_BACKEND",)
GATEWAY_ID_ENV = ("CLOUDFLARE_AI_GATEWAY_ID", "CLOUDFLARE_GATEWAY_ID")
GATEWAY_URL_ENV = ("CLOUDFLARE_AI_GATEWAY_URL",)
GATEWAY_TOKEN_ENV = ("CLOUDFLARE_AI_GATEWAY_TOKEN",)
#: Provider API keys for calls through AI Gateway to other providers (``api="compat"``,
#: Universal steps), read when ``GatewaySettings.provider_keys`` has none for the provider:
#: the variables each provider's own SDK reads.
PROVIDER_KEY_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
}

#: Default timeouts: Workers AI generation can take a while before the first byte; connecting
#: should not.
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 3


def env_first(names: tuple[str, ...], environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the first set, non-empty variable among ``names``."""
    env = os.environ if environ is None else environ
    for name in names:
        value = env.get(name)
        if value:
            return value.strip()
    return None


MetadataValue = str | int | float | bool


def _brief(exc: ValueError) -> str:
    """A pydantic validation error as one short line (field: message; …)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for error in errors():
            where = ".".join(str(p) for p in error.get("loc", ())) or "value"
            parts.append(f"{where}: {str(error.get('msg', '')).removeprefix('Value error, ')}")
        return "; ".join(parts)
    return str(exc)


class GatewaySettings(BaseModel):
    """Route Workers AI calls through an AI Gateway, with its per-request options.

    Each option becomes the matching ``cf-aig-*`` request header. ``None`` leaves the
    gateway's own configuration in force.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, description="The gateway's id (its name in the dashboard).")
    base_url: str = Field(default=DEFAULT_GATEWAY_URL, description="Gateway API root.")
    token: SecretStr | None = Field(
        default=None, description="Token of an authenticated gateway (cf-aig-authorization)."
    )
    cache_ttl: int | None = Field(default=None, description="Cache lifetime in seconds.")
    skip_cache: bool = False
    cache_key: str | None = None
    metadata: dict[str, MetadataValue] | None = None
    collect_log: bool | None = None
    request_timeout_ms: int | None = Field(default=None, gt=0)
    max_attempts: int | None = None
    retry_delay_ms: int | None = None
    backoff: Literal["constant", "linear", "exponential"] | None = None
    event_id: str | None = None
    provider_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        repr=False,
        description="API keys of other providers reached through the gateway, by provider "
        "name ('openai', 'anthropic'); secrets like the token. Env OPENAI_API_KEY, "
        "ANTHROPIC_API_KEY when absent here.",
    )

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if "/" in value or value.strip() != value:
            raise ValueError(f"gateway id {value!r} must be a single path segment")
        return value

    @field_validator("cache_ttl")
    @classmethod
    def _ttl_range(cls, value: int | None) -> int | None:
        if value is not None and not (
            limits.GATEWAY_MIN_CACHE_TTL <= value <= limits.GATEWAY_MAX_CACHE_TTL
        ):
            raise ValueError(
                f"cache_ttl={value} is outside AI Gateway's range "
                f"{limits.GATEWAY_MIN_CACHE_TTL}..{limits.GATEWAY_MAX_CACHE_TTL} seconds"
            )
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_entries(
        cls, value: dict[str, MetadataValue] | None
    ) -> dict[str, MetadataValue] | None:
        if value is not None and len(value) > limits.GATEWAY_MAX_METADATA_ENTRIES:
            raise ValueError(
                f"AI Gateway keeps at most {limits.GATEWAY_MAX_METADATA_ENTRIES} metadata "
                f"entries; got {len(value)} ({', '.join(value)})"
            )
        return value

    @field_validator("max_attempts")
    @classmethod
    def _attempts(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= limits.GATEWAY_MAX_ATTEMPTS:
            raise ValueError(f"max_attempts={value} must be 1..{limits.GATEWAY_MAX_ATTEMPTS}")
        return value

    @field_validator("retry_delay_ms")
    @classmethod
    def _delay(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= limits.GATEWAY_MAX_RETRY_DELAY_MS:
            raise ValueError(
                f"retry_delay_ms={value} must be 0..{limits.GATEWAY_MAX_RETRY_DELAY_MS}"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"gateway base_url {value!r} must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("provider_keys")
    @classmethod
    def _keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for provider, key in value.items():
            secret = key.get_secret_value()
            if not secret or any(c.isspace() for c in secret):
                raise ValueError(f"the {provider} key is empty or contains white space")
        return value

    def provider_key(self, provider: str) -> str | None:
        """The API key of ``provider`` for calls through this gateway: ``provider_keys``, else
        the provider's usual environment variable, else None (the gateway may hold the key:
        BYOK)."""
        key = self.provider_keys.get(provider)
        if key is not None:
            return key.get_secret_value()
        return env_first(PROVIDER_KEY_ENV.get(provider, ()))

    def without_secrets(self) -> dict[str, Any]:
        """These settings as data without the token and provider keys (for serialising)."""
        return self.model_dump(exclude={"token", "provider_keys"}, exclude_defaults=True)

    def headers(self) -> dict[str, str]:
        """The ``cf-aig-*`` request headers these settings stand for."""
        out: dict[str, str] = {}
        if self.token is not None:
            out["cf-aig-authorization"] = f"Bearer {self.token.get_secret_value()}"
        if self.cache_ttl is not None:
            out["cf-aig-cache-ttl"] = str(self.cache_ttl)
        if self.skip_cache:
            out["cf-aig-skip-cache"] = "true"
        if self.cache_key is not None:
            out["cf-aig-cache-key"] = self.cache_key
        if self.metadata:
            out["cf-aig-metadata"] = orjson.dumps(self.metadata).decode()
        if self.collect_log is not None:
            out["cf-aig-collect-log"] = "true" if self.collect_log else "false"
        if self.request_timeout_ms is not None:
            out["cf-aig-request-timeout"] = str(self.request_timeout_ms)
        if self.max_attempts is not None:
            out["cf-aig-max-attempts"] = str(self.max_attempts)
        if self.retry_delay_ms is not None:
            out["cf-aig-retry-delay"] = str(self.retry_delay_ms)
        if self.backoff is not None:
            out["cf-aig-backoff"] = self.backoff
        if self.event_id is not None:
            out["cf-aig-event-id"] = self.event_id
        return out

    def merged(self, **changes: Any) -> GatewaySettings:
        """A copy with some options changed, for one call."""
        return self.model_validate({**self.model_dump(), **changes})

    @classmethod
    def coerce(cls, value: GatewaySettings | str | Mapping[str, Any] | None) -> Self | None:
        """Accept a gateway id, a mapping of options or settings; read the environment when
        given None."""
        if value is None:
            gateway_id = env_first(GATEWAY_ID_ENV)
            if gateway_id is None:
                return None
            value = gateway_id
        try:
            if isinstance(value, cls):
                return value
            if isinstance(value, str):
                return cls._from_env_defaults({"id": value})
            if isinstance(value, GatewaySettings):
                return cls.model_validate(value.model_dump())
            return cls._from_env_defaults(dict(value))
        except ValueError as exc:
            raise ConfigurationError(f"invalid AI Gateway settings: {_brief(exc)}") from None

    @classmethod
    def _from_env_defaults(cls, data: dict[str, Any]) -> Self:
        data.setdefault("base_url", env_first(GATEWAY_URL_ENV) or DEFAULT_GATEWAY_URL)
        token = env_first(GATEWAY_TOKEN_ENV)
        if token is not None:
            data.setdefault("token", token)
        return cls.model_validate(data)


class ClientSettings(BaseModel):
    """Everything a client needs to reach Cloudflare, already resolved."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    account_id: str
    api_token: SecretStr
    base_url: str = DEFAULT_BASE_URL
    gateway: GatewaySettings | None = None
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    max_concurrency: int = Field(default=8, ge=1)
    default_headers: dict[str, str] = Field(default_factory=dict)
    #: Client-side Workers AI requests-per-minute limits (see :mod:`cloudflare_ai.ratelimit`):
    #: None = on for Cloudflare's own hosts only, off elsewhere (the local emulator); True = on
    #: with the published limits; ``{model: rpm}`` = on, with these over the published ones;
    #: False = off.
    rate_limits: bool | dict[str, int] | None = None
    #: The window of those limits in seconds (Cloudflare's is a minute; shorter for tests).
    rate_limit_window: float = Field(default=60.0, gt=0)
    #: What async clients send with (see :mod:`cloudflare_ai.aiohttp_backend`): "auto" =
    #: aiohttp's connection pool when the ``aiohttp`` extra is installed, else httpx's;
    #: "httpx" or "aiohttp" to choose. Read from CLOUDFLARE_AI_HTTP_BACKEND.
    http_backend: Literal["auto", "httpx", "aiohttp"] = "auto"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {self.base_url!r} must start with http:// or https://")
        return self

    @property
    def account_url(self) -> str:
        return f"{self.base_url}/accounts/{self.account_id}"

    def __repr__(self) -> str:  # explicit: SecretStr already hides the token; keep it short
        gateway = f", gateway={self.gateway.id!r}" if self.gateway else ""
        return (
            f"ClientSettings(account_id={self.account_id!r}, base_url={self.base_url!r}"
            f"{gateway}, api_token=SecretStr('**********'))"
        )

    __str__ = __repr__

    @classmethod
    def resolve(
        cls,
        *,
        account_id: str | None = None,
        api_token: str | SecretStr | None = None,
        base_url: str | None = None,
        gateway: GatewaySettings | str | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        rate_limits: bool | Mapping[str, int] | None = None,
        rate_limit_window: float | None = None,
    ) -> ClientSettings:
        """Settings from explicit arguments, falling back to the environment."""
        account = account_id or env_first(ACCOUNT_ID_ENV)
        if not account:
            raise ConfigurationError(
                "no Cloudflare account id: pass account_id=... or set CLOUDFLARE_ACCOUNT_ID "
                "(CF_ACCOUNT_ID is also read)"
            )
        token: str | None
        token = api_token.get_secret_value() if isinstance(api_token, SecretStr) else api_token
        token = token or env_first(API_TOKEN_ENV)
        if not token:
            raise ConfigurationError(
                "no Cloudflare API token: pass api_token=... or set CLOUDFLARE_API_TOKEN "
                "(CF_API_TOKEN and CF_AI_API_TOKEN are also read)"
            )
        if any(c.isspace() for c in token):
            raise ConfigurationError("the Cloudflare API token contains white space")
        url = (base_url or env_first(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        try:
            return cls(
                account_id=account.strip(),
                api_token=SecretStr(token),
                base_url=url,
                gateway=GatewaySettings.coerce(gateway),
                timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
                max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
                max_concurrency=8 if max_concurrency is None else max_concurrency,
                default_headers=dict(default_headers or {}),
                rate_limits=(
                    dict(rate_limits) if isinstance(rate_limits, Mapping) else rate_limits
                ),
                rate_limit_window=60.0 if rate_limit_window is None else rate_limit_window,
                http_backend=env_first(HTTP_BACKEND_ENV) or "auto",
            )
        except ValueError as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"invalid client settings: {_brief(exc)}") from None
