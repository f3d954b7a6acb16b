"""The lesson videos: scenes are narrated, laid out inside the frame, show what
is being said, and one lesson renders end to end with its voice, captions and
chapters.

Fast checks run every lesson once (Manim's skip-animations mode, a silent voice
paced like the default one, no video written): they compare the boxes of every
text on screen at the end of each section, and draw the frame at every sample
time of the lesson's video (every 5 s) to count the samples that show a bare
title (`videos.is_bare`: no ink below the title band). `test_scene_frames.py`
compares a few key diagrams pixel by pixel; the end-to-end test renders lesson
02 (the shortest to compute) at low quality with the default Piper voice and
measures the bare-title share again on the frames of the video it wrote.
"""

from __future__ import annotations

import ast
import functools
import importlib
import itertools
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
import srt
from PIL import Image

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


class FrameSampler:
    """Frames of a scene at the video's sample times, drawn while it runs in skip mode.

    Manim's skip-animations mode jumps each animation to its end without
    drawing; the sampler asks each animation for the moments that fall on a
    sample time (every `videos.SAMPLE_EVERY` s of the lesson's video, the first
    at half that), interpolates the animation there and draws the frame with a
    camera of its own (the config's size and background). Waits are frozen
    frames: they are drawn once their time has passed. `offset` is where the
    scene starts in its lesson's video.
    """

    def __init__(self, scene, offset: float = 0.0, section=lambda: ""):
        from manim import Camera

        self.scene, self.offset, self.section = scene, offset, section
        every = videos.SAMPLE_EVERY
        first = every / 2 + every * np.ceil(max(offset - every / 2, 0) / every)
        self.next = first - offset  # the next sample, in the scene's own time
        self.frames: list[tuple[float, str, np.ndarray]] = []
        self.camera = Camera()
        renderer = scene.renderer
        play, progression = renderer.play, scene.get_time_progression

        def sampled_play(*args, **kwargs):
            play(*args, **kwargs)
            while self.next < renderer.time:  # a wait: the frame it froze
                self._draw()

        def sampled_progression(
            run_time, description="", n_iterations=None, override_skip_animations=False
        ):
            if override_skip_animations or not renderer.skip_animations:
                return progression(
                    run_time, description, n_iterations, override_skip_animations
                )
            return self._moments(renderer.time - run_time, run_time)

        renderer.play = sampled_play
        scene.get_time_progression = sampled_progression

    def _moments(self, start: float, run_time: float):
        """The animation's sample times (it is drawn at each), then its end."""
        while self.next < start + run_time:
            yield self.next - start
            self._draw()
        yield run_time

    def _draw(self):
        from manim.utils.iterables import list_update

        self.camera.reset()
        self.camera.capture_mobjects(
            list_update(self.scene.mobjects, self.scene.foreground_mobjects)
        )
        frame = self.camera.pixel_array[..., :3].copy()
        self.frames.append((self.offset + self.next, self.section(), frame))
        self.next += videos.SAMPLE_EVERY


@dataclass
class SceneRun:
    """What one run of a scene found: layout problems, sampled frames, narration."""

    problems: list[str]
    frames: list[tuple[float, str, np.ndarray]]  # (time in the video, section, RGB)
    duration: float
    lines: list[str]


# Scene runs draw their sample frames at this size, with the course's background.
SAMPLE_CONFIG = {"pixel_width": 384, "pixel_height": 216}


