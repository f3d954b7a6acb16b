"""Where the course's folders are, so lessons, scenes and tools agree."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
LESSONS = REPO / "lessons"
ANIMATIONS = REPO / "animations"
BUILD = REPO / "build"
VIDEOS = BUILD / "videos"
