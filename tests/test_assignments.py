"""The nbgrader course: generated from solutions/, and autograding scores a submission right.

End to end on lesson 02: generate the student version, "submit" it with one
exercise right (written differently from the solution), one wrong (a
plausible mistake), one left blank and one right, run ``nbgrader autograde``
and read the scores from the gradebook.
"""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from neuralcircuits.tooling.assignments import (
    STUB,
    generate,
    max_points,
    nbgrader,
    points_of,
    source_notebook,
)
from neuralcircuits.tooling.paths import SOLUTIONS, lesson_scripts

LESSON = "02_hand_built_relu_circuits"
STUDENT = "ada"

# What the student writes in place of each stub (None: left blank).
ANSWERS = {
    "exercise_01": "return torch.tensor([[1.], [-1.]]), torch.tensor([[1., 1.]])",  # right
    # wrong: the max network's read-out (adds the greaterness detector)
    "exercise_02": (
        "return (torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]]),\n"
        "            torch.tensor([[1.0, -1.0, 1.0]]))"
    ),
    # right, written differently from the solution: search directions on a circle
    "exercise_03": (
        "import math\n"
        "    for k in range(48):\n"
        "        a = k * math.pi / 24\n"
        "        x = torch.tensor([math.cos(a), math.sin(a)])\n"
        "        if abs(float(torch.relu(x @ W_in.T) @ W_out[0]) - float(x.min())) > 1e-3:\n"
        "            return x"
    ),
    "exercise_04": None,  # blank
    "exercise_05": "return (torch.relu(x @ W_in.T) == 0).all(dim=1)",  # right
}
EXPECTED = {
    "check_01": 1.0,
    "check_02": 0.0,
    "check_03": 3.0,
    "check_04": 0.0,
    "check_05": 1.0,
}

READ_GRADES = f"""
import json, sys
from nbgrader.api import Gradebook
with Gradebook("sqlite:///" + sys.argv[1]) as gradebook:
    graded = gradebook.find_submission_notebook({LESSON!r}, {LESSON!r}, {STUDENT!r})
    print(json.dumps({{"grades": {{g.name: g.score for g in graded.grades}},
                      "score": graded.score, "max_score": graded.max_score}}))
"""


@pytest.mark.parametrize("script", lesson_scripts(SOLUTIONS), ids=lambda s: s.stem)
def test_source_notebook_marks_every_cell(script: Path):
    notebook = source_notebook(script)
    kinds = [c.metadata["nbgrader"] for c in notebook.cells]
    solutions = [k for k in kinds if k["solution"]]
    tests = [k for k in kinds if k["grade"]]
    assert solutions and len(solutions) == len(tests), (
        "each exercise has one graded check"
    )
    assert all(t["locked"] and t["points"] in (1, 2, 3) for t in tests)
    story = [c for c in notebook.cells if c.cell_type == "markdown"]
    assert all(c.metadata["nbgrader"]["locked"] for c in story), (
        "story cells are read-only"
    )
    assert len({k["grade_id"] for k in kinds}) == len(kinds), "grade ids are unique"
    for cell in notebook.cells:
        if cell.metadata["nbgrader"]["solution"]:
            assert "BEGIN SOLUTION" in cell.source and "END SOLUTION" in cell.source


def test_points_follow_difficulty():
    assert points_of("**Difficulty** ●○○ · **Importance** ●●●") == 1
    assert points_of("**Difficulty** ●●○ · **Importance** ●○○") == 2
    assert points_of("**Difficulty** ●●● · **Importance** ●○○") == 3
    assert points_of("Difficulty: ●●○ · Importance: ●●●") == 2


@pytest.mark.notebook
def test_autograde_scores_a_submission(tmp_path: Path):
    course = tmp_path / "course"
    generate(course, [SOLUTIONS / f"{LESSON}.py"])
    released = course / "release" / LESSON / f"{LESSON}.ipynb"
    notebook = nbformat.read(released, as_version=4)
    assert max_points(notebook) == 9
    stubbed = [
        c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")
    ]
    assert [c.metadata["nbgrader"]["grade_id"] for c in stubbed] == list(ANSWERS)
    for cell in stubbed:
        assert "BEGIN SOLUTION" not in cell.source and STUB in cell.source, (
            "solution cleared"
        )
        answer = ANSWERS[cell.metadata["nbgrader"]["grade_id"]]
        if answer is not None:
            cell.source = cell.source.replace(STUB, answer)
    submitted = course / "submitted" / STUDENT / LESSON
    submitted.mkdir(parents=True)
    nbformat.write(notebook, submitted / f"{LESSON}.ipynb")

    nbgrader("autograde", LESSON, "--create", "--force", cwd=course)

    # Read the gradebook in a process of its own: importing nbgrader.api here,
    # after other tests imported distutils, trips setuptools' distutils hack.
    done = subprocess.run(
        [sys.executable, "-c", READ_GRADES, str(course / "gradebook.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    graded = json.loads(done.stdout)
    print("nbgrader scores:", graded)
    assert {name: graded["grades"][name] for name in EXPECTED} == EXPECTED
    assert graded["score"] == 5.0 and graded["max_score"] == 9.0
    autograded = course / "autograded" / STUDENT / LESSON / f"{LESSON}.ipynb"
    assert autograded.exists()
