"""Show a lesson's rendered video, with its captions, inside its notebook."""

from __future__ import annotations

import html
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


def video_html(video: str, captions: str | None = None, width: int = 720) -> str:
    """An HTML5 <video> of `video` with its WebVTT captions as a <track>, shown by default."""
    track = ""
    if captions:
        track = (
            f'\n  <track kind="captions" src="{html.escape(captions)}" srclang="en" '
            'label="English" default>'
        )
    return (
        f'<video controls width="{width}" preload="metadata">\n'
        f'  <source src="{html.escape(video)}" type="video/mp4">{track}\n'
        "  Your browser cannot play this video: open it from build/videos/.\n</video>"
    )


def show_video(lesson: str, width: int = 720):
    """Embed the lesson's video and its captions if rendered, or say how to render it."""
    from IPython.display import HTML, Markdown

    path = video_path(lesson)
    if not path.exists():
        return Markdown(
            f"*The video for this lesson is not rendered yet.* Run `make videos` "
            f"(or `make video-{lesson} QUALITY=high`) in the course folder; it is "
            f"written to `build/videos/{lesson}.mp4`, with captions beside it, and "
            "appears here when you re-run this cell."
        )
    # Paths relative to the notebook let Jupyter serve the files without
    # copying megabytes of video into the notebook.
    captions = path.with_suffix(".vtt")
    return HTML(
        video_html(
            os.path.relpath(path, Path.cwd()),
            os.path.relpath(captions, Path.cwd()) if captions.exists() else None,
            width,
        )
    )
