"""Show a lesson's rendered video, with its captions, inside its notebook."""

from __future__ import annotations

import os
from pathlib import Path

# Where `make videos` writes, relative to the course folder.
VIDEOS = Path("build") / "videos"


def course_folder(start: Path | None = None) -> Path:
    """The course folder above `start` (default: the working folder), found by its `animations/`."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "animations").is_dir() and (folder / "solutions").is_dir():
            return folder
    return start


def video_path(lesson: str, start: Path | None = None) -> Path:
    """Where `make videos` writes the video of a lesson (e.g. "02_hand_built_relu_circuits")."""
    return course_folder(start) / VIDEOS / f"{lesson}.mp4"


def show_video(lesson: str, width: int = 720):
    """Embed the lesson's video if it has been rendered, or say how to render it."""
    from IPython.display import Markdown, Video

    path = video_path(lesson)
    if not path.exists():
        return Markdown(
            f"*The video for this lesson is not rendered yet.* Run `make videos` "
            f"(or `make video-{lesson} QUALITY=high`) in the course folder; it is "
            f"written to `build/videos/{lesson}.mp4` and appears here when you "
            "re-run this cell."
        )
    # A path relative to the notebook lets Jupyter serve the file without
    # copying megabytes of video into the notebook.
    return Video(os.path.relpath(path, Path.cwd()), width=width)
