"""Local emulator of Cloudflare's Workers AI, Vectorize v2 and AI Gateway REST APIs.

Deterministic local engines stand in for the models (feature-hashing embeddings, an
extractive answerer, schema-driven JSON and tool calls, and one engine per other task: see
``tasks``); responses keep Cloudflare's wire shapes, error envelopes and limits so a client
can be developed and tested offline.
"""

from .app import EmulatorState, create_app, emulator_state
from .config import EmulatorConfig, FaultConfig, UnsafeExposureError
from .server import LocalCloudflare, serve

__all__ = [
    "EmulatorConfig",
    "EmulatorState",
    "FaultConfig",
    "LocalCloudflare",
    "UnsafeExposureError",
    "create_app",
    "emulator_state",
    "serve",
]
