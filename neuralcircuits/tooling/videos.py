"""Render a lesson's Manim scenes and join them into one narrated, captioned, chaptered video.

``python -m neuralcircuits.tooling.videos animations/02_hand_built_relu_circuits.py
--quality low`` renders every scene of the file (in the order the classes are
written, which is playback order) and writes, in build/videos/:

- ``<stem>.mp4``: the scenes joined, with the narration's audio track and one
  chapter per scene in the container's metadata (titled by the first line of
  the scene class's docstring);
- ``<stem>.srt`` and ``<stem>.vtt``: captions, the narration's text timed to it
  (the scenes' own subcaption files, shifted to their place in the video);
- ``<stem>.chapters.txt``: one ``H:MM:SS title`` line per chapter.

Render settings live in animations/manim.cfg; only the quality is chosen here,
and the voice by the environment variable NC_VOICE (see animations/narration.py).

It also measures how often the video shows a bare title while the narration
runs: every 5 seconds (the first sample at 2.5 s) it takes a frame and looks
for ink, pixels away from the course's background colour, below the band at
the top of the frame where ``title_card`` puts a title and its subtitle. A
frame with (almost) no ink there shows a title and nothing else, or nothing
at all. tests/test_scenes.py holds every lesson to at most 3% of its samples.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import srt

from neuralcircuits.tooling.paths import ANIMATIONS, BUILD, VIDEOS

QUALITY_FLAGS = {"low": "l", "medium": "m", "high": "h"}
QUALITY_DIRS = {"low": "480p15", "medium": "720p30", "high": "1080p60"}
MEDIA = BUILD / "media"
AUDIO_RATE = 44100


# The bare-title measure (see the module docstring).
SAMPLE_EVERY = 5.0  # seconds between two samples of a video
TITLE_BAND = 0.2  # the top fifth of the frame: title_card's title and subtitle
INK_LEVEL = 40  # a pixel is ink when a channel is this far (of 255) from the background
BARE_INK = 0.001  # less ink than this share of the pixels below the band is nothing
BARE_TITLE_LIMIT = 0.03  # the largest share of a video's samples that may be bare


class RenderError(RuntimeError):
    """Manim could not render a lesson's scenes (its output says why)."""


def _scene_classes(script: Path) -> list[ast.ClassDef]:
    tree = ast.parse(script.read_text())
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = [getattr(b, "id", getattr(b, "attr", "")) for b in node.bases]
            if any(
                base.endswith("Scene") for base in bases
            ) and not node.name.startswith("_"):
                found.append(node)
    return found


def scene_names(script: Path) -> list[str]:
    """The Scene classes of a scene file, in the order they are written."""
    return [node.name for node in _scene_classes(script)]


def chapter_titles(script: Path) -> list[str]:
    """Each scene's chapter title: its docstring's first line, else its name in words."""
    titles = []
    for node in _scene_classes(script):
        doc = ast.get_docstring(node)
        if doc:
            titles.append(doc.strip().splitlines()[0].rstrip("."))
        else:
            titles.append(re.sub(r"(?<!^)(?=[A-Z])", " ", node.name))
    return titles


