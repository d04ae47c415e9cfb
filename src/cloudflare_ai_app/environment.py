"""Real Cloudflare when credentials are set, the local emulator otherwise.

The demo, the command line and the notebooks all start here, so switching a workflow to a
real account is a matter of setting ``CLOUDFLARE_ACCOUNT_ID`` and ``CLOUDFLARE_API_TOKEN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cloudflare_ai.config import ACCOUNT_ID_ENV, API_TOKEN_ENV, GatewaySettings, env_first


@dataclass(frozen=True)
class Connection:
    """Where clients should point, and a one-line description of it for people."""

    account_id: str
    api_token: str
    base_url: str | None
    gateway_url: str | None
    local: bool
    #: The running ``LocalCloudflare`` when local (faults, write delay, gateway logs).
    emulator: Any = None

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"account_id": self.account_id, "api_token": self.api_token}
        if self.base_url:
            kwargs["base_url"] = self.base_url
        return kwargs

    def ai_kwargs(self, gateway: str | None = None) -> dict[str, Any]:
        """:meth:`client_kwargs` for Workers AI clients, routed through AI Gateway when a
        gateway id is given or ``CLOUDFLARE_AI_GATEWAY_ID`` names one: the emulator's gateway
        when local (Cloudflare's host is not reachable from it), Cloudflare's otherwise."""
        from cloudflare_ai.config import GATEWAY_ID_ENV

        kwargs = self.client_kwargs()
        gateway_id = gateway or env_first(GATEWAY_ID_ENV)
        if gateway_id:
            kwargs["gateway"] = self.gateway(gateway_id)
        return kwargs

    def gateway(self, gateway_id: str, **options: Any) -> GatewaySettings:
        """AI Gateway settings for this connection: the emulator's gateway when local, else
        Cloudflare's (``CLOUDFLARE_AI_GATEWAY_URL`` / ``_TOKEN`` are read as usual)."""
        if self.gateway_url:
            options.setdefault("base_url", self.gateway_url)
        settings = GatewaySettings.coerce({"id": gateway_id, **options})
        assert settings is not None
        return settings

    def __repr__(self) -> str:
        where = "local emulator" if self.local else "Cloudflare"
        return f"Connection({where}, base_url={self.base_url!r})"

    @property
    def description(self) -> str:
        if self.local:
            engine = getattr(self.emulator, "engine", "deterministic")
            what = (
                "real small local models (MiniLM embeddings, SmolLM2 answers, whisper-base)"
                if engine == "models"
                else "deterministic local engines"
            )
            return (
                f"Using the local emulator at {self.base_url}, answering with {what} "
                "(set CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN to use your Cloudflare "
                "account)."
            )
        return f"Using Cloudflare account {self.account_id[:6]}… at {self.base_url or 'the API'}."


@contextmanager
def _local_gateway_root(url: str) -> Iterator[None]:
    """While the emulator runs, AI Gateway calls go to its gateway: a gateway id from
    ``CLOUDFLARE_AI_GATEWAY_ID`` (or passed to a client) would otherwise send them to
    Cloudflare's host with the emulator's credentials. The previous value is restored."""
    import os

    from cloudflare_ai.config import GATEWAY_URL_ENV

    name = GATEWAY_URL_ENV[0]
    before = os.environ.get(name)
    os.environ[name] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def has_credentials() -> bool:
    return bool(env_first(ACCOUNT_ID_ENV) and env_first(API_TOKEN_ENV))


@contextmanager
def cloudflare_or_local(**emulator_options: Any) -> Iterator[Connection]:
    """Yield a :class:`Connection` to Cloudflare, or to a local emulator started for the
    duration of the block when no credentials are configured."""
    if has_credentials():
        from cloudflare_ai.config import BASE_URL_ENV, DEFAULT_BASE_URL, GATEWAY_URL_ENV

        yield Connection(
            account_id=env_first(ACCOUNT_ID_ENV) or "",
            api_token=env_first(API_TOKEN_ENV) or "",
            base_url=env_first(BASE_URL_ENV) or DEFAULT_BASE_URL,
            gateway_url=env_first(GATEWAY_URL_ENV),
            local=False,
        )
        return
    try:
        from cloudflare_ai_local import LocalCloudflare
    except ImportError as exc:
        from cloudflare_ai.errors import ConfigurationError

        raise ConfigurationError(
            "no Cloudflare credentials and no local emulator: set CLOUDFLARE_ACCOUNT_ID and "
            "CLOUDFLARE_API_TOKEN to use your account, or pip install 'cloudflare-ai[local]' "
            f"to run on the emulator (missing module {exc.name!r})"
        ) from exc

    with LocalCloudflare(**emulator_options) as cf, _local_gateway_root(cf.gateway_url):
        yield Connection(
            account_id=cf.account_id,
            api_token=cf.api_token,
            base_url=cf.base_url,
            gateway_url=cf.gateway_url,
            local=True,
            emulator=cf,
        )
