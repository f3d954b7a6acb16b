"""The course website: ``make site`` builds it with Jupyter Book into build/site/.

``python -m neuralcircuits.tooling.site [--course build/course] [--out build/site]``
takes the notebooks ``make course`` executed (build/course/NN_name.ipynb, with
their outputs: nothing is re-executed here) and the README, and writes a
Jupyter Book source folder (build/site-src/), then builds it to static HTML:

- the README is the front page (its links to lessons/ point at the lesson pages);
- each lesson is a page with its outputs and figures; its video (build/videos/
  NN_name.mp4, when rendered) is embedded with a WebVTT captions track; the
  solution code of each exercise is folded (hints were already folded);
- each lesson has an exercises page: every exercise with its difficulty, its
  folded hints, the stub the learner fills in and a link to it in the lesson;
- search is Sphinx's own (a local index, no service).

Jupyter Book 1 (Sphinx) builds without the network; MathJax is served from the
site itself (see tooling/web.py). Interactive widgets need a running kernel, so
the site shows a note where a lesson shows a widget.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat

from neuralcircuits.tooling.paths import BUILD, LESSONS, REPO, VIDEOS
from neuralcircuits.tooling.web import extract

COURSE = BUILD / "course"
SITE = BUILD / "site"
SOURCE = BUILD / "site-src"
MEDIA = BUILD / "media"

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "*An interactive explorer appears here when you run the lesson "
    "(`make lab`); the website shows what the code prints and draws.*"
)

CONFIG = """\
# Written by neuralcircuits/tooling/site.py: edit that, not this.
title: Neural Circuits
author: the Neural Circuits course
copyright: ""
logo: ""
only_build_toc_files: true
execute:
  execute_notebooks: "off"
html:
  use_repository_button: false
  use_issues_button: false
  use_edit_page_button: false
  use_download_button: false
  home_page_in_navbar: true
  use_multitoc_numbering: false
launch_buttons:
  binderhub_url: ""
  jupyterhub_url: ""
  colab_url: ""
  thebe: false
parse:
  myst_enable_extensions: [dollarmath, amsmath, html_image, colon_fence]
sphinx:
  config:
    # Jupyter Book's extensions less sphinx_thebe, which points at a CDN (and
    # declares its script twice, an error in the console of every page).
    extensions: [sphinx_togglebutton, sphinx_copybutton, myst_nb, jupyter_book,
                 sphinx_comments, sphinx_external_toc, sphinx_design, sphinx_book_theme]
    # Copied into _static/ but not scanned by Jupyter Book (which would load
    # every .js file of MathJax on every page).
    html_static_path: [_assets]
    mathjax_path: mathjax/tex-chtml.js
    html_favicon: _assets/favicon.png
    html_context:
      default_mode: light
    html_show_sourcelink: false
    nb_merge_streams: true
    myst_heading_anchors: 3
    html_theme_options:
      use_download_button: false
      use_fullscreen_button: false
      show_prev_next: true
