"""Where the course's folders are, so lessons, scenes and tools agree."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
LESSONS = REPO / "lessons"
ANIMATIONS = REPO / "animations"
BUILD = REPO / "build"
VIDEOS = BUILD / "videos"


def lesson_scripts(folder: Path) -> list[Path]:
    """The numbered lesson files of a folder (NN_name.py), in lesson order."""
    return sorted(folder.glob("[0-9][0-9]_*.py"))