def run_scene(cls, media: Path, offset: float = 0.0) -> SceneRun:
    """Run a scene without writing video: check its texts at the end of every
    section, sample its frames (from `offset`, its start in the lesson's video)
    and record the lines it narrates."""
    from manim import tempconfig

    problems: list[str] = []
    lines: list[str] = []
    colour = "#" + "".join(f"{c:02x}" for c in videos.background_colour())
    with tempconfig(
        {
            "dry_run": True,
            "media_dir": str(media),
            "disable_caching": True,
            "verbosity": "ERROR",
            "frame_rate": 5,
            "progress_bar": "none",
            "background_color": colour,
            **SAMPLE_CONFIG,
        }
    ):
        scene = cls(skip_animations=True)
        sections = ["start"]
        sampler = FrameSampler(
            scene, offset, lambda: f"{cls.__name__} [{sections[-1]}]"
        )
        original = scene.next_section
        narrate = scene._add_voiceover_text

        def next_section(name="unnamed", *args, **kwargs):
            problems.extend(layout_problems(scene, f"{cls.__name__} [{sections[-1]}]"))
            sections.append(name)
            return original(name, *args, **kwargs)

        def add_voiceover_text(text, *args, **kwargs):
            lines.append(text)
            return narrate(text, *args, **kwargs)

        scene.next_section = next_section
        scene._add_voiceover_text = add_voiceover_text
        scene.render()
        problems.extend(layout_problems(scene, f"{cls.__name__} [{sections[-1]}, end]"))
    return SceneRun(problems, sampler.frames, scene.renderer.time, lines)


def check_layout(cls, media: Path) -> list[str]:
    """Run a scene without drawing frames; check the texts at the end of every section."""
    return run_scene(cls, media).problems


@functools.cache
def lesson_run(script: Path) -> SceneRun:
    """Every scene of a lesson run in order, with a silent voice (once per session)."""
    saved = os.environ.get("NC_VOICE")
    os.environ["NC_VOICE"] = "silent"
    try:
        module = _scene_module(script)
        media = BUILD / "media" / "layout-test" / script.stem  # keeps LaTeX's cache
        runs, offset = [], 0.0
        for name in videos.scene_names(script):
            runs.append(run_scene(getattr(module, name), media, offset))
            offset += runs[-1].duration
    finally:
        if saved is None:
            os.environ.pop("NC_VOICE")
        else:
            os.environ["NC_VOICE"] = saved
    return SceneRun(
        [p for r in runs for p in r.problems],
        [f for r in runs for f in r.frames],
        offset,
        [line for r in runs for line in r.lines],
    )


@pytest.mark.scene
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_texts_stay_in_frame_and_apart(script: Path):
    problems = lesson_run(script).problems
    assert not problems, "\n".join(problems)


def bare_samples(frames) -> list[tuple[float, str, np.ndarray]]:
    """The sampled frames that show a title and nothing else (or nothing)."""
    background = videos.background_colour()
    return [f for f in frames if videos.is_bare(f[2], background)]


@pytest.mark.scene
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_the_screen_shows_what_is_said(script: Path):
    """Sampled every 5 s, at most 3% of a video shows a bare title."""
    run = lesson_run(script)
    bare = bare_samples(run.frames)
    share = len(bare) / len(run.frames)
    if share > videos.BARE_TITLE_LIMIT:
        folder = BUILD / "media" / "layout-test" / script.stem / "bare-title"
        folder.mkdir(parents=True, exist_ok=True)
        for t, _, frame in bare:
            Image.fromarray(frame).save(folder / f"{t:06.1f}s.png")
        where = "\n".join(f"  {t:5.1f} s: {section}" for t, section, _ in bare)
        pytest.fail(
            f"{len(bare)} of {len(run.frames)} samples ({share:.0%}) show a bare "
            f"title while the narration runs (frames in {folder}):\n{where}"
        )


@pytest.mark.scene
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_the_engine_hears_words_not_symbols(script: Path):
    """The lines as rendered, with the lesson's real numbers, reach the voice in words."""
    import narration

    lines = lesson_run(script).lines
    assert lines
    said = [narration.say(line) for line in lines]
    raw = [s for s in said if re.search(r"\d|%|_|\bReLU|\bMLP|\blogit|GPT", s)]
    assert not raw, "\n".join(raw)


