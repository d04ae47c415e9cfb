"""Settings of the local emulator: what it serves, as whom, and which faults it injects.

Kept apart from the app so the server wrapper, the CLI and tests can build a configuration
without importing Starlette.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
DEFAULT_API_TOKEN = "local-emulator-token"  # noqa: S105 - a fixed, public test token


class UnsafeExposureError(ValueError):
    """Serving off loopback with the public default token (or an unusable token)."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1 and ``localhost``.
    Any other name counts as reachable from the network (it may resolve to anything)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_exposure(host: str, api_token: str) -> None:
    """Refuse to serve on an address other machines can reach with the emulator's well-known
    default token, which would let anyone there use it. Loopback needs no token of its own."""
    if not api_token or any(c.isspace() for c in api_token):
        raise UnsafeExposureError("the emulator's API token must be non-empty, without spaces")
    if api_token == DEFAULT_API_TOKEN and not is_loopback(host):
        raise UnsafeExposureError(
            f"refusing to serve on {host or '(all addresses)'} with the emulator's public "
            "default token, which anyone who can reach it could use: choose a token of your "
            "own (cloudflare-ai serve --token, or CLOUDFLARE_AI_LOCAL_TOKEN; api_token= in "
            "Python) or listen on 127.0.0.1"
        )


FaultKind = Literal["429", "3040", "500", "502", "503", "drop", "timeout", "stream_cut"]
FAULT_KINDS: tuple[str, ...] = ("429", "3040", "500", "502", "503", "drop", "timeout", "stream_cut")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Latency and failures to inject into responses.

    ``rate`` is the probability that a request (whose path contains one of ``paths``, when
    given) fails with one of ``kinds``, drawn from a generator seeded with ``seed`` so a run
    is reproducible. ``latency_ms`` (plus up to ``jitter_ms`` more, also seeded) delays every
    response. A ``"timeout"`` fault stalls the answer for ``timeout_seconds``; set it above the
    client's timeout. ``"stream_cut"`` ends an SSE body after ``stream_cut_after`` events.
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate: float = 0.0
    kinds: Sequence[FaultKind] = ("500",)
    seed: int = 0
    retry_after: int = 0
    timeout_seconds: float = 5.0
    stream_cut_after: int = 2
    paths: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("FaultConfig.rate must be within [0, 1]")
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; choose from {FAULT_KINDS}")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency must not be negative")


@dataclass(slots=True)
class EmulatorConfig:
    """Everything ``create_app`` needs. Mutable on purpose: faults and delays change at runtime."""

    account_id: str = DEFAULT_ACCOUNT_ID
    api_token: str = DEFAULT_API_TOKEN
    data_dir: Path | str | None = None
    write_delay: float = 0.0
    gateway_token: str | None = None
    #: Cache TTL (seconds) of gateways created on first use, for requests that send no
    #: ``cf-aig-cache-ttl``; None means caching is off unless a request asks for it.
    #: Gateways made through the management API carry their own ``cache_ttl``.
    gateway_cache_ttl: int | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)
    #: Which engines answer Workers AI requests: "deterministic" or "models" (real small
    #: models; see ``engines``).
    engine: Literal["deterministic", "models"] = "deterministic"

    def __repr__(self) -> str:  # never show the token
        return (
            f"EmulatorConfig(account_id={self.account_id!r}, data_dir={self.data_dir!r}, "
            f"write_delay={self.write_delay!r}, faults={self.faults!r}, engine={self.engine!r})"
        )
