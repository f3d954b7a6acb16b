"""The executed course: each notebook embeds its video by a path that resolves from where it is saved."""

import re

import nbformat

from neuralcircuits.tooling.course import execute_lesson

LESSON = """# %%
from neuralcircuits.teaching.media import show_video

show_video("99_probe")
"""


def test_an_executed_course_notebook_finds_its_video(tmp_path):
    course = tmp_path / "course"
    for folder in ("solutions", "animations", "build/videos"):
        (course / folder).mkdir(parents=True)
    script = course / "solutions" / "99_probe.py"
    script.write_text(LESSON)
    (course / "build" / "videos" / "99_probe.mp4").write_bytes(b"\0")

    notebook_path = execute_lesson(script, course / "build" / "course")

    notebook = nbformat.read(notebook_path, as_version=4)
    html = "".join(
        output.get("data", {}).get("text/html", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    sources = re.findall(r'src="([^"]+\.mp4)"', html)
    assert sources, f"the executed notebook shows no video: {html[:300]!r}"
    assert all((notebook_path.parent / src).resolve().is_file() for src in sources), (
        sources
    )