def _demo_scenes():
    """A scene that narrates over a bare title, and one that draws while it talks."""
    sys.path.insert(0, str(ANIMATIONS))
    from manim import Axes, Create, FadeIn, Text
    from style import BODY_SIZE, NarratedScene, title_card

    words = " ".join(["the picture is explained here"] * 12)

    class BareTitle(NarratedScene):
        def construct(self):
            self.next_section("talk")
            with self.voiceover(text=words):
                title_card(self, "A title, and nothing else", "for a whole minute")

    class TitleThenPicture(NarratedScene):
        def construct(self):
            self.next_section("talk")
            with self.voiceover(text=words):
                title_card(self, "A title and its picture")
                self.play(Create(Axes(x_length=5, y_length=3)), run_time=1)
                self.play(FadeIn(Text("a label", font_size=BODY_SIZE)))

    return BareTitle, TitleThenPicture


@pytest.mark.scene
def test_the_bare_title_check_catches_a_talking_empty_screen(tmp_path, monkeypatch):
    monkeypatch.setenv("NC_VOICE", "silent")
    bare_scene, good_scene = _demo_scenes()
    bad = run_scene(bare_scene, tmp_path)
    assert len(bad.frames) >= 4
    assert len(bare_samples(bad.frames)) == len(bad.frames)
    good = run_scene(good_scene, tmp_path)
    assert len(good.frames) == len(bad.frames)
    assert len(bare_samples(good.frames)) <= 1  # the first 2.5 s: the picture is drawn


def test_the_bare_title_check_reads_a_rendered_video(tmp_path):
    """On an encoded video: 10 s of a title alone, then 10 s of title and picture."""
    background = videos.background_colour().astype(np.uint8)
    frame = np.broadcast_to(background, (480, 854, 3)).copy()
    frame[30:80, 250:600] = 230  # the title, inside the band
    with_picture = frame.copy()
    with_picture[200:400, 300:550] = (240, 200, 60)
    out = tmp_path / "bare.mp4"
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 854, 480, "yuv420p"
        for k in range(20 * 15):
            picture = frame if k < 10 * 15 else with_picture
            image = av.VideoFrame.from_ndarray(picture, format="rgb24")
            container.mux(stream.encode(image))
        container.mux(stream.encode(None))
    times, bare = videos.bare_title_times(out)
    assert times == [2.5, 7.5, 12.5, 17.5]
    assert bare == [2.5, 7.5]


def test_the_title_band_holds_the_tallest_title_card():
    """The detector ignores the band title_card draws in: it must hold a title and subtitle."""
    sys.path.insert(0, str(ANIMATIONS))
    from manim import Scene, config
    from style import title_card

    scene = Scene()
    group = title_card(
        scene, r"$\min(x_1, x_2)$: a title with $x_1$", r"at $x_2 = 0.5$"
    )
    band_bottom = config.frame_height / 2 - videos.TITLE_BAND * config.frame_height
    assert group.get_bottom()[1] > band_bottom + 0.1


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
def test_one_lesson_renders_narrated_captioned_and_chaptered(narrated_video):
    """Lesson 02 end to end at low quality, with the default offline voice."""
    check_narrated_video(narrated_video)


@pytest.mark.full
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_every_lesson_renders_narrated_captioned_and_chaptered(
    script: Path, tmp_path, monkeypatch
):
    """make test-full: every lesson's video, as make videos renders it."""
    monkeypatch.delenv("NC_VOICE", raising=False)
    check_narrated_video(videos.make_video(script, "low", out_dir=tmp_path))


def check_narrated_video(out: Path) -> None:
    """A 4 to 8 minute story with narration, captions and chapters, never a talking empty screen."""
    script = ANIMATIONS / f"{out.stem}.py"
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
    # the captions are the script as written, not as the engine was told to say it
    captions = " ".join(c.content for c in cues)
    assert "ReLU" in captions and "ray-loo" not in captions
    # the video as rendered, sampled every 5 s: the screen shows what is said
    times, bare = videos.bare_title_times(out)
    assert len(times) == len(videos.sample_times(length))
    assert len(bare) <= videos.BARE_TITLE_LIMIT * len(times), (
        f"a bare title at {bare} s"
    )
