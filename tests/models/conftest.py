"""The real local models (``engine="models"``): one emulator per test module, started with
them. Loading the three models takes a few seconds, once per process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    from cloudflare_ai_local import LocalCloudflare

    with LocalCloudflare(engine="models") as cf:
        yield cf
