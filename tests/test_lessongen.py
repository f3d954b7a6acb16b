"""The lesson generator: stubs, tags, and never losing a learner's edits."""

import pytest

from neuralcircuits.tooling.lessongen import (
    LessonGenError,
    generate,
    has_local_edits,
    sync_lesson,
)

HEADER = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""

SOLUTION = (
    HEADER
    + '''
# %% [markdown]
# Write abs.

# %% tags=["exercise"]
def abs_weights():
    """Return the weights."""
    # BEGIN SOLUTION
    w = [[1.0], [-1.0]]
    return w
    # END SOLUTION


# %% tags=["check"]
check_abs_weights(abs_weights)

# %% tags=["solution"]
print("the worked answer, left out of the lesson")

# %%
x = 1  # BEGIN SOLUTION is only a marker at the start of a comment line
# BEGIN SOLUTION total
total = x + 1
# END SOLUTION
'''
)


def test_blocks_become_stubs_naming_the_exercise():
    lesson = generate(SOLUTION)
    assert "w = [[1.0], [-1.0]]" not in lesson and "total = x + 1" not in lesson
    assert (
        '    raise NotImplementedError("Exercise: write `abs_weights` here, '
        'then run the check below.")'
    ) in lesson
    assert 'raise NotImplementedError("Exercise: write `total` here' in lesson
    assert '    """Return the weights."""' in lesson  # the docstring stays


def test_check_cells_are_tagged_to_raise_and_solution_cells_dropped():
    lesson = generate(SOLUTION)
    assert '# %% tags=["check", "raises-exception"]' in lesson
    assert "the worked answer" not in lesson
    assert '# %% tags=["exercise"]' in lesson


def test_generation_is_deterministic_and_fingerprinted():
    lesson = generate(SOLUTION)
    assert lesson == generate(SOLUTION)
    assert "generated_sha256" in lesson.split("# ---\n")[1]  # inside the header
    assert not has_local_edits(lesson)
    assert has_local_edits(lesson.replace("Write abs.", "Write abs. My notes."))


@pytest.mark.parametrize(
    "broken",
    [
        "# %%\n# BEGIN SOLUTION\nx = 1\n",
        "# %%\nx = 1\n# END SOLUTION\n",
        "# %%\n# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
    ],
)
def test_unpaired_markers_are_errors(broken):
    with pytest.raises(LessonGenError):
        generate(HEADER + broken)


def test_sync_never_overwrites_local_edits_unless_forced(tmp_path):
    solution = tmp_path / "solutions" / "09_demo.py"
    solution.parent.mkdir()
    solution.write_text(SOLUTION)
    lessons, backups = tmp_path / "lessons", tmp_path / "backups"

    assert sync_lesson(solution, lessons, backups=backups).action == "written"
    assert sync_lesson(solution, lessons, backups=backups).action == "unchanged"

    lesson = lessons / "09_demo.py"
    edited = lesson.read_text().replace(
        "raise NotImplementedError(", "return [[1], [-1]]  # ("
    )
    lesson.write_text(edited)
    solution.write_text(SOLUTION.replace("Write abs.", "Write abs, carefully."))

    assert sync_lesson(solution, lessons, backups=backups).action == "kept"
    assert lesson.read_text() == edited  # the learner's work is untouched
    assert sync_lesson(solution, lessons, check=True, backups=backups).action == "stale"

    assert (
        sync_lesson(solution, lessons, force=True, backups=backups).action == "written"
    )
    assert "carefully" in lesson.read_text()
    (backup,) = backups.iterdir()
    assert backup.read_text() == edited  # and a copy of it is kept


def test_an_unedited_stale_lesson_is_regenerated(tmp_path):
    solution = tmp_path / "09_demo.py"
    solution.write_text(SOLUTION)
    lessons = tmp_path / "lessons"
    sync_lesson(solution, lessons, backups=tmp_path / "b")
    solution.write_text(SOLUTION.replace("Write abs.", "Write abs again."))
    assert sync_lesson(solution, lessons, backups=tmp_path / "b").action == "written"
    assert not (tmp_path / "b").exists()


