"""Start-up cost: what gets imported, checked by module name rather than by the clock (timings
are flaky on shared machines). Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import cloudflare_ai

#: Imported by the clients, not needed to list names or models.
HEAVY = ("httpx", "numpy", "pydantic", "orjson")


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