def render(
    script: Path,
    quality: str = "low",
    scenes: list[str] | None = None,
    media_dir: Path = MEDIA,
) -> list[Path]:
    """Render scenes of `script` with the manim CLI; return their video files in order."""
    scenes = scenes or scene_names(script)
    # One media folder per lesson: parallel renders (make -j) must not share
    # Manim's LaTeX cache, where two processes would write the same files.
    media_dir = media_dir / script.stem
    if not scenes:
        raise RenderError(f"{script} defines no Scene classes")
    command = [
        sys.executable,
        "-m",
        "manim",
        "render",
        f"-q{QUALITY_FLAGS[quality]}",
        "--media_dir",
        str(media_dir.resolve()),
        "--progress_bar",
        "none",
        script.name,
        *scenes,
    ]
    # Run from the script's folder so Manim reads animations/manim.cfg.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(script.parent.resolve()), os.environ.get("PYTHONPATH")) if p
        ),
    }
    done = subprocess.run(
        command, cwd=script.parent, env=env, text=True, capture_output=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise RenderError(f"manim failed on {script} (exit {done.returncode})")
    folder = media_dir / "videos" / script.stem / QUALITY_DIRS[quality]
    return [folder / f"{name}.mp4" for name in scenes]


def video_duration(video: Path) -> float:
    """Seconds of video in a file (frames / frame rate)."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.average_rate is None:
            raise ValueError(f"{video}: its video stream has no frame rate")
        return float(stream.frames / stream.average_rate)


def _audio(part: Path, seconds: float) -> np.ndarray:
    """A part's audio as mono float32 at AUDIO_RATE, cut or padded to `seconds`."""
    import av

    n = round(seconds * AUDIO_RATE)
    out = np.zeros(n, dtype=np.float32)
    with av.open(str(part)) as source:
        if not source.streams.audio:
            return out
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        chunks = []
        for frame in source.decode(source.streams.audio[0]):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    if chunks:
        samples = np.concatenate(chunks)[:n]
        out[: len(samples)] = samples
    return out


@dataclass
class Chapter:
    """A titled stretch of a joined video, in seconds."""

    title: str
    start: float
    end: float


def join(
    parts: list[Path], out: Path, titles: list[str] | None = None
) -> list[Chapter]:
    """Concatenate scene videos into `out`: video copied, audio joined, one chapter per part.

    The parts must share their video encoding (one Manim render). Returns the
    chapters (title, start and end in seconds).
    """
    import av

    titles = titles or [p.stem for p in parts]
    durations = [video_duration(p) for p in parts]
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    chapters = [
        Chapter(t, float(s), float(s + d))
        for t, s, d in zip(titles, starts, durations, strict=True)
    ]
    audio = np.concatenate(
        [_audio(p, d) for p, d in zip(parts, durations, strict=True)]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w") as output:
        # Every stream is added before the first packet is written.
        with av.open(str(parts[0])) as first:
            out_stream = output.add_stream_from_template(first.streams.video[0])
            time_base = first.streams.video[0].time_base
            if time_base is None:
                raise ValueError(f"{parts[0]}: its video stream has no time base")
        sound = None
        if np.abs(audio).max(initial=0) > 0:
            sound = output.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        offset = 0
        for part in parts:
            with av.open(str(part)) as source:
                last = 0
                for packet in source.demux(source.streams.video[0]):
                    if packet.dts is None:
                        continue
                    if packet.pts is None:
                        raise ValueError(f"{part}: a video packet without a timestamp")
                    last = max(last, packet.pts + (packet.duration or 0))
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = out_stream
                    output.mux(packet)
                offset += last
        if sound is not None:
            step = 1024 * 16
            for i in range(0, len(audio), step):
                frame = av.AudioFrame.from_ndarray(
                    audio[None, i : i + step], format="flt", layout="mono"
                )
                frame.sample_rate = AUDIO_RATE
                frame.pts = i
                frame.time_base = Fraction(1, AUDIO_RATE)
                output.mux(sound.encode(frame))
            output.mux(sound.encode(None))
        output.set_chapters(
            [
                {
                    "id": k + 1,
                    "start": int(c.start / time_base),
                    "end": int(c.end / time_base),
                    "time_base": time_base,
                    "metadata": {"title": c.title},
                }
                for k, c in enumerate(chapters)
            ]
        )
    return chapters


def join_captions(parts: list[Path], chapters: list[Chapter]) -> list[srt.Subtitle]:
    """The parts' subcaption files (Manim writes <scene>.srt) as one list, shifted in time."""
    joined = []
    for part, chapter in zip(parts, chapters, strict=True):
        file = part.with_suffix(".srt")
        if not file.exists():
            continue
        shift = timedelta(seconds=chapter.start)
        end = timedelta(seconds=chapter.end)
        for cue in srt.parse(file.read_text(encoding="utf-8")):
            joined.append(
                srt.Subtitle(
                    0, cue.start + shift, min(cue.end + shift, end), cue.content
                )
            )
    return list(srt.sort_and_reindex(joined))


def _vtt_time(t: timedelta) -> str:
    ms = round(t.total_seconds() * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def to_webvtt(cues: list[srt.Subtitle]) -> str:
    """The captions as WebVTT (what an HTML5 <track> reads)."""
    blocks = ["WEBVTT"]
    for cue in cues:
        blocks.append(
            f"{cue.index}\n{_vtt_time(cue.start)} --> {_vtt_time(cue.end)}\n"
            f"{cue.content}"
        )
    return "\n\n".join(blocks) + "\n"


def chapters_text(chapters: list[Chapter]) -> str:
    """One ``H:MM:SS title`` line per chapter (the format video sites read)."""
    lines = []
    for c in chapters:
        s = int(c.start)
        lines.append(f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d} {c.title}")
    return "\n".join(lines) + "\n"


def background_colour(cfg: Path = ANIMATIONS / "manim.cfg") -> np.ndarray:
    """The scenes' background colour (manim.cfg's ``background_color``) as RGB 0-255."""
    parser = configparser.ConfigParser()
    parser.read(cfg)
    colour = parser.get("CLI", "background_color", fallback="#000000").lstrip("#")
    return np.array([int(colour[i : i + 2], 16) for i in (0, 2, 4)])


def sample_times(duration: float, every: float = SAMPLE_EVERY) -> list[float]:
    """When a video of `duration` seconds is sampled: every `every` s, from every/2."""
    return [float(t) for t in np.arange(every / 2, duration, every)]


def ink_below_title(frame: np.ndarray, background: np.ndarray) -> float:
    """The share of the pixels below the title band that differ from the background."""
    band = round(frame.shape[0] * TITLE_BAND)
    below = frame[band:, :, :3].astype(np.int16)
    return float((np.abs(below - background).max(-1) > INK_LEVEL).mean())


def is_bare(frame: np.ndarray, background: np.ndarray) -> bool:
    """True when a frame shows a title and nothing else (or nothing at all)."""
    return ink_below_title(frame, background) < BARE_INK


def frames_at(video: Path, times: list[float]) -> list[np.ndarray]:
    """The frames (RGB arrays) a video shows at each of `times` (seconds, ascending)."""
    import av

    frames: list[np.ndarray] = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            end = frame.time + (1 / float(stream.average_rate or 15))
            while len(frames) < len(times) and times[len(frames)] < end:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == len(times):
                break
    return frames


def bare_title_times(video: Path) -> tuple[list[float], list[float]]:
    """The sample times of a rendered video, and those that show a bare title."""
    times = sample_times(video_duration(video))
    background = background_colour()
    frames = frames_at(video, times)
    bare = [t for t, f in zip(times, frames, strict=False) if is_bare(f, background)]
    return times, bare


def make_video(script: Path, quality: str = "low", out_dir: Path = VIDEOS) -> Path:
    """Render every scene of a lesson; write its mp4, captions and chapters into `out_dir`."""
    parts = render(script, quality)
    out = out_dir / f"{script.stem}.mp4"
    chapters = join(parts, out, chapter_titles(script))
    cues = join_captions(parts, chapters)
    out.with_suffix(".srt").write_text(srt.compose(cues), encoding="utf-8")
    out.with_suffix(".vtt").write_text(to_webvtt(cues), encoding="utf-8")
    out.with_suffix(".chapters.txt").write_text(
        chapters_text(chapters), encoding="utf-8"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: render and join a lesson's video; return the exit status."""
    parser = argparse.ArgumentParser(description="Render and join a lesson's video.")
    parser.add_argument("script", type=Path)
    parser.add_argument("--quality", choices=sorted(QUALITY_FLAGS), default="low")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = make_video(args.script, args.quality)
    except RenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    minutes, seconds = divmod(round(video_duration(out)), 60)
    times, bare = bare_title_times(out)
    print(
        f"{out.relative_to(BUILD.parent)}: {minutes}:{seconds:02d} long, rendered in "
        f"{elapsed:.0f} s (voice: {os.environ.get('NC_VOICE', 'piper')}); a bare "
        f"title in {len(bare)} of {len(times)} samples ({len(bare) / max(len(times), 1):.0%})"
        + (f" at {', '.join(f'{t:.0f} s' for t in bare)}" if bare else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
