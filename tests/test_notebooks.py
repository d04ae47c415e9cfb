"""The tutorial notebooks in notebooks/ run top to bottom on the local emulator.

Each notebook is executed in a fresh Jupyter kernel with nbclient. The kernel is a separate
process, so pytest's network blocking does not reach it; instead every ``CLOUDFLARE_*`` and
``CF_*`` variable is removed from the kernel's environment, which makes
``cloudflare_or_local()`` start the emulator on loopback even on a machine with credentials
set. The first cell that raises fails the test with that cell's traceback. The notebooks on
disk are not modified and their stored outputs are not compared (they hold ports, ids and
timings); a second test only checks that what is stored came from a clean top-to-bottom run.

To refresh the stored outputs after editing a notebook, run the same execution and save it:
``.venv/bin/python -m tests.test_notebooks [notebooks/NN_name.ipynb ...]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import ipykernel  # noqa: F401  - the notebooks' kernel; a missing one must fail, not skip
import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 120  # seconds for any one cell

# The kernel must be this interpreter (the venv's): "python3" resolves to sys.executable only
# when no other "python3" kernelspec shadows it, so a first, extra cell checks it.
KERNEL_CHECK = f"import sys\nassert sys.prefix == {sys.prefix!r}, sys.executable"


def _kernel_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "CF_"))}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiet debugpy's frozen-modules warning
    env.update(extra or {})
    return env


def execute(path: Path, env: dict[str, str] | None = None) -> Any:
    """The notebook at ``path`` run top to bottom on the emulator, as stored outputs would be;
    raises ``nbclient.exceptions.CellExecutionError`` at the first failing cell. ``env`` adds
    variables to the kernel's environment (after the ``CLOUDFLARE_*`` ones are removed)."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(KERNEL_CHECK))
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        coalesce_streams=True,  # one output per stream, not one per streamed token
        record_timing=False,  # no timestamps in the stored cells
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=_kernel_env(env))
    del notebook.cells[0]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.execution_count -= 1
            for output in cell.outputs:
                if "execution_count" in output:
                    output["execution_count"] -= 1
    return notebook


def test_there_are_seven_notebooks() -> None:
    assert [p.name[:2] for p in PATHS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_on_the_emulator(path: Path) -> None:
    execute(path)


def _printed(notebook: Any) -> str:
    return "".join(
        str(output.get("text", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


@pytest.mark.timeout(300)
def test_the_rag_notebook_runs_on_real_local_models_and_says_so() -> None:
    """Notebook 01 with CLOUDFLARE_AI_LOCAL_ENGINE=models: MiniLM embeds, SmolLM2 answers,
    and the notebook prints both names (the default run prints the deterministic ones)."""
    printed = _printed(execute(PATHS[0], {"CLOUDFLARE_AI_LOCAL_ENGINE": "models"}))
    assert "answering with real small local models" in printed
    answered = [line for line in printed.splitlines() if line.startswith("Answered by:")]
    assert len(answered) == 2
    assert "all-MiniLM-L6-v2" in answered[-1]
    assert "SmolLM2-135M-Instruct" in answered[-1]
    assert "feature-hash" not in answered[-1]
    assert "extractive-answerer" not in answered[-1]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_stored_outputs_come_from_a_clean_run(path: Path) -> None:
    """Refresh a notebook's outputs after editing it (see the module docstring)."""
    notebook = nbformat.read(path, as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: cells run out of order"
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: stored error output"


if __name__ == "__main__":
    for arg in sys.argv[1:] or PATHS:
        started = time.perf_counter()
        nbformat.write(execute(Path(arg).resolve()), arg)
        print(f"{Path(arg).name}: executed and saved in {time.perf_counter() - started:.1f} s")
