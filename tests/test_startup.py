"""Start-up cost: what gets imported, checked by module name rather than by the clock (timings
are flaky on shared machines). Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import cloudflare_ai

#: Imported by the clients, not needed to list names or models.
HEAVY = ("httpx", "numpy", "pydantic", "orjson")
#: Imported only by the functions that check or read media and validate task inputs.
ON_USE = ("PIL", "jsonschema")


def loaded_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


def test_importing_the_package_loads_nothing_heavy() -> None:
    loaded = loaded_after("import cloudflare_ai")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_clients_load_pillow_and_jsonschema_only_when_a_task_needs_them() -> None:
    loaded = loaded_after(
        "import cloudflare_ai as cf\n"
        "client = cf.WorkersAIClient(account_id='a' * 32, api_token='t')\n"
        "cf.AsyncWorkersAIClient(account_id='a' * 32, api_token='t')\n"
        "cf.ImageResult, cf.Transcription, cf.BinaryResult, cf.MediaInput\n"
        "import cloudflare_ai.tasks, cloudflare_ai.media"
    )
    assert not loaded & set(ON_USE), loaded & set(ON_USE)


def test_the_model_table_needs_no_http_client() -> None:
    loaded = loaded_after(
        "from cloudflare_ai import require_model\n"
        "assert require_model('@cf/baai/bge-base-en-v1.5').dimensions == 768"
    )
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_every_exported_name_resolves_and_is_listed() -> None:
    for name in cloudflare_ai.__all__:
        assert getattr(cloudflare_ai, name) is not None, name
    assert set(cloudflare_ai.__all__) <= set(dir(cloudflare_ai))
    from cloudflare_ai.vectorize import VectorizeClient

    assert cloudflare_ai.VectorizeClient is VectorizeClient


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        cloudflare_ai.NoSuchThing  # noqa: B018


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from cloudflare_ai import *", namespace)  # noqa: S102
    assert set(cloudflare_ai.__all__) <= set(namespace)


# --- the command line ----------------------------------------------------------------------

#: Not needed to print help or the model table.
CLI_UNNEEDED = (
    *HEAVY,
    *ON_USE,
    "rich",
    "cloudflare_ai_local",
    "uvicorn",
    "starlette",
    "langchain_core",
    "llama_index",
)


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``cloudflare-ai ARGS`` in a fresh interpreter, and the top-level modules it loaded."""
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print('MODULES', json.dumps(sorted(sys.modules)), "
        "file=sys.stderr))\n"
        f"sys.argv = ['cloudflare-ai', *{list(args)!r}]\n"
        "from cloudflare_ai_app.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return done, {name.split(".")[0] for name in json.loads(line.removeprefix("MODULES "))}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], ["Usage: cloudflare-ai", "serve", "ingest", "ask", "models", "index"]),
        (["models"], ["@cf/baai/bge-base-en-v1.5", "768", "text-embeddings"]),
        (["models", "--task", "text-to-image"], ["@cf/lykon/dreamshaper-8-lcm", "image/png"]),
        (["models", "--help"], ["Usage: cloudflare-ai models"]),
        (["serve", "--help"], ["--token", "CLOUDFLARE_AI_LOCAL_TOKEN"]),
        (["ask", "--help"], ["--framework"]),
        (["index", "--help"], ["create", "metadata"]),
        (["gateway", "--help"], ["list", "create", "logs", "stats"]),
        (["gateway", "logs", "--help"], ["--since", "--errors"]),
    ],
)
def test_help_and_the_model_table_import_nothing_heavy(
    args: list[str], expected: list[str]
) -> None:
    done, loaded = run_cli(*args)
    assert done.returncode == 0, done.stderr
    for text in expected:
        assert text in done.stdout
    assert not loaded & set(CLI_UNNEEDED), loaded & set(CLI_UNNEEDED)


def test_the_installed_script_runs() -> None:
    script = Path(sys.executable).with_name("cloudflare-ai")
    if not script.exists():
        pytest.skip("the cloudflare-ai script is not installed next to this interpreter")
    done = subprocess.run(  # noqa: S603 - the package's own entry point
        [str(script), "models"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "@cf/baai/bge-base-en-v1.5" in done.stdout
