"""The course's main job: execute every lesson, render every video, report.

``make course`` runs ``python -m neuralcircuits.tooling.course --quality low|high``:
each solution is executed with its outputs into build/course/NN_name.ipynb,
each lesson's video is rendered into build/videos/NN_name.mp4, and a summary
says what was made and how long each step took. It needs no network: the
lessons use the course's own embedded model.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path

from neuralcircuits.tooling.notebooks import execute, to_notebook
from neuralcircuits.tooling.paths import (
    ANIMATIONS,
    BUILD,
    REPO,
    SOLUTIONS,
    lesson_scripts,
)
from neuralcircuits.tooling.videos import QUALITY_FLAGS, make_video

COURSE = BUILD / "course"


def _timed(what: str, job: Callable[[], Path]) -> tuple[str, str, float, str]:
    """Run one step; return (what, status, seconds, output or error)."""
    print(f"… {what}", flush=True)
    start = time.perf_counter()
    try:
        made = job()
        status, detail = "ok", str(made.relative_to(REPO))
    except Exception as error:  # report and go on: one failure should not hide the rest
        status, detail = (
            "FAILED",
            f"{type(error).__name__}: {str(error).splitlines()[0][:200]}",
        )
        traceback.print_exc(limit=2)
    return what, status, time.perf_counter() - start, detail


def run_course(quality: str = "low") -> list[tuple[str, str, float, str]]:
    """Execute every solution and render every video; return the summary rows."""
    rows = []
    # Videos first, so that each executed notebook embeds its lesson's video.
    for script in lesson_scripts(ANIMATIONS):
        rows.append(
            _timed(
                f"video  {script.stem} ({quality})",
                partial(make_video, script, quality),
            )
        )
    for script in lesson_scripts(SOLUTIONS):
        rows.append(_timed(f"lesson {script.stem}", partial(execute_lesson, script)))
    return rows


def execute_lesson(script: Path, course_dir: Path = COURSE) -> Path:
    """Execute one lesson script into course_dir/NN_name.ipynb, run from that folder; return its path."""
    unexecuted = to_notebook(script, course_dir / ".unexecuted")
    out = course_dir / f"{script.stem}.ipynb"
    execute(unexecuted, out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: execute every lesson, render every video, print the summary; return the exit status."""
    parser = argparse.ArgumentParser(
        description="Execute every lesson, render every video."
    )
    parser.add_argument("--quality", choices=sorted(QUALITY_FLAGS), default="low")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = run_course(args.quality)
    print("\nCourse summary")
    width = max(len(row[0]) for row in rows)
    for what, status, seconds, detail in rows:
        print(f"  {what:<{width}}  {status:<6} {seconds:6.1f} s  {detail}")
    failed = sum(status != "ok" for _, status, _, _ in rows)
    print(
        f"{len(rows) - failed} made, {failed} failed, in {time.perf_counter() - start:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
