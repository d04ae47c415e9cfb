"""``LocalCloudflare``: the emulator served by uvicorn on a free localhost port in a
background thread, for tests and notebooks; and ``serve`` to run it in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from . import engines
from .app import EmulatorState, create_app, emulator_state
from .config import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_API_TOKEN,
    EmulatorConfig,
    FaultConfig,
    check_exposure,
)
from .faults import ConnectionDropped
from .gateway import Gateway
from .gateway_store import GatewayLogEntry, GatewayRecord


class _HideDroppedConnections(logging.Filter):
    """Keep injected connection drops out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


logging.getLogger("uvicorn.error").addFilter(_HideDroppedConnections())


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalCloudflare:
    """A running emulator. Use as ``with LocalCloudflare() as cf:`` (or ``async with``).

    ``base_url`` is the ``/client/v4`` root, ``gateway_url`` the AI Gateway root, and ``env``
    the environment variables that point a client at it.

    ``engine`` chooses what answers Workers AI requests: ``"deterministic"`` (the default)
    or ``"models"``, real small models (the ``local-models`` extra and weights; see
    :mod:`cloudflare_ai_local.engines`). When not given, ``$CLOUDFLARE_AI_LOCAL_ENGINE``
    decides. Asking for ``"models"`` without them installed raises
    :class:`~cloudflare_ai_local.models.errors.ModelsUnavailableError` naming what to install.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: Path | str | None = None,
        latency_ms: float = 0.0,
        faults: FaultConfig | None = None,
        write_delay: float = 0.0,
        gateway_token: str | None = None,
        api_token: str = DEFAULT_API_TOKEN,
        account_id: str = DEFAULT_ACCOUNT_ID,
        gateway_cache_ttl: int | None = None,
        engine: str | None = None,
    ) -> None:
        chosen = engines.resolve(engine)
        if chosen == "models":
            engines.verify_models()
        faults = faults or FaultConfig()
        if latency_ms:
            faults = _replace(faults, latency_ms=latency_ms)
        self.config = EmulatorConfig(
            account_id=account_id,
            api_token=api_token,
            data_dir=data_dir,
            write_delay=write_delay,
            gateway_token=gateway_token,
            gateway_cache_ttl=gateway_cache_ttl,
            faults=faults,
            engine=chosen,
        )
        self.host = host
        self._requested_port = port
        self.port = 0
        self.app = create_app(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- addresses -------------------------------------------------------------------------

    @property
    def account_id(self) -> str:
        return self.config.account_id

    @property
    def api_token(self) -> str:
        return self.config.api_token

    @property
    def engine(self) -> str:
        """``"deterministic"`` or ``"models"``: what answers Workers AI requests."""
        return self.config.engine

    def engines_answered(self) -> dict[str, int]:
        """How many Workers AI answers each engine gave so far, by name (e.g.
        ``"SmolLM2-135M-Instruct Q4_1 on llama.cpp (local model)"`` or
        ``"feature-hash-embedder/1.0"``): what really answered, whichever engine was asked."""
        return dict(self.state.answered)

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/client/v4"

    @property
    def gateway_url(self) -> str:
        return f"{self.root_url}/gateway/v1"

    @property
    def env(self) -> dict[str, str]:
        return {
            "CLOUDFLARE_ACCOUNT_ID": self.account_id,
            "CLOUDFLARE_API_TOKEN": self.api_token,
            "CLOUDFLARE_BASE_URL": self.base_url,
            "CLOUDFLARE_AI_GATEWAY_URL": self.gateway_url,
        }

    # --- state accessors -------------------------------------------------------------------

    @property
    def state(self) -> EmulatorState:
        return emulator_state(self.app)

    @property
    def gateway(self) -> Gateway:
        """The AI Gateway runtime: settings, cache, rate limiter and logs of every gateway."""
        return self.state.gateway

    @property
    def gateway_logs(self) -> list[GatewayLogEntry]:
        """Every gateway's request log (newest last)."""
        return list(self.state.gateway.logs)

    def gateway_settings(self, gateway_id: str) -> GatewayRecord | None:
        """A gateway's settings, or None when it was never used nor created."""
        return self.state.gateway.store.get(gateway_id)

    @property
    def injected_faults(self) -> list[tuple[str, str]]:
        """(path, kind) of every fault injected so far."""
        return list(self.state.faults.injected)

    def set_faults(self, faults: FaultConfig | None = None, **changes: Any) -> None:
        """Replace the fault configuration (or change fields of the current one)."""
        base = faults or (self.state.faults.config if changes else FaultConfig())
        new = _replace(base, **changes) if changes else base
        self.config.faults = new
        self.state.faults.set(new)

    def fail_model(self, model: str, *kinds: str) -> None:
        """Script failures of ``model``'s next upstream calls (see
        :meth:`FaultController.fail_model`), e.g. ``cf.fail_model(m, "3040", "3040")``."""
        self.state.faults.fail_model(model, *kinds)

    def set_latency(self, latency_ms: float, jitter_ms: float = 0.0) -> None:
        self.set_faults(latency_ms=latency_ms, jitter_ms=jitter_ms)

    def set_write_delay(self, seconds: float) -> None:
        self.config.write_delay = seconds
        self.state.store.write_delay = seconds

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalCloudflare:
        if self._server is not None:
            return self
        check_exposure(self.host, self.api_token)
        self.port = self._requested_port or _free_port(self.host)
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="local-cloudflare", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the local emulator did not start on {self.root_url}")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop the server and flush the store (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = self._thread = None
        self.state.store.close()
        self.state.gateway.close()

    def __enter__(self) -> LocalCloudflare:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalCloudflare:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalCloudflare(base_url={self.base_url!r})"


def _replace(faults: FaultConfig, **changes: Any) -> FaultConfig:
    from dataclasses import replace

    return replace(faults, **changes)


def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    data_dir: Path | str | None = None,
    latency_ms: float = 0.0,
    faults: FaultConfig | None = None,
    *,
    write_delay: float = 0.0,
    gateway_token: str | None = None,
    api_token: str = DEFAULT_API_TOKEN,
    account_id: str = DEFAULT_ACCOUNT_ID,
    engine: str | None = None,
) -> None:
    """Run the emulator in the foreground until interrupted. ``engine`` as for
    :class:`LocalCloudflare`.

    Off loopback (any ``host`` but 127.0.0.0/8, ::1 and localhost) an ``api_token`` other than
    the public default is required: :class:`~.config.UnsafeExposureError` otherwise, raised
    before anything is bound."""
    check_exposure(host, api_token)
    chosen = engines.resolve(engine)
    if chosen == "models":
        engines.verify_models()
    faults = faults or FaultConfig()
    if latency_ms:
        faults = _replace(faults, latency_ms=latency_ms)
    config = EmulatorConfig(
        account_id=account_id,
        api_token=api_token,
        data_dir=data_dir,
        write_delay=write_delay,
        gateway_token=gateway_token,
        faults=faults,
        engine=chosen,
    )
    app = create_app(config)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", lifespan="off")
    finally:
        emulator_state(app).store.close()
        emulator_state(app).gateway.close()
