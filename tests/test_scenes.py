"""The lesson videos: scenes are narrated, laid out inside the frame, and one lesson
renders end to end with its voice, captions and chapters.

Fast checks run every scene without drawing a frame (Manim's skip-animations
mode, a silent voice) and compare the boxes of every text on screen at the end
of each section; `test_scene_frames.py` compares a few key diagrams pixel by
pixel; the end-to-end test renders lesson 02 (the shortest to compute) at low
quality with the default espeak-ng voice.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import srt

from neuralcircuits.tooling import videos
from neuralcircuits.tooling.paths import ANIMATIONS, BUILD, lesson_scripts

SCRIPTS = lesson_scripts(ANIMATIONS)
SCENES = [(script, name) for script in SCRIPTS for name in videos.scene_names(script)]
OVERLAP = 0.03  # boxes may touch, not overlap by more than this (scene units)


def _scene_module(script: Path):
    if str(ANIMATIONS) not in sys.path:
        sys.path.insert(0, str(ANIMATIONS))
    return importlib.import_module(script.stem)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_every_scene_is_narrated_and_titled(script: Path):
    classes = [
        n for n in ast.parse(script.read_text()).body if isinstance(n, ast.ClassDef)
    ]
    scenes = [c for c in classes if c.name in videos.scene_names(script)]
    assert len(scenes) >= 3, f"{script.name} should hold at least three scenes"
    for scene in scenes:
        bases = [getattr(b, "id", "") for b in scene.bases]
        assert bases == ["NarratedScene"], f"{scene.name} should be a NarratedScene"
        assert ast.get_docstring(scene), (
            f"{scene.name} needs a docstring: its chapter title"
        )
        calls = [
            n
            for n in ast.walk(scene)
            if isinstance(n, ast.Call)
            and getattr(n.func, "attr", "") in ("voiceover", "next_section")
        ]
        kinds = {c.func.attr for c in calls}
        assert kinds == {"voiceover", "next_section"}, (
            f"{scene.name} needs narration and sections"
        )


def _texts(mobject, out):
    """Every text-like mobject on screen, not descending into a text's own glyphs."""
    from manim import DecimalNumber, MarkupText, SingleStringMathTex, Text

    if isinstance(mobject, (Text, MarkupText, SingleStringMathTex, DecimalNumber)):
        inked = [s.get_fill_opacity() for s in mobject.family_members_with_points()]
        if inked and max(inked) > 0.05 and mobject.width > 0:
            out.append(mobject)
        return out
    for sub in mobject.submobjects:
        _texts(sub, out)
    return out


def layout_problems(scene, section: str) -> list[str]:
    """Texts that leave the safe frame or overlap another text, described in words."""
    from manim import config
    from style import MARGIN

    boxes = []
    for m in _texts_on(scene):
        lo, hi = m.get_corner(np.array([-1, -1, 0])), m.get_corner(np.array([1, 1, 0]))
        boxes.append((m, lo, hi))
    half = np.array([config.frame_width / 2 - MARGIN, config.frame_height / 2 - MARGIN])
    problems = []
    for m, lo, hi in boxes:
        if (lo[:2] < -half - 1e-6).any() or (hi[:2] > half + 1e-6).any():
            problems.append(
                f"{section}: {_name(m)} leaves the frame ({lo[:2]}, {hi[:2]})"
            )
    for i, (a, alo, ahi) in enumerate(boxes):
        for b, blo, bhi in boxes[i + 1 :]:
            overlap = np.minimum(ahi, bhi)[:2] - np.maximum(alo, blo)[:2]
            if (overlap > OVERLAP).all():
                problems.append(f"{section}: {_name(a)} overlaps {_name(b)}")
    return problems


def _texts_on(scene):
    found = []
    for m in scene.mobjects:
        _texts(m, found)
    return found


def _name(m) -> str:
    text = (
        getattr(m, "text", None) or getattr(m, "tex_string", None) or type(m).__name__
    )
    return repr(str(text)[:40])


def check_layout(cls, media: Path) -> list[str]:
    """Run a scene without drawing frames; check the texts at the end of every section."""
    from manim import tempconfig

    problems: list[str] = []
    with tempconfig(
        {
            "dry_run": True,
            "media_dir": str(media),
            "disable_caching": True,
            "verbosity": "ERROR",
            "frame_rate": 5,
            "progress_bar": "none",
        }
    ):
        scene = cls(skip_animations=True)
        sections = ["start"]
        original = scene.next_section

        def next_section(name="unnamed", *args, **kwargs):
            problems.extend(layout_problems(scene, f"{cls.__name__} [{sections[-1]}]"))
            sections.append(name)
            return original(name, *args, **kwargs)

        scene.next_section = next_section
        scene.render()
        problems.extend(layout_problems(scene, f"{cls.__name__} [{sections[-1]}, end]"))
    return problems