"""


def _difficulty_points(text: str) -> int:
    """●○○ -> 1, ●●○ -> 2, ●●● -> 3 (0 when no difficulty is written)."""
    match = re.search(r"Difficulty\W*?([●○]+)", text)
    return match[1].count("●") if match else 0


def exercises(notebook) -> list[dict]:
    """The exercises of a lesson notebook: its markdown, code cell index and check cell index."""
    found: list[dict] = []
    cells = notebook.cells
    for index, cell in enumerate(cells):
        if "exercise" not in cell.metadata.get("tags", []):
            continue
        intro = next(
            (c for c in reversed(cells[:index]) if c.cell_type == "markdown"), None
        )
        text = intro.source if intro is not None else ""
        title = next(
            (
                line.lstrip("#").strip()
                for line in text.splitlines()
                if line.startswith("#")
            ),
            f"Exercise {len(found) + 1}",
        )
        check = next(
            (
                j
                for j in range(index + 1, len(cells))
                if "check" in cells[j].metadata.get("tags", [])
            ),
            None,
        )
        found.append(
            {
                "title": title,
                "markdown": text,
                "cell": index,
                "check": check,
                "points": _difficulty_points(text),
            }
        )
    return found


def _vtt_time(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"


def _srt_cues(path: Path) -> list[tuple[float, float, str]]:
    cues = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip()):
        lines = block.strip().splitlines()
        stamp = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if stamp is None:
            continue

        def seconds(text):
            h, m, s = text.strip().replace(",", ".").split(":")
            return int(h) * 3600 + int(m) * 60 + float(s)

        start, end = lines[stamp].split("-->")
        cues.append((seconds(start), seconds(end), "\n".join(lines[stamp + 1 :])))
    return cues


def _duration(video: Path) -> float:
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.average_rate is None:
            raise ValueError(f"{video}: its video stream has no frame rate")
        return float(stream.frames / stream.average_rate)


def captions(stem: str, videos: Path = VIDEOS, media: Path = MEDIA) -> str:
    """WebVTT captions for a lesson's joined video.

    In order of preference: build/videos/NN_name.vtt or .srt written beside
    the video; else the per-scene .srt files Manim writes for subcaptions
    (narration), shifted by the scenes before them; else one cue per scene
    naming it, so the track always says what is on screen.
    """
    for ready in (videos / f"{stem}.vtt", videos / f"{stem}.srt"):
        if ready.exists():
            cues = _srt_cues(ready) if ready.suffix == ".srt" else None
            if cues is None:
                return ready.read_text(encoding="utf-8")
            break
    else:
        from neuralcircuits.tooling.paths import ANIMATIONS
        from neuralcircuits.tooling.videos import scene_names

        cues, offset = [], 0.0
        script = ANIMATIONS / f"{stem}.py"
        names = scene_names(script) if script.exists() else []
        parts = sorted((media / stem / "videos" / stem).glob("*/"))
        folder = next(
            (p for p in parts if all((p / f"{n}.mp4").exists() for n in names)), None
        )
        for name in names:
            if folder is None:
                break
            part = folder / f"{name}.mp4"
            length = _duration(part)
            srt = part.with_suffix(".srt")
            words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
            scene_cues = _srt_cues(srt) if srt.exists() else [(0.0, length, words)]
            cues += [(offset + a, offset + b, text) for a, b, text in scene_cues]
            offset += length
    lines = ["WEBVTT", ""]
    for number, (start, end, text) in enumerate(cues, 1):
        lines += [str(number), f"{_vtt_time(start)} --> {_vtt_time(end)}", text, ""]
    return "\n".join(lines)


def video_html(stem: str) -> str:
    """The HTML <video> of a lesson, with its English captions, for its site page."""
    return (
        f'<video controls preload="metadata" class="lesson-video" '
        f'style="width: 100%; max-width: 720px">'
        f'<source src="_static/videos/{stem}.mp4" type="video/mp4">'
        f'<track kind="captions" src="_static/videos/{stem}.vtt" srclang="en" '
        f'label="English" default></video>'
    )


def site_notebook(path: Path, videos: Path = VIDEOS):
    """A copy of an executed lesson prepared for the site (video, folds, widgets)."""
    notebook = nbformat.read(path, as_version=4)
    stem = path.stem
    notebook.metadata.pop("widgets", None)
    has_video = (videos / f"{stem}.mp4").exists()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "exercise" in tags and "hide-input" not in tags:
            tags.append(
                "hide-input"
            )  # the solution is folded, as in the lesson's hints
        outputs = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_MIME in data:
                output = copy.deepcopy(output)
                output["data"] = {
                    "text/markdown": WIDGET_NOTE,
                    "text/plain": WIDGET_NOTE,
                }
            outputs.append(output)
        if "show_video(" in cell.source and has_video:
            outputs = [
                nbformat.v4.new_output(
                    "display_data",
                    data={"text/html": video_html(stem), "text/plain": stem},
                )
            ]
        if outputs:
            cell.outputs = outputs
    return notebook


def exercises_page(stem: str, notebook) -> str:
    """The markdown of a lesson's exercises page."""
    lesson_cells = {}
    stub_script = LESSONS / f"{stem}.py"
    if stub_script.exists():
        stubs = [
            c
            for c in jupytext.read(stub_script).cells
            if "exercise" in c.metadata.get("tags", [])
        ]
        lesson_cells = dict(enumerate(stubs))
    title = notebook.cells[0].source.splitlines()[0].lstrip("# ").strip()
    lines = [
        f"# Exercises · {title.split('·', 1)[-1].strip()}",
        "",
        f"The exercises of [the lesson]({stem}.ipynb), with the stub you fill in "
        f"in `lessons/{stem}.py`. Each is followed in the lesson by a check cell "
        "that prints ✔ or names the mistake in one sentence.",
        "",
    ]
    for number, exercise in enumerate(exercises(notebook)):
        markdown = exercise["markdown"]
        heading = (
            re.sub(r"^#+\s*", "", markdown.splitlines()[0])
            if markdown
            else exercise["title"]
        )
        body = "\n".join(markdown.splitlines()[1:]).strip()
        lines += [f"## {heading}", "", body, ""]
        stub = lesson_cells.get(number)
        if stub is not None:
            lines += ["```python", stub.source.rstrip(), "```", ""]
        lines += [f"Do it in [the lesson]({stem}.ipynb), where the check follows.", ""]
    return "\n".join(lines)


