"""Generate the learner's lessons/ from the full lessons in solutions/.

The solution file is the single source. In it:

* lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` become one stub,
  ``raise NotImplementedError(...)``, that names the exercise (the enclosing
  function, or the name written after ``BEGIN SOLUTION``);
* a cell tagged ``solution`` is left out of the lesson;
* a cell tagged ``check`` (the check call after an exercise) is also tagged
  ``raises-exception`` in the lesson, where it fails until the exercise is
  done; the rest of the lesson still runs top to bottom.

Each generated lesson carries a fingerprint of its cells in its header
(``neuralcircuits: generated_sha256``). A lesson whose cells no longer match
their fingerprint has been edited by a learner and is never overwritten unless
asked (``make lessons FORCE=1``); even then a copy is kept in
``build/lesson-backups/``.

Opening a lesson must not make it "edited". JupyterLab (through jupytext)
rewrites a lesson's header when it saves it: a ``jupytext:`` block, the
display name of the kernel it ran. So a lesson is generated in exactly the
form JupyterLab writes back (jupytext's own writer, the kernel ``make setup``
installs), and only the cells count: the fingerprint covers the text after
the header, and a lesson whose cells are what the solution generates is
up to date whatever its header says.

Run ``python -m neuralcircuits.tooling.lessongen [--force] [--check]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jupytext

from neuralcircuits.tooling.paths import BUILD, LESSONS, SOLUTIONS, lesson_scripts

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION\b\s*(?P<name>\S*)")
END = re.compile(r"^\s*# END SOLUTION\b")
DEF = re.compile(r"^(?P<indent>\s*)(?:async\s+)?def\s+(?P<name>\w+)")
CELL = re.compile(r"^# %%(?P<rest>.*)$")
TAGS = re.compile(r"tags=(?P<tags>\[[^\]]*\])")
FINGERPRINT = re.compile(
    r"^#   neuralcircuits:\n#     generated_sha256: (?P<digest>[0-9a-f]{64})\n", re.M
)
HEADER_END = "# ---\n"
FORMAT = "py:percent"
# The kernel `make setup` installs (Makefile: ipykernel install --name python3):
# JupyterLab writes its display name into the header of a lesson it saves.
KERNELSPEC = {
    "display_name": "Python 3 (Neural Circuits)",
    "language": "python",
    "name": "python3",
}


class LessonGenError(ValueError):
    """A solution file whose exercise markers do not pair up."""


def _cell_tags(header: str) -> list[str]:
    match = TAGS.search(header)
    return json.loads(match["tags"]) if match else []


def _with_tags(header: str, tags: list[str]) -> str:
    text = "tags=" + json.dumps(tags)
    if TAGS.search(header):
        return TAGS.sub(lambda _: text, header)
    return f"{header} {text}"


def _split_cells(lines: list[str]) -> list[list[str]]:
    """Split a percent script into [preamble, cell, cell, ...], each a list of lines."""
    cells: list[list[str]] = [[]]
    for line in lines:
        if CELL.match(line):
            cells.append([])
        cells[-1].append(line)
    return cells


def _stub(indent: str, name: str) -> str:
    what = f"`{name}`" if name else "this exercise"
    return (
        f'{indent}raise NotImplementedError("Exercise: write {what} here, '
        f'then run the check below.")\n'
    )


def _blank_solutions(lines: list[str], source: str) -> list[str]:
    """Replace every BEGIN/END SOLUTION block by a stub naming its exercise."""
    out: list[str] = []
    enclosing: list[tuple[int, str]] = []  # (indent, function name), innermost last
    block_start: int | None = None
    for number, line in enumerate(lines, 1):
        if block_start is not None:
            if END.match(line):
                block_start = None
            elif BEGIN.match(line):
                raise LessonGenError(
                    f"{source}:{number}: BEGIN SOLUTION inside another"
                )
            continue
        if (match := DEF.match(line)) is not None:
            depth = len(match["indent"])
            enclosing = [(d, n) for d, n in enclosing if d < depth]
            enclosing.append((depth, match["name"]))
        if (match := BEGIN.match(line)) is not None:
            depth = len(match["indent"])
            owners = [n for d, n in enclosing if d < depth]
            name = match["name"] or (owners[-1] if owners else "")
            out.append(_stub(match["indent"], name))
            block_start = number
            continue
        if END.match(line):
            raise LessonGenError(f"{source}:{number}: END SOLUTION without BEGIN")
        out.append(line)
    if block_start is not None:
        raise LessonGenError(f"{source}:{block_start}: BEGIN SOLUTION is never closed")
    return out


def cells_text(text: str) -> str:
    """The lesson's cells: its text after the jupytext header, trailing spaces dropped."""
    if text.startswith(HEADER_END) and HEADER_END in text[len(HEADER_END) :]:
        text = text[text.index(HEADER_END, len(HEADER_END)) + len(HEADER_END) :]
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _fingerprint(text: str) -> str:
    return hashlib.sha256(cells_text(text).encode()).hexdigest()


