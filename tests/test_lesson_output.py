"""What a learner sees: every figure a lesson draws fits the notebook column at
100% and reads on a projector; no cell shows a tooling marker or a stray repr.

Each lesson (solutions/, the full version) is executed cell by cell as the
notebook runs it, with ``plt.show`` recording every figure drawn (also those an
explorer draws when it first renders) and the value each cell ends on.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re

import jupytext
import matplotlib
import matplotlib.pyplot as plt
import pytest

from neuralcircuits.teaching import figures
from neuralcircuits.tooling.paths import LESSONS, SOLUTIONS, lesson_scripts

matplotlib.use("Agg")

STEMS = [p.stem for p in lesson_scripts(SOLUTIONS)]
# What a cell must not end on: reprs like <torch._C.Generator at 0x7f...>,
# [<matplotlib.lines.Line2D ...>] or Text(0.5, 1.0, 'title').
NOISE = re.compile(r" at 0x[0-9a-f]+>|^\[?<matplotlib\.|^Text\(|^\[?<Axes")
MARKER = re.compile(r"NBVAL_|nbval", re.I)
# Outside a kernel, a displayed widget prints its repr; in the Lab it is the widget.
WIDGET = re.compile(r"^(HBox|VBox|interactive|Output)\(")


class LessonRun:
    def __init__(self):
        self.figures: list[
            tuple[int, int, list[str]]
        ] = []  # (cell, width px, problems)
        self.noise: list[tuple[int, str]] = []
        self.long_lines: list[tuple[int, str]] = []


def _run(stem: str) -> LessonRun:
    notebook = jupytext.read(SOLUTIONS / f"{stem}.py")
    run = LessonRun()
    namespace: dict = {"__name__": "__main__"}
    cell_no = 0

    def show(*args, **kwargs):
        for number in plt.get_fignums():
            fig = plt.figure(number)
            fig.canvas.draw()
            width = round(
                (fig.get_tightbbox().width + 2 * figures.PAD_IN) * figures.DPI
            )
            run.figures.append((cell_no, width, figures.figure_problems(fig)))
        plt.close("all")

    real_show = plt.show
    plt.show = show
    try:
        for cell_no, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            source = "\n".join(
                line
                for line in cell.source.splitlines()
                if not line.lstrip().startswith(("%", "!"))
            )
            tree = ast.parse(source)
            last = (
                tree.body.pop()
                if tree.body and isinstance(tree.body[-1], ast.Expr)
                else None
            )
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(tree, f"{stem} cell {cell_no}", "exec"), namespace)
                value = (
                    None
                    if last is None
                    else eval(
                        compile(
                            ast.Expression(last.value), f"{stem} cell {cell_no}", "eval"
                        ),
                        namespace,
                    )
                )
            run.long_lines += [
                (cell_no, line[:60])
                for line in printed.getvalue().splitlines()
                if len(line) > figures.OUTPUT_CHARS
                and not WIDGET.match(line)
                and not line.startswith("    ")
            ]  # a command, kept whole
            if value is not None and NOISE.search(repr(value)):
                run.noise.append((cell_no, repr(value)[:80]))
            show()
    finally:
        plt.show = real_show
        plt.close("all")
    return run


_RUNS: dict[str, LessonRun] = {}


@pytest.fixture(params=STEMS)
def lesson_run(request) -> tuple[str, LessonRun]:
    if request.param not in _RUNS:
        _RUNS[request.param] = _run(request.param)
    return request.param, _RUNS[request.param]


def test_every_figure_fits_the_column_and_reads(lesson_run):
    stem, run = lesson_run
    assert run.figures, f"{stem} draws no figure"
    bad = [(cell, width, problems) for cell, width, problems in run.figures if problems]
    assert not bad, f"{stem}: figures that do not read at 100%: {bad}"
    assert max(w for _, w, _ in run.figures) <= figures.COLUMN_PX


def test_no_cell_ends_on_a_noisy_repr(lesson_run):
    stem, run = lesson_run
    assert not run.noise, (
        f"{stem}: cells that print a repr a learner cannot read: {run.noise}"
    )


def test_no_printed_line_wraps_mid_word(lesson_run):
    stem, run = lesson_run
    assert not run.long_lines, (
        f"{stem}: printed lines over {figures.OUTPUT_CHARS} characters, which JupyterLab "
        f"breaks mid-word: {run.long_lines}"
    )


@pytest.mark.parametrize("folder", [SOLUTIONS, LESSONS], ids=["solutions", "lessons"])
def test_no_tooling_marker_in_a_learner_cell(folder):
    for path in lesson_scripts(folder):
        notebook = jupytext.read(path)
        for number, cell in enumerate(notebook.cells):
            assert not MARKER.search(cell.source), (
                f"{path.name} cell {number}: a test-tool marker in the cell's text; "
                'tag the cell instead (# %% tags=["nbval-ignore-output"])'
            )


def test_the_figure_check_catches_what_it_should():
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 3), layout="constrained")
    left.set_title("tiny", fontsize=7)
    right.imshow([[0, 1], [1, 0]])  # a 2-layer axis ticked -0.5, 0, 0.5, ...
    right.set_ylabel("layer")
    problems = figures.figure_problems(fig)
    assert any("wider than" in p for p in problems)
    assert any("'tiny' is 7.0 pt" in p for p in problems)
    assert any("'layer' axis has a tick at -0.5" in p for p in problems)
    figures.integer_ticks(right, "y", 2)
    assert not any("tick at" in p for p in figures.figure_problems(fig))
    fig, ax = figures.figure()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.5, 0.5, "another label")
    assert any("overlap" in p for p in figures.figure_problems(fig))
    fig, ax = figures.figure()
    figures.label_points(
        ax, [(0.5, 0.5)] * 4, ["a label", "b label", "c label", "d label"]
    )
    assert figures.figure_problems(fig) == []


def test_tables_never_wrap():
    rows = [("numbers", "MLP 0, 0.1, 0.3, " * 12, 0.951)]
    text = figures.table(rows, ["task", "circuit", "kept"], formats=["", "", ".1%"])
    assert max(len(line) for line in text.splitlines()) <= figures.TABLE_CHARS
    assert text.splitlines()[1].endswith("95.1%")