def front_page(readme: str, stems: list[str]) -> str:
    """The README with its lesson links pointing at the lesson pages."""
    text = readme
    for stem in stems:
        text = text.replace(f"](lessons/{stem}.py)", f"]({stem}.ipynb)")
        text = text.replace(f"](solutions/{stem}.py)", f"]({stem}.ipynb)")
    # The Binder badge is for the repository; the site is read offline.
    return (
        "\n".join(
            line for line in text.splitlines() if not line.startswith("[![Binder]")
        )
        + "\n"
    )


def _favicon(path: Path) -> None:
    """A small icon (a browser asks for one; without it, a 404 in the console)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (3, 3, 28, 28), fill=(15, 20, 25, 255), outline=(88, 196, 221, 255), width=3
    )
    draw.line((9, 20, 16, 12, 23, 20), fill=(252, 98, 85, 255), width=3)
    image.save(path)


def write_source(
    course: Path = COURSE, source: Path = SOURCE, videos: Path = VIDEOS
) -> list[str]:
    """Write the Jupyter Book source folder; return the page names in order."""
    notebooks = sorted(course.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(
            f"no executed lessons in {course}: run `make course` first"
        )
    if source.exists():
        shutil.rmtree(source)
    static = source / "_assets"  # served as _static/
    (static / "videos").mkdir(parents=True)
    for part in (
        "tex-chtml.js",
        "output/chtml/fonts/woff-v2/",
        "input/tex/extensions/",
        "ui/",
    ):
        extract("mathjax", f"es5/{part}", static / "mathjax" / part)
    _favicon(static / "favicon.png")
    stems = [path.stem for path in notebooks]
    (source / "index.md").write_text(
        front_page((REPO / "README.md").read_text(), stems)
    )
    pages = ["index"]
    for path in notebooks:
        stem = path.stem
        notebook = site_notebook(path, videos)
        nbformat.write(notebook, source / f"{stem}.ipynb")
        (source / f"{stem}_exercises.md").write_text(exercises_page(stem, notebook))
        pages += [stem, f"{stem}_exercises"]
        video = videos / f"{stem}.mp4"
        if video.exists():
            shutil.copy2(video, static / "videos" / video.name)
            (static / "videos" / f"{stem}.vtt").write_text(captions(stem, videos))
    toc = [
        "# Written by neuralcircuits/tooling/site.py",
        "format: jb-book",
        "root: index",
        "chapters:",
    ]
    for stem in stems:
        toc += [f"- file: {stem}", "  sections:", f"  - file: {stem}_exercises"]
    (source / "_toc.yml").write_text("\n".join(toc) + "\n")
    (source / "_config.yml").write_text(CONFIG)
    return pages


def build(
    course: Path = COURSE,
    out: Path = SITE,
    source: Path = SOURCE,
    videos: Path = VIDEOS,
) -> Path:
    """Write the source and build the site into `out`; return out/index.html."""
    write_source(course, source, videos)
    scratch = source.parent / "site-build"
    if scratch.exists():
        shutil.rmtree(scratch)
    command = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(source),
        "--path-output",
        str(scratch),
        "--builder",
        "html",
        "--warningiserror",
        "--keep-going",
        "--quiet",
    ]
    done = subprocess.run(command, text=True, capture_output=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-6000:] + done.stderr[-6000:])
        raise RuntimeError(f"jupyter-book failed (exit {done.returncode})")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(scratch / "_build" / "html", out)
    shutil.rmtree(scratch)
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    """Command line: build the course website; return the exit status."""
    parser = argparse.ArgumentParser(
        description="Build the course website (Jupyter Book)."
    )
    parser.add_argument("--course", type=Path, default=COURSE)
    parser.add_argument("--out", type=Path, default=SITE)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        index = build(args.course, args.out)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    pages = len(list(args.out.glob("*.html")))
    print(
        f"{index.relative_to(REPO) if index.is_relative_to(REPO) else index}: "
        f"{pages} pages in {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