@pytest.mark.scene
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_texts_stay_in_frame_and_apart(script: Path, monkeypatch):
    monkeypatch.setenv("NC_VOICE", "silent")
    module = _scene_module(script)
    media = (
        BUILD / "media" / "layout-test" / script.stem
    )  # keeps LaTeX's cache between runs
    problems = []
    for name in videos.scene_names(script):
        problems += check_layout(getattr(module, name), media)
    assert not problems, "\n".join(problems)


def test_layout_check_catches_overlap_and_the_frame_edge(tmp_path, monkeypatch):
    monkeypatch.setenv("NC_VOICE", "silent")
    sys.path.insert(0, str(ANIMATIONS))
    from manim import RIGHT, Text
    from style import NarratedScene

    class Crowded(NarratedScene):
        def construct(self):
            self.next_section("crowded")
            self.add(
                Text("one label"), Text("another"), Text("far away").shift(RIGHT * 7)
            )
            self.wait(0.2)

    problems = check_layout(Crowded, tmp_path)
    assert any("overlaps" in p for p in problems)
    assert any("leaves the frame" in p for p in problems)


def test_captions_and_chapters_formats():
    from datetime import timedelta

    cues = [
        srt.Subtitle(1, timedelta(seconds=0), timedelta(seconds=2.5), "A neuron."),
        srt.Subtitle(2, timedelta(seconds=61), timedelta(seconds=63.25), "A layer."),
    ]
    vtt = videos.to_webvtt(cues)
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.500\nA neuron.")
    assert "00:01:01.000 --> 00:01:03.250" in vtt
    chapters = [
        videos.Chapter("Dot products", 0, 61.5),
        videos.Chapter("Layers", 61.5, 90),
    ]
    assert videos.chapters_text(chapters) == "0:00:00 Dot products\n0:01:01 Layers\n"


def test_chapter_titles_come_from_scene_docstrings():
    titles = videos.chapter_titles(ANIMATIONS / "02_hand_built_relu_circuits.py")
    assert titles[0] == "Two detectors and a reconstructor"
    assert len(titles) == len(
        videos.scene_names(ANIMATIONS / "02_hand_built_relu_circuits.py")
    )


def _streams(video: Path) -> dict[str, float]:
    with av.open(str(video)) as container:
        out = {}
        for stream in container.streams:
            if stream.type in ("video", "audio") and stream.duration:
                out[stream.type] = float(stream.duration * stream.time_base)
        out["chapters"] = [c["metadata"].get("title") for c in container.chapters()]
        out["chapter_ends"] = [
            float(c["end"] * c["time_base"]) for c in container.chapters()
        ]
    return out


@pytest.mark.scene
def test_one_lesson_renders_narrated_captioned_and_chaptered(tmp_path, monkeypatch):
    """Lesson 02 end to end at low quality, with the default offline voice."""
    monkeypatch.delenv("NC_VOICE", raising=False)
    script = ANIMATIONS / "02_hand_built_relu_circuits.py"
    out = videos.make_video(script, "low", out_dir=tmp_path)
    length = videos.video_duration(out)
    assert 4 * 60 <= length <= 8 * 60, f"{length:.0f} s is not a 4 to 8 minute story"
    streams = _streams(out)
    assert "audio" in streams, "the joined video has no narration track"
    assert abs(streams["audio"] - length) < 1.0
    assert streams["chapters"] == videos.chapter_titles(script)
    assert abs(streams["chapter_ends"][-1] - length) < 1.0
    cues = list(srt.parse(out.with_suffix(".srt").read_text()))
    assert len(cues) > 20 and all(c.content.strip() for c in cues)
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert (
        abs(cues[-1].end.total_seconds() - length) < 5.0
    )  # the last line ends the video
    vtt = out.with_suffix(".vtt").read_text()
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") == len(cues)
    chapters = out.with_suffix(".chapters.txt").read_text().splitlines()
    assert chapters[0].startswith("0:00:00 ") and len(chapters) == len(
        streams["chapters"]
    )
