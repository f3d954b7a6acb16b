"""Render a lesson's Manim scenes and join them into one video.

``python -m neuralcircuits.tooling.videos animations/02_hand_built_relu_circuits.py
--quality low`` renders every scene of the file (in the order the classes are
written, which is playback order) and writes build/videos/<stem>.mp4. Render
settings live in animations/manim.cfg; only the quality is chosen here.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import time
from pathlib import Path

from neuralcircuits.tooling.paths import BUILD, VIDEOS

QUALITY_FLAGS = {"low": "l", "medium": "m", "high": "h"}
QUALITY_DIRS = {"low": "480p15", "medium": "720p30", "high": "1080p60"}
MEDIA = BUILD / "media"


class RenderError(RuntimeError):
    """Manim could not render a lesson's scenes (its output says why)."""


def scene_names(script: Path) -> list[str]:
    """The Scene classes of a scene file, in the order they are written."""
    tree = ast.parse(script.read_text())
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = [getattr(b, "id", getattr(b, "attr", "")) for b in node.bases]
            if any(base.endswith("Scene") for base in bases) and not node.name.startswith("_"):
                names.append(node.name)
    return names


def render(script: Path, quality: str = "low", scenes: list[str] | None = None,
           media_dir: Path = MEDIA) -> list[Path]:
    """Render scenes of `script` with the manim CLI; return their video files in order."""
    scenes = scenes or scene_names(script)
    # One media folder per lesson: parallel renders (make -j) must not share
    # Manim's LaTeX cache, where two processes would write the same files.
    media_dir = media_dir / script.stem
    if not scenes:
        raise RenderError(f"{script} defines no Scene classes")
    command = [sys.executable, "-m", "manim", "render", f"-q{QUALITY_FLAGS[quality]}",
               "--media_dir", str(media_dir.resolve()), "--progress_bar", "none",
               script.name, *scenes]
    # Run from the script's folder so Manim reads animations/manim.cfg.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(script.parent.resolve()), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run(command, cwd=script.parent, env=env, text=True,
                          capture_output=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise RenderError(f"manim failed on {script} (exit {done.returncode})")
    folder = media_dir / "videos" / script.stem / QUALITY_DIRS[quality]
    return [folder / f"{name}.mp4" for name in scenes]


def join(parts: list[Path], out: Path) -> Path:
    """Concatenate videos with identical encoding settings into `out`, without re-encoding."""
    import av

    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w") as output:
        out_stream = None
        offset = 0
        for part in parts:
            with av.open(str(part)) as source:
                stream = source.streams.video[0]
                if out_stream is None:
                    out_stream = output.add_stream_from_template(stream)
                last = 0
                for packet in source.demux(stream):
                    if packet.dts is None:
                        continue
                    last = max(last, packet.pts + (packet.duration or 0))
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = out_stream
                    output.mux(packet)
                offset += last
    return out


def make_video(script: Path, quality: str = "low") -> Path:
    """Render every scene of a lesson and join them into build/videos/<stem>.mp4."""
    parts = render(script, quality)
    return join(parts, VIDEOS / f"{script.stem}.mp4")


def main(argv: list[str] | None = None) -> int:
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
    print(f"{out.relative_to(BUILD.parent)}  ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
