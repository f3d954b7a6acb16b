"""lessons/ is exactly what solutions/ generates: a stale lesson fails the build."""

import pytest

from neuralcircuits.tooling.lessongen import generate, has_local_edits, same_cells
from neuralcircuits.tooling.paths import ANIMATIONS, LESSONS, SOLUTIONS, lesson_scripts

SOLUTION_FILES = lesson_scripts(SOLUTIONS)


def test_every_solution_has_a_lesson_and_a_scene_file():
    stems = {p.stem for p in SOLUTION_FILES}
    assert stems, "no lessons in solutions/"
    assert stems == {p.stem for p in lesson_scripts(LESSONS)}
    assert stems <= {p.stem for p in lesson_scripts(ANIMATIONS)}


@pytest.mark.parametrize(
    "solution", SOLUTION_FILES, ids=[p.stem for p in SOLUTION_FILES]
)
def test_lesson_matches_its_solution(solution):
    lesson = LESSONS / solution.name
    wanted = generate(solution.read_text(), source=str(solution))
    text = lesson.read_text()
    assert same_cells(text, wanted) and not has_local_edits(text), (
        f"lessons/{solution.name} is stale: run `make lessons` (FORCE=1 if it was edited)"
    )


@pytest.mark.parametrize(
    "solution", SOLUTION_FILES, ids=[p.stem for p in SOLUTION_FILES]
)
def test_every_exercise_is_blanked_and_checked(solution):
    text = solution.read_text()
    lesson = (LESSONS / solution.name).read_text()
    assert "# BEGIN SOLUTION" in text, "a lesson should have exercises"
    assert "# BEGIN SOLUTION" not in lesson and "# END SOLUTION" not in lesson
    assert lesson.count("raise NotImplementedError(") >= text.count("# BEGIN SOLUTION")
    assert 'tags=["check", "raises-exception"]' in lesson
