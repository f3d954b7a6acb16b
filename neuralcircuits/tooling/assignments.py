"""Assignments a teacher can grade: ``make assignments`` writes an nbgrader course.

``python -m neuralcircuits.tooling.assignments [--out build/assignments]`` turns
each solutions/NN_name.py (the single source) into the nbgrader *source*
notebook of an assignment named NN_name, then runs ``nbgrader
generate_assignment`` to write the student version into release/:

- each exercise cell (its ``# BEGIN SOLUTION`` / ``# END SOLUTION`` block) is
  an nbgrader solution cell: nbgrader replaces the block by a stub;
- each check cell is an autograded test cell worth the exercise's difficulty
  in points (●○○ 1, ●●○ 2, ●●● 3): a check that passes gets them all, one
  that names a mistake (or meets a stub) gets none;
- every other cell (the story, the library's code) is locked: read-only;
- cells tagged ``solution`` are left out, as they are of lessons/.

The folder is an nbgrader course directory with its nbgrader_config.py: a
teacher releases, collects and autogrades from there (README, "Teaching").
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat

from neuralcircuits.tooling.paths import BUILD, REPO, SOLUTIONS, lesson_scripts

ASSIGNMENTS = BUILD / "assignments"
COURSE_ID = "neural-circuits"
STUB = (
    'raise NotImplementedError("Exercise: write this here, then run the check below.")'
)

CONFIG = f'''\
# nbgrader configuration of the Neural Circuits course, written by
# neuralcircuits/tooling/assignments.py (`make assignments`).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "{COURSE_ID}"
c.CourseDirectory.root = __file__.rsplit("/", 1)[0]
# The course marks exercises with "# BEGIN SOLUTION" / "# END SOLUTION".
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {{"python": {STUB!r}}}
# Lessons train small models: give each cell time on a shared hub.
c.ExecutePreprocessor.timeout = 900
c.Execute.timeout = 900
'''

POINTS = re.compile(r"Difficulty\W*?([●○]+)")


def points_of(markdown: str) -> int:
    """The points of an exercise: the filled dots of its difficulty (at least 1)."""
    match = POINTS.search(markdown)
    return max(1, match[1].count("●")) if match else 1


def _meta(
    grade_id: str, *, solution=False, grade=False, locked=False, points=None
) -> dict:
    meta = {
        "grade_id": grade_id,
        "solution": solution,
        "grade": grade,
        "locked": locked,
        "schema_version": 3,
    }
    if points is not None:
        meta["points"] = points
    return meta


def source_notebook(script: Path):
    """The nbgrader source notebook of a solution script."""
    notebook = jupytext.read(script)
    cells: list = []
    exercises: dict[str, tuple[int, int]] = {}
    last_markdown = ""
    for index, cell in enumerate(notebook.cells):
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            continue
        if cell.cell_type == "markdown":
            last_markdown = cell.source
            cell.metadata["nbgrader"] = _meta(f"story_{index:03d}", locked=True)
        elif "exercise" in tags:
            number = len(exercises) + 1
            name = re.search(r"^def (\w+)", cell.source, re.M)
            exercises[name[1] if name else f"exercise {number}"] = (
                number,
                points_of(last_markdown),
            )
            cell.metadata["nbgrader"] = _meta(f"exercise_{number:02d}", solution=True)
        elif "check" in tags:
            # A check grades the exercise whose function it is given, which
            # need not be the last one written (a prediction is checked later).
            called = re.findall(r"\w+", cell.source.split("(", 1)[-1])
            number, points = next(
                (exercises[n] for n in called if n in exercises),
                (len(exercises), points_of(last_markdown)),
            )
            cell.metadata["nbgrader"] = _meta(
                f"check_{number:02d}", grade=True, locked=True, points=points
            )
            if "raises-exception" not in tags:  # Run All goes on past a failed check
                cell.metadata["tags"] = [*tags, "raises-exception"]
        else:
            cell.metadata["nbgrader"] = _meta(f"code_{index:03d}", locked=True)
        cells.append(cell)
    notebook.cells = cells
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


def max_points(notebook) -> int:
    """The points of a notebook: the sum over its graded nbgrader cells."""
    return sum(
        c.metadata["nbgrader"].get("points", 0)
        for c in notebook.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course directory; raise with its output on failure."""
    # nbgrader runs `alembic` (its database migrations) from PATH: the venv's bin/.
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}"
            f"{done.stderr[-3000:]}"
        )
    return done


def write_course(
    out: Path = ASSIGNMENTS, scripts: list[Path] | None = None
) -> list[str]:
    """Write the nbgrader course folder (config and source/); return the assignment names."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(CONFIG)
    names = []
    for script in scripts or lesson_scripts(SOLUTIONS):
        folder = out / "source" / script.stem
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(script), folder / f"{script.stem}.ipynb")
        names.append(script.stem)
    return names


def generate(out: Path = ASSIGNMENTS, scripts: list[Path] | None = None) -> list[str]:
    """Write the course and the student version of every assignment (release/)."""
    names = write_course(out, scripts)
    for name in names:
        nbgrader("generate_assignment", name, "--force", "--create", cwd=out)
    return names


def main(argv: list[str] | None = None) -> int:
    """Command line: write the nbgrader course (--out); return the exit status."""
    parser = argparse.ArgumentParser(
        description="Write the nbgrader course of the lessons."
    )
    parser.add_argument("--out", type=Path, default=ASSIGNMENTS)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        names = generate(args.out)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name in names:
        source = nbformat.read(
            args.out / "source" / name / f"{name}.ipynb", as_version=4
        )
        print(f"  {name}: {max_points(source)} points")
    where = args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out
    print(
        f"{len(names)} assignments in {where}/ (source/ and release/) "
        f"in {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
