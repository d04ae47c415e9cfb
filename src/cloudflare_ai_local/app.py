"""The emulator's ASGI app: Workers AI, Vectorize v2 and AI Gateway routes, Cloudflare auth,
envelopes for every error (never a bare 500 for bad input) and fault injection."""

from __future__ import annotations

import hmac
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from . import engines, errors, workers_ai
from .compat import compat_chat, provider_native
from .config import EmulatorConfig
from .errors import ApiError, envelope, error_response, json_response
from .faults import FaultController, FaultMiddleware, apply_model_fault
from .gateway import Gateway, json_or_bad_input
from .gateway_api import GatewayApi
from .gateway_store import GatewayStore
from .universal import universal
from .vector_store import VectorStore
from .vectorize_api import VectorizeApi

log = logging.getLogger("cloudflare_ai_local")

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(slots=True)
class EmulatorState:
    """Everything an app instance holds, reachable as ``app.state.emulator``."""

    config: EmulatorConfig
    store: VectorStore
    faults: FaultController
    gateway: Gateway
    #: How many answers each engine gave (by the name in ``x-local-engine``).
    answered: Counter[str] = field(default_factory=Counter)


def _engine_headers() -> dict[str, str]:
    return {"x-local-engine": workers_ai.engine_header("router")}


def _guard(state: EmulatorState, handler: Endpoint, ai: bool = False) -> Endpoint:
    """Authenticate, then run ``handler``, turning every failure into an envelope."""

    async def endpoint(request: Request) -> Response:
        extra = _engine_headers() if ai else None
        try:
            given = request.headers.get("authorization", "")
            expected = f"Bearer {state.config.api_token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise ApiError(errors.AUTH)
            if request.path_params.get("account_id") != state.config.account_id:
                raise ApiError(errors.FORBIDDEN)
            return await handler(request)
        except ApiError as err:
            response = error_response(err)
        except (ValueError, TypeError, KeyError, UnicodeError) as exc:
            log.info("bad request on %s: %r", request.url.path, exc)
            response = error_response(ApiError(errors.BAD_REQUEST, detail=f"bad request: {exc}"))
        if extra:
            response.headers.update(extra)
        return response

    return endpoint


def _ai_routes(state: EmulatorState) -> list[Route]:
    async def run(request: Request) -> Response:
        body = await workers_ai.read_run_body(request)
        model = request.path_params["model"]
        await apply_model_fault(state.faults, model)
        query = dict(request.query_params)
        outcome = await engines.call(lambda: workers_ai.run_http(model, body, query))
        return outcome.response()

    async def chat(request: Request) -> Response:
        body = json_or_bad_input(await request.body())
        await apply_model_fault(state.faults, body.get("model") if isinstance(body, dict) else None)
        return (await engines.call(lambda: workers_ai.chat_completions(body))).response()

    async def embed(request: Request) -> Response:
        body = json_or_bad_input(await request.body())
        return (await engines.call(lambda: workers_ai.openai_embeddings(body))).response()

    async def search(request: Request) -> Response:
        return json_response(workers_ai.search_models(request.query_params))

    async def schema(request: Request) -> Response:
        return json_response(workers_ai.model_schema(request.query_params))

    base = "/accounts/{account_id}/ai"
    return [
        Route(f"{base}/run/{{model:path}}", _guard(state, run, ai=True), methods=["POST"]),
        Route(f"{base}/v1/chat/completions", _guard(state, chat, ai=True), methods=["POST"]),
        Route(f"{base}/v1/embeddings", _guard(state, embed, ai=True), methods=["POST"]),
        Route(f"{base}/models/search", _guard(state, search, ai=True), methods=["GET"]),
        Route(f"{base}/models/schema", _guard(state, schema, ai=True), methods=["GET"]),
    ]


def _vectorize_routes(state: EmulatorState) -> list[Route]:
    api = VectorizeApi(state.store)

    def wrap(method: Callable[..., Awaitable[Any]], status: int = 200) -> Endpoint:
        async def handler(request: Request) -> Response:
            params = {k: v for k, v in request.path_params.items() if k != "account_id"}
            if "index_name" in params:
                params = {"name": params["index_name"]}
            result = await method(request, **params)
            return json_response(envelope(result), status)

        return _guard(state, handler)

    base = "/accounts/{account_id}/vectorize/v2/indexes"
    one = base + "/{index_name}"
    return [
        Route(base, wrap(api.create_index), methods=["POST"]),
        Route(base, wrap(api.list_indexes), methods=["GET"]),
        Route(one, wrap(api.get_index), methods=["GET"]),
        Route(one, wrap(api.delete_index), methods=["DELETE"]),
        Route(one + "/info", wrap(api.info), methods=["GET"]),
        Route(one + "/insert", wrap(api.insert), methods=["POST"]),
        Route(one + "/upsert", wrap(api.upsert), methods=["POST"]),
        Route(one + "/query", wrap(api.query), methods=["POST"]),
        Route(one + "/get_by_ids", wrap(api.get_by_ids), methods=["POST"]),
        Route(one + "/delete_by_ids", wrap(api.delete_by_ids), methods=["POST"]),
        Route(one + "/list", wrap(api.list_vectors), methods=["GET"]),
        Route(one + "/metadata_index/create", wrap(api.create_metadata_index), methods=["POST"]),
        Route(
            one + "/metadata_index/list", wrap(api.list_metadata_indexes), methods=["GET", "POST"]
        ),
        Route(one + "/metadata_index/delete", wrap(api.delete_metadata_index), methods=["POST"]),
    ]


