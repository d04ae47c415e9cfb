"""The ``cloudflare-ai`` command line: run the local emulator, the demo, and look things up.

Errors are printed as one readable line with what to do next; ``--debug`` shows tracebacks.

Start-up is kept short: this module imports only the standard library and Typer, each command
imports what it uses when it runs, and help is plain text (Rich's help renderer costs more
than the rest of ``--help`` together). ``tests/test_startup.py`` checks what gets imported.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

try:
    import typer
except ImportError:  # pragma: no cover - exercised only without the cli extra
    typer = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from cloudflare_ai.gateways import AIGatewayClient
    from cloudflare_ai.vectorize import VectorizeClient

    from .environment import Connection

#: Where ``serve`` reads its ``--token`` from when the option is not given.
TOKEN_ENV = "CLOUDFLARE_AI_LOCAL_TOKEN"  # noqa: S105 - a variable's name, not a token
#: Where ``serve`` (and ``LocalCloudflare``) read the engine from when not given; the same
#: name as ``cloudflare_ai_local.engines.ENGINE_ENV``, spelled out because the emulator is an
#: optional extra this module does not import at load time.
ENGINE_ENV = "CLOUDFLARE_AI_LOCAL_ENGINE"


class CommandError(Exception):
    """A problem the user can fix, said in one line (no traceback, no --debug hint)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _installed(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _emulator() -> Any:
    """The emulator package, or a CommandError saying how to install it."""
    try:
        return importlib.import_module("cloudflare_ai_local")
    except ImportError as exc:
        raise CommandError(
            f"the local emulator needs the 'local' extra (missing module {exc.name!r}): "
            "pip install 'cloudflare-ai[local]'"
        ) from exc


FRAMEWORKS = {"langchain": "langchain_core", "llama-index": "llama_index.core"}


def pick_framework(requested: str | None) -> str:
    """The framework ``ask`` uses: the requested one, or LangChain when installed, else
    LlamaIndex. A CommandError says what to install when it is missing."""
    if requested is not None:
        if requested not in FRAMEWORKS:
            raise CommandError(
                f"--framework: use langchain or llama-index, not {requested!r}", exit_code=2
            )
        if not _installed(FRAMEWORKS[requested]):
            raise CommandError(
                f"--framework {requested} needs it installed: "
                f"pip install 'cloudflare-ai[{requested}]'"
            )
        return requested
    for name, module in FRAMEWORKS.items():
        if _installed(module):
            return name
    raise CommandError(
        "ask answers through LangChain or LlamaIndex and neither is installed: "
        "pip install 'cloudflare-ai[langchain]' (or 'cloudflare-ai[llama-index]')"
    )


def missing_index_message(index: str) -> str:
    return (
        f"index {index!r} does not exist: create and fill it with "
        f"`cloudflare-ai ingest PATH --index {index}`"
    )


if typer is not None:
    from typer.core import TyperCommand, TyperGroup

    def _unset_help_is_false(option: Any) -> Any:
        # Typer 0.26+ validates every parameter value that is not already a bool with a
        # pydantic TypeAdapter; an absent --help is None, so every command would import
        # pydantic (half a second) just to find that --help was not given. False skips that.
        if option is not None and getattr(option, "default", False) is None:
            option.default = False
        return option

    class _Group(TyperGroup):
        def get_help_option(self, ctx: Any) -> Any:
            return _unset_help_is_false(super().get_help_option(ctx))

    class _Command(TyperCommand):
        def get_help_option(self, ctx: Any) -> Any:
            return _unset_help_is_false(super().get_help_option(ctx))

    app = typer.Typer(
        cls=_Group,
        name="cloudflare-ai",
        help="Workers AI and Vectorize for LangChain and LlamaIndex, with a local emulator.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        # Plain help: Rich's help renderer imports more than the rest of --help together.
        rich_markup_mode=None,
    )
    _state = {"debug": False}

    @app.callback()
    def _options(
        debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
    ) -> None:
        _state["debug"] = debug

    @app.command(cls=_Command)
    def serve(
        host: Annotated[
            str, typer.Option(help="Address to listen on; off loopback a --token is required.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
        token: Annotated[
            str | None,
            typer.Option(
                envvar=TOKEN_ENV,
                show_envvar=True,
                help="API token clients must send (default: the emulator's public one, "
                "accepted on loopback only). Prefer the environment variable: an option's "
                "value shows in the process list.",
            ),
        ] = None,
        data_dir: Annotated[
            Path | None, typer.Option(help="Keep data in this folder (default: in memory).")
        ] = None,
        latency_ms: Annotated[float, typer.Option(help="Delay added to every response.")] = 0.0,
        fault_rate: Annotated[
            float, typer.Option(help="Share of requests that fail (0..1).")
        ] = 0.0,
        fault_kinds: Annotated[
            str, typer.Option(help="Comma-separated: 429,3040,500,502,503,drop,timeout.")
        ] = "429,3040,503",
        write_delay: Annotated[
            float, typer.Option(help="Seconds before Vectorize writes become visible.")
        ] = 0.0,
        engine: Annotated[
            str | None,
            typer.Option(
                envvar=ENGINE_ENV,
                show_envvar=True,
                help="What answers Workers AI requests: 'deterministic' (fast, reproducible "
                "stand-ins) or 'models' (real small models: pip install "
                "'cloudflare-ai[local-models]' and the weights).",
            ),
        ] = None,
    ) -> None:
        """Run the local Cloudflare emulator (Workers AI, Vectorize, AI Gateway)."""
        local = _emulator()
        from cloudflare_ai_local import engines
        from cloudflare_ai_local.models.errors import ModelsUnavailableError

        try:
            chosen = engines.resolve(engine)
            if chosen == "models":
                engines.verify_models()
        except ValueError as exc:
            raise CommandError(f"--engine: {exc}", exit_code=2) from None
        except ModelsUnavailableError as exc:
            raise CommandError(str(exc)) from None
        from cloudflare_ai_local.config import (
            DEFAULT_ACCOUNT_ID,
            DEFAULT_API_TOKEN,
            UnsafeExposureError,
            check_exposure,
            is_loopback,
        )

        api_token = DEFAULT_API_TOKEN if token is None else token
        try:
            check_exposure(host, api_token)
        except UnsafeExposureError as exc:
            raise CommandError(str(exc), exit_code=2) from None
        kinds: Any = tuple(k.strip() for k in fault_kinds.split(",") if k.strip())
        try:
            faults = local.FaultConfig(latency_ms=latency_ms, rate=fault_rate, kinds=kinds)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        shown_host = f"[{host}]" if ":" in host else host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming it, not binding to it
            shown_host = "<this machine's address>"
        url = f"http://{shown_host}:{port}/client/v4"
        if token is None:
            shown_token = DEFAULT_API_TOKEN
            said = "the emulator's public default token (accepted on loopback only)"
        else:
            shown_token = f"<the token from --token or {TOKEN_ENV}>"
            said = f"the token you set with --token or {TOKEN_ENV} (not shown)"
        where = (
            "loopback only"
            if is_loopback(host)
            else f"{host or 'all addresses'}, reachable from the network"
        )
        typer.echo(
            f"Local Cloudflare on {url} ({where}) — point clients at it with:\n"
            f"  export CLOUDFLARE_BASE_URL={url}\n"
            f"  export CLOUDFLARE_ACCOUNT_ID={DEFAULT_ACCOUNT_ID}\n"
            f"  export CLOUDFLARE_API_TOKEN={shown_token}\n"
            f"Requests must carry {said}.\n"
            f"Workers AI answers come from the {chosen} engine."
        )
        local.serve(
            host,
            port,
            data_dir,
            faults=faults,
            write_delay=write_delay,
            api_token=api_token,
            engine=chosen,
        )

    @app.command(cls=_Command)
    def demo(
        question: Annotated[
            str | None, typer.Argument(help="What to ask the bundled documents.")
        ] = None,
    ) -> None:
        """Index the bundled documents and answer a question from them, streaming."""
        from . import demo as demo_module

        frameworks = all(_installed(module) for module in FRAMEWORKS.values())
        if not frameworks:
            typer.echo(
                "(the LangChain and LlamaIndex parts of the demo are skipped; they need: "
                "pip install 'cloudflare-ai[langchain,llama-index]')",
                err=True,
            )
        demo_module.run(
            question or demo_module.DEFAULT_QUESTION, out=sys.stdout, frameworks=frameworks
        )

    index_app = typer.Typer(
        cls=_Group, help="Manage Vectorize indexes.", no_args_is_help=True, rich_markup_mode=None
    )
    metadata_app = typer.Typer(
        cls=_Group,
        help="Manage an index's metadata indexes.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    index_app.add_typer(metadata_app, name="metadata")
    app.add_typer(index_app, name="index")

    @contextmanager
    def _connection(index: str | None = None) -> Iterator[Connection]:
        """Cloudflare when credentials are set; otherwise a local emulator whose data persists
        in ``CLOUDFLARE_AI_LOCAL_DIR`` (default ~/.cache/cloudflare-ai/local), so ``ingest``
        then ``ask`` work across commands. Says which, once, on stderr.

        With ``index``, a "not found" error inside the block is checked against that index
        and, when the index is what is missing, reported as such with how to create it."""
        from .environment import cloudflare_or_local, has_credentials

        options: dict[str, Any] = {}
        if not has_credentials():
            folder = Path(
                os.environ.get("CLOUDFLARE_AI_LOCAL_DIR")
                or Path.home() / ".cache" / "cloudflare-ai" / "local"
            )
            folder.mkdir(parents=True, exist_ok=True)
            options["data_dir"] = folder
        with cloudflare_or_local(**options) as connection:
            typer.echo(connection.description, err=True)
            if index is None:
                yield connection
                return
            from cloudflare_ai.errors import NotFoundError

            try:
                yield connection
            except NotFoundError as exc:
                if _index_exists(connection, index):
                    raise
                raise CommandError(missing_index_message(index)) from exc

    def _index_exists(connection: Connection, name: str) -> bool:
        from cloudflare_ai.errors import NotFoundError

        with _vectorize_at(connection) as db:
            try:
                db.get_index(name)
            except NotFoundError:
                return False
        return True

    def _vectorize_at(connection: Connection) -> VectorizeClient:
        from cloudflare_ai.vectorize import VectorizeClient

        return VectorizeClient(**connection.client_kwargs())

    @contextmanager
    def _vectorize(index: str | None = None) -> Iterator[VectorizeClient]:
        """A Vectorize client on :func:`_connection` (``index`` as there)."""
        with _connection(index) as connection, _vectorize_at(connection) as db:
            yield db

    @index_app.command("create", cls=_Command)
    def index_create(
        name: Annotated[str, typer.Argument(help="Index name.")],
        dimensions: Annotated[int | None, typer.Option(help="Vector length.")] = None,
        metric: Annotated[str, typer.Option(help="cosine, euclidean or dot-product.")] = "cosine",
        preset: Annotated[str | None, typer.Option(help="An embedding model preset.")] = None,
        model: Annotated[
            str | None, typer.Option(help="Take dimensions from this Workers AI model.")
        ] = None,
        description: Annotated[str | None, typer.Option(help="Free text.")] = None,
        exist_ok: Annotated[bool, typer.Option(help="Succeed if it already exists.")] = False,
    ) -> None:
        """Create a Vectorize index."""
        if model is not None and dimensions is None:
            from cloudflare_ai.models import require_model

            dimensions = require_model(model).dimensions
        with _vectorize() as db:
            index = db.create_index(
                name,
                dimensions=dimensions,
                metric=metric,  # type: ignore[arg-type]
                preset=preset,
                description=description,
                exist_ok=exist_ok,
            )
        typer.echo(f"{index.name}: {index.config.dimensions} dimensions, {index.config.metric}")

    @index_app.command("list", cls=_Command)
    def index_list() -> None:
        """List the account's indexes."""
        with _vectorize() as db:
            for index in db.list_indexes():
                typer.echo(
                    f"{index.name:40} {index.config.dimensions:>5}  {index.config.metric:12} "
                    f"{index.description or ''}"
                )

    @index_app.command("info", cls=_Command)
    def index_info(name: Annotated[str, typer.Argument(help="Index name.")]) -> None:
        """Show an index's configuration, vector count and write progress."""
        with _vectorize(name) as db:
            index = db.get_index(name)
            info = db.info(name)
            indexes = db.list_metadata_indexes(name)
        typer.echo(f"name:                 {index.name}")
        typer.echo(f"dimensions / metric:  {index.config.dimensions} / {index.config.metric}")
        typer.echo(f"vectors:              {info.vector_count}")
        typer.echo(f"processed up to:      {info.processed_up_to_mutation or '-'}")
        listed = ", ".join(f"{m.property_name} ({m.index_type})" for m in indexes) or "none"
        typer.echo(f"metadata indexes:     {listed}")

    @index_app.command("delete", cls=_Command)
    def index_delete(
        name: Annotated[str, typer.Argument(help="Index name.")],
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
        missing_ok: Annotated[bool, typer.Option(help="Succeed if it does not exist.")] = False,
    ) -> None:
        """Delete an index and every vector in it."""
        if not yes and not typer.confirm(f"Delete index {name!r} and all its vectors?"):
            raise typer.Abort()
        from cloudflare_ai.errors import NotFoundError

        with _connection() as connection:
            try:
                with _vectorize_at(connection) as db:
                    db.delete_index(name, missing_ok=missing_ok)
            except NotFoundError as exc:
                if _index_exists(connection, name):
                    raise
                raise CommandError(
                    f"index {name!r} does not exist, so nothing was deleted "
                    "(--missing-ok makes that a success)"
                ) from exc
        typer.echo(f"deleted {name}")

    @metadata_app.command("create", cls=_Command)
    def metadata_create(
        index: Annotated[str, typer.Argument(help="Index name.")],
        property_name: Annotated[str, typer.Argument(help="Metadata property to index.")],
        index_type: Annotated[str, typer.Option("--type", help="string, number or boolean.")] = (
            "string"
        ),
        wait: Annotated[bool, typer.Option(help="Wait until it is in effect.")] = True,
    ) -> None:
        """Index a metadata property so queries can filter on it (only vectors written
        afterwards are filterable)."""
        with _vectorize(index) as db:
            db.create_metadata_index(index, property_name, index_type, wait=wait)
        typer.echo(f"metadata index on {property_name!r} ({index_type}) for {index}")

    @metadata_app.command("list", cls=_Command)
    def metadata_list(index: Annotated[str, typer.Argument(help="Index name.")]) -> None:
        """List the metadata indexes of an index."""
        with _vectorize(index) as db:
            for item in db.list_metadata_indexes(index):
                typer.echo(f"{item.property_name:30} {item.index_type}")

    @metadata_app.command("delete", cls=_Command)
    def metadata_delete(
        index: Annotated[str, typer.Argument(help="Index name.")],
        property_name: Annotated[str, typer.Argument(help="Metadata property.")],
    ) -> None:
        """Remove a metadata index."""
        with _vectorize(index) as db:
            db.delete_metadata_index(index, property_name)
        typer.echo(f"removed the metadata index on {property_name!r} from {index}")

    gateway_app = typer.Typer(
        cls=_Group,
        help="AI Gateway: gateways, their logs and usage statistics.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    app.add_typer(gateway_app, name="gateway")

    @contextmanager
    def _gateways() -> Iterator[AIGatewayClient]:
        """An AI Gateway client on :func:`_connection`."""
        from cloudflare_ai.gateways import AIGatewayClient

        with _connection() as connection, AIGatewayClient(**connection.client_kwargs()) as gw:
            yield gw

    @gateway_app.command("list", cls=_Command)
    def gateway_list() -> None:
        """List the account's gateways and their settings."""
        from rich.table import Table

        with _gateways() as gw:
            found = gw.list_gateways()
        table = Table("gateway", "cache TTL", "logs", "rate limit", "auth", "created")
        for item in found:
            table.add_row(
                item.id,
                f"{item.cache_ttl} s" if item.cache_ttl else "off",
                "on" if item.collect_logs else "off",
                item.rate_limit or "none",
                "yes" if item.authentication else "no",
                f"{item.created_at:%Y-%m-%d %H:%M}" if item.created_at else "-",
            )
        _print_table(table, empty="no gateways yet: cloudflare-ai gateway create ID")

    @gateway_app.command("create", cls=_Command)
    def gateway_create(
        gateway_id: Annotated[str, typer.Argument(help="Gateway id (lower case, digits, -).")],
        cache_ttl: Annotated[
            int | None, typer.Option(help="Cache answers this many seconds (default: off).")
        ] = None,
        invalidate_on_update: Annotated[
            bool, typer.Option(help="Drop cached answers when settings change.")
        ] = False,
        logs: Annotated[bool, typer.Option("--logs/--no-logs", help="Keep request logs.")] = True,
        rate_limit: Annotated[
            int | None, typer.Option(help="At most this many requests per --rate-interval.")
        ] = None,
        rate_interval: Annotated[int, typer.Option(help="Rate-limit window in seconds.")] = 60,
        rate_technique: Annotated[str, typer.Option(help="fixed or sliding window.")] = "fixed",
        authentication: Annotated[
            bool, typer.Option(help="Require cf-aig-authorization on every request.")
        ] = False,
        exist_ok: Annotated[bool, typer.Option(help="Succeed if it already exists.")] = False,
    ) -> None:
        """Create a gateway with cache, logging, rate-limit and authentication settings."""
        if rate_technique not in ("fixed", "sliding"):
            raise typer.BadParameter("use fixed or sliding", param_hint="--rate-technique")
        with _gateways() as gw:
            made = gw.create_gateway(
                gateway_id,
                cache_ttl=cache_ttl,
                cache_invalidate_on_update=invalidate_on_update,
                collect_logs=logs,
                rate_limiting_interval=rate_interval if rate_limit else None,
                rate_limiting_limit=rate_limit,
                rate_limiting_technique=rate_technique,  # type: ignore[arg-type]
                authentication=authentication,
                exist_ok=exist_ok,
            )
        cache = f"cache {made.cache_ttl} s" if made.cache_ttl else "no cache"
        typer.echo(
            f"{made.id}: {cache}, logs {'on' if made.collect_logs else 'off'}, rate limit "
            f"{made.rate_limit or 'none'}, authentication {'on' if made.authentication else 'off'}"
        )

    @gateway_app.command("logs", cls=_Command)
    def gateway_logs(
        gateway_id: Annotated[str, typer.Argument(help="Gateway id.")],
        limit: Annotated[int, typer.Option(min=1, help="Newest logs to show.")] = 20,
        model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
        errors: Annotated[bool, typer.Option("--errors", help="Only failed requests.")] = False,
        cached: Annotated[bool, typer.Option("--cached", help="Only cache hits.")] = False,
        since: Annotated[
            str | None, typer.Option(help="Only this recent: 30m, 12h, 7d ...")
        ] = None,
    ) -> None:
        """Show a gateway's newest requests: model, status, cache, tokens, cost, time."""
        from itertools import islice

        from rich.table import Table

        start = _since(since)
        with _gateways() as gw:
            found = list(
                islice(
                    gw.iter_logs(
                        gateway_id,
                        model=model,
                        success=False if errors else None,
                        cached=True if cached else None,
                        start=start,
                        per_page=min(limit, 50),
                    ),
                    limit,
                )
            )
        table = Table("time (UTC)", "model", "status", "cache", "tokens in/out", "cost $", "ms")
        table.add_column("feedback")
        table.add_column("log id", no_wrap=True)
        for log in found:
            table.add_row(
                f"{log.created_at:%m-%d %H:%M:%S}",
                log.model or "-",
                str(log.status_code or ("ok" if log.success else "error")),
                "HIT" if log.cached else "MISS",
                f"{log.tokens_in or 0}/{log.tokens_out or 0}",
                f"{log.cost:.6f}" if log.cost is not None else "-",
                str(log.duration),
                {1: "+1", -1: "-1"}.get(log.feedback or 0, ""),
                log.id,
            )
        _print_table(table, empty=f"no logs in gateway {gateway_id!r} match")

    @gateway_app.command("stats", cls=_Command)
    def gateway_stats(
        gateway_id: Annotated[str, typer.Argument(help="Gateway id.")],
        since: Annotated[
            str | None, typer.Option(help="Only this recent: 30m, 12h, 7d ... (default: all).")
        ] = None,
    ) -> None:
        """Requests, errors, cache hits, tokens, neurons, cost and latency per model,
        computed from the gateway's logs."""
        from rich.table import Table

        start = _since(since)
        with _gateways() as gw:
            stats = gw.analytics(gateway_id, start=start)
        table = Table("model", "requests", "errors", "cache hits", "tokens in", "tokens out")
        for name in ("neurons", "cost $", "p50 ms", "p95 ms"):
            table.add_column(name, justify="right")
        rows = [*stats.models, stats.total] if stats.models else []
        for row in rows:
            table.add_row(
                "total" if row is stats.total else row.model,
                str(row.requests),
                str(row.errors),
                f"{row.cache_hits} ({row.cache_hit_rate:.0%})",
                str(row.tokens_in),
                str(row.tokens_out),
                f"{row.neurons:.2f}",
                f"{row.cost_usd:.6f}" + (f" + {row.unpriced} unpriced" if row.unpriced else ""),
                f"{row.p50_ms:.0f}" if row.p50_ms is not None else "-",
                f"{row.p95_ms:.0f}" if row.p95_ms is not None else "-",
                end_section=row is stats.models[-1] if stats.models else False,
            )
        _print_table(table, empty=f"no logged requests in gateway {gateway_id!r} for that time")

    @app.command(cls=_Command)
    def ingest(
        paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
        index: Annotated[str, typer.Option(help="Vectorize index (created if missing).")],
        model: Annotated[str, typer.Option(help="Workers AI embedding model.")] = (
            "@cf/baai/bge-base-en-v1.5"
        ),
        chunk_size: Annotated[int, typer.Option(min=1, help="Tokens per chunk.")] = 256,
        chunk_overlap: Annotated[
            int, typer.Option(min=0, help="Tokens shared by neighbours.")
        ] = 32,
        splitter: Annotated[
            str,
            typer.Option(
                help="auto (LlamaIndex's when installed, else built-in), builtin or "
                "llama-index. Chunk ids depend on it: re-ingest with the same one."
            ),
        ] = "auto",
    ) -> None:
        """Read Markdown, text, HTML and PDF files, split, embed and store them. Safe to
        re-run: the same chunk always gets the same id."""
        if splitter not in ("auto", "builtin", "llama-index"):
            raise typer.BadParameter("use auto, builtin or llama-index", param_hint="--splitter")
        if chunk_overlap >= chunk_size:
            raise typer.BadParameter(
                f"must be below --chunk-size ({chunk_size})", param_hint="--chunk-overlap"
            )
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from cloudflare_ai.config import ClientSettings

        from .ingest import find_files, resolve_splitter
        from .ingest import ingest as run_ingest

        total = len(find_files(paths))
        chosen = resolve_splitter(splitter)  # type: ignore[arg-type]
        columns = (
            TextColumn("[bold]ingesting"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} documents"),
            TextColumn("{task.fields[chunks]} chunks"),
            TextColumn("{task.fields[rate]:.0f} chunks/s"),
            TimeElapsedColumn(),
        )
        with _connection() as connection, Progress(*columns, transient=False) as bar:
            task = bar.add_task("ingest", total=total, chunks=0, rate=0.0)

            def report(stats: Any, path: Path | None) -> None:
                rate = stats.vectors_written / stats.seconds if stats.seconds else 0.0
                bar.update(task, completed=stats.documents, chunks=stats.chunks, rate=rate)

            settings = ClientSettings.resolve(**connection.client_kwargs())
            stats = run_ingest(
                paths,
                index,
                settings=settings,
                model=model,
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                splitter=chosen,
                progress=report,
            )
        typer.echo(
            f"{stats.documents} documents → {stats.chunks} chunks → {stats.vectors_written} "
            f"vectors in '{index}' ({stats.requests} requests, {stats.seconds:.1f} s, "
            f"{stats.chunks_per_second:.0f} chunks/s; {stats.splitter} splitter)"
        )

    @app.command(cls=_Command)
    def ask(
        question: Annotated[str, typer.Argument(help="The question.")],
        index: Annotated[str, typer.Option(help="Vectorize index to search.")],
        framework: Annotated[
            str | None,
            typer.Option(
                help="langchain or llama-index (default: langchain when installed, "
                "else llama-index)."
            ),
        ] = None,
        stream: Annotated[bool, typer.Option(help="Print the answer as it arrives.")] = True,
        filter: Annotated[
            str | None, typer.Option(help='Metadata filter as JSON, e.g. {"source": "a.md"}.')
        ] = None,
        top_k: Annotated[int, typer.Option(help="Passages to retrieve.")] = 4,
        model: Annotated[str | None, typer.Option(help="Workers AI text model.")] = None,
        gateway: Annotated[
            str | None,
            typer.Option(
                help="AI Gateway id to send the model calls through (default: "
                "CLOUDFLARE_AI_GATEWAY_ID); see them with 'cloudflare-ai gateway logs'."
            ),
        ] = None,
    ) -> None:
        """Answer a question from an ingested index, with numbered sources."""
        import json

        try:
            parsed = json.loads(filter) if filter else None
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"not JSON: {exc}", param_hint="--filter") from None
        if parsed is not None and not isinstance(parsed, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="--filter")
        chosen = pick_framework(framework)
        from .rag import ask as run_ask

        with _connection(index) as connection:
            answer = run_ask(
                connection,
                index,
                question,
                framework=chosen,  # type: ignore[arg-type]
                top_k=top_k,
                filter=parsed,
                model=model,
                stream=stream,
                gateway=gateway,
            )
            for piece in answer.pieces:
                typer.echo(piece, nl=False)
            typer.echo("")
        if not answer.sources:
            typer.echo("\n(no passages matched; did you ingest into this index?)")
        else:
            typer.echo("\nSources:")
            for source in answer.sources:
                score = f", score {source.score:.3f}" if source.score is not None else ""
                typer.echo(f"  [{source.number}] {source.source} ({source.title}){score}")

    @app.command(
        cls=_Command, context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
    )
    def models(
        ctx: typer.Context,
        deprecated: Annotated[
            bool,
            typer.Option(
                "--deprecated/--no-deprecated", help="Include models Cloudflare deprecates."
            ),
        ] = True,
    ) -> None:
        """The model table: task, dimensions, context window, batch limit, price.

        Name a task to list only its models: cloudflare-ai models text-to-image (or --task
        text-to-image).
        """
        from cloudflare_ai.models import TASKS, list_models

        # The task is read from the extra arguments rather than declared as a str option:
        # Typer 0.26+ validates every non-bool parameter with pydantic, which this quick
        # command must not import (tests/test_startup.py).
        task = _task_argument(list(ctx.args), TASKS)
        found = list_models(task, include_deprecated=deprecated)  # type: ignore[arg-type]
        found.sort(key=lambda info: (TASKS.index(info.task), info.name))
        header = f"{'model':46} {'task':28} {'dims':>5} {'context':>8} {'batch':>5}  price, notes"
        typer.echo(header)
        for info in found:
            typer.echo(
                f"{info.name:46} {info.task:28} {info.dimensions or '-':>5} "
                f"{info.context_window or '-':>8} {info.max_batch or '-':>5}  {_model_notes(info)}"
            )


def _task_argument(args: list[str], tasks: tuple[str, ...]) -> str | None:
    """The task of ``cloudflare-ai models [TASK | --task TASK]``, checked; None when not given."""
    if args == ["--task"]:
        raise CommandError("models: --task needs a task name", exit_code=2)
    if args and args[0] == "--task":
        args = args[1:]
    elif args and args[0].startswith("--task="):
        args = [args[0].removeprefix("--task="), *args[1:]]
    if not args:
        return None
    if len(args) > 1 or args[0].startswith("-"):
        raise CommandError(f"models: unexpected arguments {' '.join(args)}", exit_code=2)
    if args[0] not in tasks:
        raise CommandError(f"unknown task {args[0]!r}; tasks: {', '.join(tasks)}", exit_code=2)
    return args[0]


_TOKEN_UNITS = ("per M input tokens", "per M output tokens")


def _price_text(prices: Any) -> str:
    """The USD prices of a model (the older neuron rates when it has none), in one line."""
    for currency, sign, suffix in (("USD", "$", ""), ("neurons", "", " neurons")):
        rows = [p for p in prices if p.currency == currency]
        if not rows:
            continue
        parts = []
        tokens = [next((p for p in rows if p.unit == unit), None) for unit in _TOKEN_UNITS]
        if tokens[0] is not None:
            out = f" / {sign}{tokens[1].price:g} out" if tokens[1] is not None else ""
            parts.append(f"{sign}{tokens[0].price:g} in{out}{suffix} per M tokens")
        parts += [f"{sign}{p.price:g}{suffix} {p.unit}" for p in rows if p.unit not in _TOKEN_UNITS]
        return "; ".join(parts)
    return "-"


def _model_notes(info: Any) -> str:
    """Prices and flags of one ``ModelInfo`` for ``cloudflare-ai models``."""
    notes = [_price_text(info.prices)]
    if info.output_content_type:
        notes.append(info.output_content_type)
    if info.beta:
        notes.append("beta")
    if info.deprecated:
        notes.append(f"deprecated {info.deprecation_date or ''}".rstrip())
    if info.source == "workers-types":
        notes.append("types only" if info.has_schema else "name only")
    return ", ".join(notes)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _since(text: str | None) -> Any:
    """The UTC time ``text`` ("30m", "12h", "7d") ago, or None."""
    if text is None:
        return None
    from datetime import UTC, datetime, timedelta

    amount, unit = text[:-1], text[-1:].lower()
    if unit not in _UNITS or not amount.isdigit():
        raise CommandError(f"--since: use a number and s, m, h, d or w (e.g. 24h), not {text!r}", 2)
    return datetime.now(UTC) - timedelta(seconds=int(amount) * _UNITS[unit])


def _print_table(table: Any, empty: str) -> None:
    """Print a Rich table (wide enough for model names when not on a terminal), or ``empty``
    when it has no rows."""
    if not table.row_count:
        typer.echo(empty)
        return
    from rich.console import Console

    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _usage_error_class() -> type[Exception]:
    """Click's ``ClickException``, wherever this Typer keeps it (Typer 0.26+ vendors Click)."""
    assert typer is not None
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main() -> None:
    """Entry point of the ``cloudflare-ai`` script."""
    if typer is None:  # pragma: no cover
        print("cloudflare-ai: the command line needs: pip install 'cloudflare-ai[cli]'")
        sys.exit(2)
    try:
        code = app(standalone_mode=False)
    except CommandError as exc:
        if _state["debug"]:
            raise
        print(f"cloudflare-ai: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        if isinstance(exc, _usage_error_class()):  # usage errors: say what was wrong, exit 2
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if _state["debug"]:
            raise
        from cloudflare_ai.errors import CloudflareError, ConfigurationError

        described = str(exc) if isinstance(exc, CloudflareError) else f"{type(exc).__name__}: {exc}"
        print(f"cloudflare-ai: {described}", file=sys.stderr)
        if not isinstance(exc, ConfigurationError):  # settings to fix: a traceback adds nothing
            print("  (run with --debug for the full traceback)", file=sys.stderr)
        sys.exit(1)
    if isinstance(code, int) and code:  # a typer.Exit(code) inside a command
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
