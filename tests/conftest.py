"""Shared test set-up."""

import matplotlib

matplotlib.use("Agg")  # tests draw figures without a screen

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


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


# Tests compute every result: the on-disk result cache (science.disk_cache) is
# off unless a test turns it on for a folder of its own.
import os  # noqa: E402

os.environ.setdefault("NEURALCIRCUITS_CACHE", "off")
