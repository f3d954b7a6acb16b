"""Shared test set-up."""

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
import os  # noqa: E402

os.environ.setdefault("NEURALCIRCUITS_CACHE", "off")
