"""The repository stands alone: no tracked file names a path outside it.

A user's clone has nothing beside it, so code, tests, notebooks, benchmarks and build files
must not read from a sibling folder (the research notes the reference data was copied from),
from an absolute path on the machine that wrote them, or through ``..`` segments that climb
above the repository root. Third-party data the tests need lives in ``tests/reference/``.

URLs are fine; only filesystem paths are checked. ``cassettes/`` is not scanned: it holds
recorded HTTP exchanges whose URIs are rewritten to Cloudflare's canonical hosts.

The patterns below are assembled from pieces (``_SEP``, ``_UP``) so that this file, which is
scanned like every other, does not contain the strings it looks for.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from tests.conftest import ROOT

#: Top-level folders and files that are scanned (``git ls-files`` paths).
SCANNED_DIRS = ("src/", "tests/", "benchmarks/", "notebooks/", ".ci/")
SCANNED_FILES = ("Makefile", "pyproject.toml", "README.md")
#: Folders never scanned even when tracked (see the module docstring).
SKIPPED_DIRS = ("cassettes/",)
#: Folders skipped when walking the tree without git.
_UNTRACKED = {".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}

_SEP = "/"
_UP = "." + "."  # the parent-directory segment
_Q = "[\"']"  # a quote, for paths composed with pathlib's ``/``
_PARENT = "parent"
_SHARED = "shared"

#: (name, pattern) of every path that points outside the repository, whatever the file's place.
OUTSIDE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "sibling shared folder",
        re.compile(re.escape(_UP) + r"[/\\]" + _SHARED + r"\b"),
    ),
    (
        "shared reference folder",
        re.compile(_SHARED + rf"(?:{_Q}\s*/\s*{_Q}|[/\\])" + "reference"),
    ),
    (
        "parent of the repository root",
        re.compile(r"\b(?:ROOT|REPO_ROOT|repo_root)\.parent\b"),
    ),
    (
        "absolute path under " + _SEP + "work",
        re.compile(r"(?<![\w.:/-])" + re.escape(_SEP + "work" + _SEP)),
    ),
    (
        "absolute home path",
        re.compile(
            r"(?<![\w.:/-])"
            + re.escape(_SEP)
            + "(?:"
            + "|".join(["root", "home", "Users"])
            + ")"
            + re.escape(_SEP)
        ),
    ),
    (
        "absolute Windows home path",
        re.compile(r"\b[A-Za-z]:\\\\?" + "Users" + r"\\"),
    ),
)

#: URLs, removed from a line before it is checked.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S*")

#: A relative path with at least one parent segment, e.g. ``a/b/<up>/<up>/c``.
_RELATIVE_PATH = re.compile(
    r"(?<![\w.:/\\-])(?:[\w.-]+[/\\])*" + re.escape(_UP) + r"[/\\][\w.\-/\\]*"
)


def climbs_above_root(token: str, file_dir: PurePosixPath) -> bool:
    """Whether ``token``, read relative to ``file_dir`` (relative to the repository root),
    leaves the repository."""
    depth = len(file_dir.parts)
    for segment in re.split(r"[/\\]", token):
        if segment == _UP:
            depth -= 1
            if depth < 0:
                return True
        elif segment not in ("", "."):
            depth += 1
    return False


def problems_in_text(text: str, rel_path: str) -> list[str]:
    """Every place in ``text`` (the content of ``rel_path``) that names a path outside the
    repository, as ``path:line: reason: excerpt``."""
    file_dir = PurePosixPath(rel_path).parent
    found = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = _URL.sub(" ", raw_line)
        reasons = [name for name, pattern in OUTSIDE_PATTERNS if pattern.search(line)]
        reasons += [
            f"{match.group(0)!r} climbs above the repository root"
            for match in _RELATIVE_PATH.finditer(line)
            if climbs_above_root(match.group(0), file_dir)
        ]
        found += [f"{rel_path}:{number}: {reason}: {raw_line.strip()[:160]}" for reason in reasons]
    return found


def _in_scope(rel_path: str) -> bool:
    if rel_path.startswith(SKIPPED_DIRS):
        return False
    return rel_path in SCANNED_FILES or rel_path.startswith(SCANNED_DIRS)


def repository_files(root: Path = ROOT) -> list[str]:
    """Tracked files (``git ls-files``), or every file outside caches and ``.venv`` when the
    tree is not a git checkout; paths relative to ``root``, with ``/`` separators."""
    git = shutil.which("git")
    if git is not None and (root / ".git").exists():
        listed = subprocess.run(  # noqa: S603 (fixed arguments)
            [git, "-C", str(root), "ls-files", "-z"], capture_output=True, check=True
        )
        return [name for name in listed.stdout.decode("utf-8").split("\0") if name]
    return sorted(_walk(root, root))


def _walk(root: Path, folder: Path) -> Iterator[str]:
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name not in _UNTRACKED:
                yield from _walk(root, entry)
        elif entry.is_file():
            yield entry.relative_to(root).as_posix()


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary file (a NUL byte, or not UTF-8)."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --- the scanner finds what it should, and only that ---------------------------------------


@pytest.mark.parametrize(
    ("text", "rel_path"),
    [
        (f"REFERENCE = '{_UP}{_SEP}shared{_SEP}reference'", "tests/conftest.py"),
        (f'REFERENCE = ROOT.{_PARENT} / "{_SHARED}" / "reference"', "tests/conftest.py"),
        (f"spec = REPO_ROOT.{_PARENT} / 'spec.json'", "tests/contract/check.py"),
        (f'Path("{_SEP}work{_SEP}shared{_SEP}reference{_SEP}x.json")', "tests/local/t.py"),
        (f"cache = '{_SEP}root{_SEP}.cache{_SEP}x'", "src/cloudflare_ai/x.py"),
        (f"open('{_SEP}home{_SEP}someone{_SEP}data.csv')", "benchmarks/run.py"),
        (f'"source": ["{_SEP}Users{_SEP}me{_SEP}notes.txt"]', "notebooks/01.ipynb"),
        (f"data = {_UP}{_SEP}elsewhere{_SEP}x.json", "Makefile"),
        (f"p = '{_UP}{_SEP}{_UP}{_SEP}{_UP}{_SEP}outside.json'", "tests/unit/t.py"),
        (f"p = 'tests{_SEP}{_UP}{_SEP}{_UP}{_SEP}{_UP}{_SEP}outside'", "benchmarks/run.py"),
    ],
)
def test_scanner_catches_paths_outside_the_repository(text: str, rel_path: str) -> None:
    assert problems_in_text(text, rel_path), text


@pytest.mark.parametrize(
    ("text", "rel_path"),
    [
        (f'extend = "{_UP}{_SEP}{_UP}{_SEP}pyproject.toml"', "src/cloudflare_ai_local/ruff.toml"),
        (f"see {_UP}{_SEP}README.md", "tests/reference/README.md"),
        ("GET .../indexes/{name}/list (a newer route)", "tests/contract/openapi_check.py"),
        # a URL whose path looks like a machine path (built from pieces, like the patterns)
        ("https://example.com/work/sha" + "red/reference/root/x", "tests/reference/README.md"),
        ("default ~/.cache/cloudflare-ai/local", "src/cloudflare_ai_app/cli.py"),
        ('REFERENCE = ROOT / "tests" / "reference"', "tests/conftest.py"),
        ("from ..models import get_model", "src/cloudflare_ai/langchain/x.py"),
        ("weights shared by the whole session", "tests/langchain/t.py"),
    ],
)
def test_scanner_allows_paths_inside_the_repository(text: str, rel_path: str) -> None:
    assert problems_in_text(text, rel_path) == []


def test_scanner_reports_file_and_line() -> None:
    text = f"ok\nREF = '{_SEP}work{_SEP}x'\n"
    (problem,) = problems_in_text(text, "tests/x.py")
    assert problem.startswith("tests/x.py:2: ")


# --- the repository itself -------------------------------------------------------------------


def test_this_file_is_scanned_and_does_not_trip_on_its_own_patterns() -> None:
    assert _in_scope("tests/test_repository.py")
    own = Path(__file__).read_text(encoding="utf-8")
    assert problems_in_text(own, "tests/test_repository.py") == []


def test_the_scan_covers_the_repository() -> None:
    scanned = [name for name in repository_files() if _in_scope(name)]
    assert "tests/conftest.py" in scanned
    assert "Makefile" in scanned
    assert any(name.startswith("src/cloudflare_ai/") for name in scanned)
    assert not any(name.startswith("cassettes/") for name in scanned)


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    problems = []
    for name in repository_files():
        if not _in_scope(name):
            continue
        path = ROOT / name
        if not path.is_file():  # deleted in the working tree but still in the index
            continue
        text = read_text(path)
        if text is not None:
            problems += problems_in_text(text, name)
    assert not problems, "paths outside the repository:\n" + "\n".join(problems)


def test_reference_data_is_in_the_repository() -> None:
    reference = ROOT / "tests" / "reference"
    assert (reference / "README.md").is_file()
    assert (reference / "cloudflare-openapi-ai-vectorize.json").is_file()
    assert len(list((reference / "recorded" / "chatlas-openai-compat").glob("*.yaml"))) == 4
    assert (reference / "workers-ai-models" / "catalog.json").is_file()
    assert (reference / "workers-ai-models" / "workers-types-ai.d.ts").is_file()
