"""Turn the lesson scripts into notebooks, and run them.

The jupytext scripts in solutions/ and lessons/ are the source; notebooks are
generated under build/. ``python -m neuralcircuits.tooling.notebooks DEST`` writes
DEST/solutions/*.ipynb and DEST/lessons/*.ipynb (for nbval, Colab, VS Code).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat

from neuralcircuits.tooling.paths import BUILD, LESSONS, SOLUTIONS, lesson_scripts


def to_notebook(script: Path, dest_dir: Path) -> Path:
    """Write `script` as an unexecuted .ipynb into dest_dir; return its path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / f"{script.stem}.ipynb"
    nbformat.write(jupytext.read(script), out)
    return out


def execute(notebook_path: Path, out_path: Path, timeout: int = 900) -> float:
    """Execute a notebook in the folder it is saved to, save it with outputs; return seconds taken.

    The kernel runs where the result is saved, so relative links the notebook
    writes (its video) resolve from where it is opened.
    """
    from nbclient import NotebookClient

    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(out_path.parent)}},
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        nbformat.write(notebook, out_path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Command line: write .ipynb copies of solutions and lessons into a folder; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else BUILD / "notebooks"
    for folder in (SOLUTIONS, LESSONS):
        for script in lesson_scripts(folder):
            to_notebook(script, dest / folder.name)
    print(f"notebooks written to {dest}/solutions and {dest}/lessons")
    return 0


if __name__ == "__main__":
    sys.exit(main())
