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