def _gateway_routes(state: EmulatorState) -> list[Route]:
    gw = state.gateway

    def wrap(kind: str) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                if request.path_params["account_id"] != state.config.account_id:
                    raise ApiError(errors.FORBIDDEN)
                gateway_id = request.path_params["gateway_id"]
                raw = await request.body()
                if kind == "universal":
                    return await universal(gw, state.faults, request, gateway_id, raw)
                if kind == "compat":
                    return await compat_chat(gw, state.faults, request, gateway_id, raw)
                if kind in ("openai", "anthropic"):
                    return await provider_native(gw, state.faults, request, gateway_id, raw, kind)
                if kind == "run":
                    run_body = await workers_ai.read_run_body(request)
                    name: str = request.path_params["model"]
                    query = dict(request.query_params)

                    def run_upstream() -> workers_ai.AiOutcome:
                        return workers_ai.run_http(name, run_body, query)

                    streaming = workers_ai.wants_stream(run_body)
                    return await gw.handle(request, gateway_id, name, run_upstream, streaming, raw)
                body = json_or_bad_input(raw)
                streaming = isinstance(body, dict) and body.get("stream") is True
                model = body.get("model") if isinstance(body, dict) else None
                if kind == "chat":

                    def upstream() -> workers_ai.AiOutcome:
                        return workers_ai.chat_completions(body)
                else:

                    def upstream() -> workers_ai.AiOutcome:
                        return workers_ai.openai_embeddings(body)

                return await gw.handle(request, gateway_id, model, upstream, streaming, raw)
            except ApiError as err:
                response = error_response(err)
                response.headers.update(_engine_headers())
                return response

        return endpoint

    base = "/{account_id}/{gateway_id}"
    return [
        Route(base + "/workers-ai/v1/chat/completions", wrap("chat"), methods=["POST"]),
        Route(base + "/workers-ai/v1/embeddings", wrap("embeddings"), methods=["POST"]),
        Route(base + "/workers-ai/run/{model:path}", wrap("run"), methods=["POST"]),
        Route(base + "/workers-ai/{model:path}", wrap("run"), methods=["POST"]),
        Route(base + "/compat/chat/completions", wrap("compat"), methods=["POST"]),
        Route(base + "/openai/chat/completions", wrap("openai"), methods=["POST"]),
        Route(base + "/anthropic/v1/messages", wrap("anthropic"), methods=["POST"]),
        Route(base, wrap("universal"), methods=["POST"]),
        Route(base + "/", wrap("universal"), methods=["POST"]),
    ]


def _gateway_api_routes(state: EmulatorState) -> list[Route]:
    """The AI Gateway management and logs REST API (see :mod:`.gateway_api`)."""
    api = GatewayApi(state.gateway)

    def wrap(method: Callable[..., Awaitable[Response]], **fixed: str) -> Endpoint:
        async def handler(request: Request) -> Response:
            params = {k: v for k, v in request.path_params.items() if k != "account_id"}
            return await method(request, **params, **fixed)

        return _guard(state, handler)

    base = "/accounts/{account_id}/ai-gateway/gateways"
    one = base + "/{gateway_id}"
    log = one + "/logs/{log_id}"
    return [
        Route(base, wrap(api.list_gateways), methods=["GET"]),
        Route(base, wrap(api.create_gateway), methods=["POST"]),
        Route(one, wrap(api.get_gateway), methods=["GET"]),
        Route(one, wrap(api.update_gateway), methods=["PUT"]),
        Route(one, wrap(api.delete_gateway), methods=["DELETE"]),
        Route(one + "/logs", wrap(api.list_logs), methods=["GET"]),
        Route(one + "/logs", wrap(api.delete_logs), methods=["DELETE"]),
        Route(log, wrap(api.get_log), methods=["GET"]),
        Route(log, wrap(api.edit_log), methods=["PATCH"]),
        Route(log + "/request", wrap(api.log_body, which="request"), methods=["GET"]),
        Route(log + "/response", wrap(api.log_body, which="response"), methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(ApiError(errors.METHOD_NOT_ALLOWED))
    if exc.status_code == 404:
        return error_response(ApiError(errors.NO_ROUTE))
    return json_response(errors.failure_body(10001, str(exc.detail)), exc.status_code)


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """Build the emulator app for ``config`` (defaults: in-memory store, no faults)."""
    config = config or EmulatorConfig()
    faults = FaultController(config.faults)
    state = EmulatorState(
        config=config,
        store=VectorStore(config.data_dir, config.write_delay),
        faults=faults,
        gateway=Gateway(
            config.api_token,
            config.gateway_token,
            config.gateway_cache_ttl,
            store=GatewayStore(config.data_dir),
            faults=faults,
        ),
    )
    api_routes = _ai_routes(state) + _vectorize_routes(state) + _gateway_api_routes(state)
    routes = [
        Mount("/client/v4", routes=api_routes),
        Mount("/gateway/v1", routes=_gateway_routes(state)),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.emulator = state
    app.add_middleware(
        FaultMiddleware, controller=state.faults, engine=workers_ai.engine_header("router")
    )
    app.add_middleware(engines.EngineMiddleware, engine=config.engine, answered=state.answered)
    return app


def emulator_state(app: Starlette) -> EmulatorState:
    """The ``EmulatorState`` of an app made by ``create_app``."""
    state = app.state.emulator
    assert isinstance(state, EmulatorState)
    return state
