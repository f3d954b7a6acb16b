"""Every scene of every lesson video renders at low quality, and the scenes join."""

from pathlib import Path

import av
import pytest

from neuralcircuits.tooling.paths import ANIMATIONS, lesson_scripts
from neuralcircuits.tooling.videos import join, render, scene_names

SCRIPTS = lesson_scripts(ANIMATIONS)


def duration(video: Path) -> float:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        return float(stream.frames / stream.average_rate)


@pytest.mark.scene
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_lesson_video_renders_and_joins(script: Path, tmp_path: Path):
    names = scene_names(script)
    assert len(names) >= 3, f"{script.name} should hold at least three scenes"
    parts = render(script, quality="low")
    for part in parts:
        assert part.exists() and duration(part) > 1.0, f"{part.name} is empty"
    joined = join(parts, tmp_path / "joined.mp4")
    assert duration(joined) == pytest.approx(sum(duration(p) for p in parts), rel=0.05)