# --- opening and saving a lesson in JupyterLab changes nothing that counts ----------


def _lab_save(text: str, display_name: str = "Python 3 (Neural Circuits)") -> str:
    """What JupyterLab writes back: jupytext reads the lesson, the Lab sets the kernel
    it ran and its language_info, jupytext writes the notebook back as a script."""
    import jupytext

    notebook = jupytext.reads(text, fmt="py:percent")
    notebook.metadata["kernelspec"] = {
        "display_name": display_name,
        "language": "python",
        "name": "python3",
    }
    notebook.metadata["language_info"] = {"name": "python", "version": "3.11"}
    return jupytext.writes(notebook, fmt="py:percent")


def test_a_lesson_is_generated_in_the_form_jupyterlab_saves():
    lesson = generate(SOLUTION)
    assert _lab_save(lesson) == lesson  # open-and-save: not one byte changes
    assert "jupytext_version" in lesson.split("# %%")[0]


@pytest.mark.parametrize(
    "kernel", ["Python 3 (Neural Circuits)", "Python 3 (ipykernel)"]
)
def test_open_and_save_leaves_a_lesson_unedited(tmp_path, kernel):
    solution = tmp_path / "09_demo.py"
    solution.write_text(SOLUTION)
    lessons, backups = tmp_path / "lessons", tmp_path / "backups"
    sync_lesson(solution, lessons, backups=backups)
    lesson = lessons / "09_demo.py"
    saved = _lab_save(_lab_save(lesson.read_text(), kernel), kernel)  # two autosaves
    lesson.write_text(saved)
    assert not has_local_edits(saved)
    assert (
        sync_lesson(solution, lessons, check=True, backups=backups).action
        == "unchanged"
    )
    assert sync_lesson(solution, lessons, backups=backups).action == "unchanged"
    assert lesson.read_text() == saved  # the header the Lab wrote is left alone
    # A new solution replaces a lesson that was only opened, without a backup.
    solution.write_text(SOLUTION.replace("Write abs.", "Write abs, carefully."))
    assert sync_lesson(solution, lessons, backups=backups).action == "written"
    assert "carefully" in lesson.read_text() and not backups.exists()


def test_a_real_edit_saved_by_the_lab_is_still_detected_and_kept(tmp_path):
    solution = tmp_path / "09_demo.py"
    solution.write_text(SOLUTION)
    lessons, backups = tmp_path / "lessons", tmp_path / "backups"
    sync_lesson(solution, lessons, backups=backups)
    lesson = lessons / "09_demo.py"
    edited = _lab_save(
        lesson.read_text().replace(
            'raise NotImplementedError("Exercise: write `abs_weights`',
            'return [[1], [-1]]  # ("',
        )
    )
    lesson.write_text(edited)
    assert has_local_edits(edited)
    solution.write_text(SOLUTION.replace("Write abs.", "Write abs, carefully."))
    assert sync_lesson(solution, lessons, backups=backups).action == "kept"
    assert lesson.read_text() == edited


def test_a_lesson_from_the_old_whole_text_fingerprint_counts_as_unedited():
    import hashlib

    from neuralcircuits.tooling.lessongen import FINGERPRINT

    old = HEADER.replace("# ---\n", "", 1)
    body = "# ---\n" + old.replace("# ---\n", "") + "# ---\n\n# %%\nx = 1\n"
    digest = hashlib.sha256(body.encode()).hexdigest()
    stamped = body.replace(
        "#     name: python3\n",
        f"#     name: python3\n#   neuralcircuits:\n#     generated_sha256: {digest}\n",
    )
    assert FINGERPRINT.search(stamped)
    assert not has_local_edits(stamped)
    assert has_local_edits(stamped.replace("x = 1", "x = 2"))