def _legacy_fingerprint(text: str) -> str:
    # Lessons generated before the cells-only fingerprint hashed the whole text.
    return hashlib.sha256(FINGERPRINT.sub("", text).encode()).hexdigest()


def _stamp(text: str) -> str:
    """Write the lesson as JupyterLab saves it, with its cells' fingerprint in the header."""
    if not text.startswith(HEADER_END) or HEADER_END not in text[6:]:
        raise LessonGenError("a solution must start with a jupytext header (# ---)")
    notebook = jupytext.reads(text, fmt=FORMAT)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata.pop("neuralcircuits", None)
    cells = jupytext.writes(notebook, fmt=FORMAT)
    notebook.metadata["neuralcircuits"] = {"generated_sha256": _fingerprint(cells)}
    # jupytext keeps a header key only if told to; it adds this line itself
    # on the first save, so the lesson carries it from the start.
    notebook.metadata.setdefault("jupytext", {})["notebook_metadata_filter"] = (
        "neuralcircuits"
    )
    lesson = jupytext.writes(notebook, fmt=FORMAT)
    if cells_text(lesson) != cells_text(cells):  # the header must not touch the cells
        raise LessonGenError("jupytext changed the cells while writing the header")
    return lesson


def generate(solution_text: str, source: str = "<solution>") -> str:
    """Return the learner's lesson generated from a solution script's text."""
    cells = _split_cells(solution_text.splitlines(keepends=True))
    kept: list[str] = list(cells[0])
    for cell in cells[1:]:
        match = CELL.match(cell[0])
        assert match is not None  # _split_cells starts every cell at its header
        header = match["rest"]
        tags = _cell_tags(header)
        if "solution" in tags:
            continue
        if "check" in tags and "raises-exception" not in tags:
            cell = [
                f"# %%{_with_tags(header, [*tags, 'raises-exception'])}\n",
                *cell[1:],
            ]
        kept.extend(cell)
    text = "".join(_blank_solutions(kept, source))
    # A dropped cell can leave a run of blank lines: keep at most two.
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return _stamp(text)


def has_local_edits(lesson_text: str) -> bool:
    """True when a lesson's cells no longer match the fingerprint it was generated with."""
    match = FINGERPRINT.search(lesson_text)
    return match is None or match["digest"] not in (
        _fingerprint(lesson_text),
        _legacy_fingerprint(lesson_text),
    )


def same_cells(lesson_text: str, wanted: str) -> bool:
    """True when a lesson has exactly the cells generated (its header may differ)."""
    return cells_text(lesson_text) == cells_text(wanted)


@dataclass
class Outcome:
    """What sync_lesson did to one lesson file."""

    lesson: Path
    action: str  # "written", "unchanged", "kept" (local edits) or "stale" (check mode)


def sync_lesson(
    solution: Path,
    lessons_dir: Path = LESSONS,
    force: bool = False,
    check: bool = False,
    backups: Path = BUILD / "lesson-backups",
) -> Outcome:
    """Bring one lesson up to date with its solution, never losing a learner's edits."""
    lesson = lessons_dir / solution.name
    wanted = generate(solution.read_text(), source=str(solution))
    current = lesson.read_text() if lesson.exists() else None
    if (
        current is not None
        and same_cells(current, wanted)
        and (current == wanted or not force)
    ):
        return Outcome(lesson, "unchanged")  # a header JupyterLab rewrote is left alone
    if check:
        return Outcome(lesson, "stale")
    if (
        current is not None
        and not same_cells(current, wanted)
        and has_local_edits(current)
    ):
        if not force:
            return Outcome(lesson, "kept")
        backups.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        shutil.copy2(lesson, backups / f"{lesson.stem}.{stamp}{lesson.suffix}")
    lessons_dir.mkdir(parents=True, exist_ok=True)
    lesson.write_text(wanted)
    return Outcome(lesson, "written")


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate lessons/ from solutions/ (--force, --check); return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite edited lessons")
    parser.add_argument("--check", action="store_true", help="only report drift")
    args = parser.parse_args(argv)
    status = 0
    for solution in lesson_scripts(SOLUTIONS):
        try:
            outcome = sync_lesson(solution, force=args.force, check=args.check)
        except LessonGenError as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
            continue
        rel = outcome.lesson.relative_to(LESSONS.parent)
        if outcome.action == "kept":
            print(
                f"kept     {rel}: it has your edits (make lessons FORCE=1 replaces it,"
                " keeping a copy in build/lesson-backups/)"
            )
        elif outcome.action == "stale":
            print(
                f"stale    {rel}: differs from what solutions/ generates (run make lessons)"
            )
            status = 1
        else:
            print(f"{outcome.action:<8} {rel}")
    return status


if __name__ == "__main__":
    sys.exit(main())
