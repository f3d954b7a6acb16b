"""Shared test set-up."""

import os

import matplotlib

matplotlib.use("Agg")  # tests draw figures without a screen

import matplotlib.pyplot as plt
import pytest
import torch


def pytest_configure(config):
    """One thread for torch: tests run beside each other on small machines."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def model():
    """toy-seq, the course's embedded model, loaded once (a module that needs another model defines its own)."""
    from neuralcircuits.science import toy_seq

    return toy_seq.load()


@pytest.fixture(scope="session")
def narrated_video():
    """Lesson 02's video, narrated with the default voice at low quality, rendered once.

    The pipeline end to end (scenes, voice, captions, chapters, the joined
    mp4), shared by the scene tests, the site and the slides; under a file
    lock, so test processes run side by side render it once.
    """
    from filelock import FileLock

    from neuralcircuits.tooling.paths import ANIMATIONS, BUILD
    from neuralcircuits.tooling.videos import make_video

    script = ANIMATIONS / "02_hand_built_relu_circuits.py"
    out_dir = BUILD / "test-videos"
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / f"{script.stem}.mp4"
    with FileLock(str(out_dir / ".lock")):
        stamp = out_dir / ".session"
        session = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))
        if not (video.exists() and stamp.exists() and stamp.read_text() == session):
            env = os.environ.pop("NC_VOICE", None)  # the default voice
            try:
                make_video(script, "low", out_dir=out_dir)
            finally:
                if env is not None:
                    os.environ["NC_VOICE"] = env
            stamp.write_text(session)
    return video


@pytest.fixture(autouse=True)
def close_figures():
    """Figures drawn by a test (widgets, plots) are closed after it."""
    yield
    plt.close("all")


def widget_redraws(box, control_description: str, value) -> int:
    """Move the control with this description inside a widget box; return how many figures it drew."""
    import ipywidgets as widgets

    def controls(w):
        yield w
        for child in getattr(w, "children", ()):
            yield from controls(child)

    matches = [
        c
        for c in controls(box)
        if isinstance(c, widgets.ValueWidget) and c.description == control_description
    ]
    assert matches, f"no control named {control_description!r} in the widget"
    before = len(plt.get_fignums())
    matches[0].value = value
    return len(plt.get_fignums()) - before


def pytest_addoption(parser):
    """Manim's frames_comparison options (tests/test_scene_frames.py)."""
    parser.addoption(
        "--set_test",
        action="store_true",
        default=False,
        help="write the control frames of the scene frame tests",
    )
    parser.addoption(
        "--show_diff",
        action="store_true",
        default=False,
        help="show the differing frames when a scene frame test fails",
    )


# Tests compute every result: the on-disk result cache (science.disk_cache) is
# off unless a test turns it on for a folder of its own.
os.environ.setdefault("NEURALCIRCUITS_CACHE", "off")
