"""Lesson 01's superposition pictures draw at the column width, and the slider switches runs."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import neuralcircuits.teaching.linear_algebra.superposition as toy_pictures
from neuralcircuits.science import superposition as sp


@pytest.fixture(scope="module")
def models():
    return sp.train_toy_models()


def _texts_readable(fig):
    fig.canvas.draw()
    sizes = [t.get_fontsize() for ax in fig.axes for t in ax.texts if t.get_text()]
    sizes += [ax.title.get_fontsize() for ax in fig.axes]
    return min(sizes) >= 11


def test_runs_figure_has_one_panel_per_sparsity(models):
    fig = toy_pictures.plot_superposition_runs(models, (0.0, 0.8, 0.9))
    assert len(fig.axes) == 3
    assert fig.get_size_inches()[0] <= toy_pictures.COLUMN_IN
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "sparsity 0: 2 stored",
        "sparsity 0.8: 4 stored",
        "sparsity 0.9: 5 stored",
    ]
    assert _texts_readable(fig)
    plt.close(fig)


def test_one_model_figure_shows_arrows_and_interference(models):
    fig = toy_pictures.plot_superposition(models[0.9])
    assert len(fig.axes) == 2
    assert len(fig.axes[1].texts) == 25  # one number per entry of W^T W
    assert fig.get_size_inches()[0] <= toy_pictures.COLUMN_IN
    assert _texts_readable(fig)
    plt.close(fig)


def test_table_lists_every_sparsity(models):
    table = toy_pictures.feature_table(models)
    assert len(table.splitlines()) == 1 + len(sp.SLIDER_SPARSITIES)
    assert max(len(line) for line in table.splitlines()) <= 80


def test_explorer_switches_between_trained_runs(models):
    widget = toy_pictures.superposition_explorer(models)
    slider = widget.children[0]
    assert list(slider.options) == sorted(models)
    assert slider.value == 0.9
    before = len(plt.get_fignums())
    slider.value = 0.0  # redraws with the dense model, no retraining
    assert len(plt.get_fignums()) == before + 1
    assert plt.gcf().axes[0].get_title() == "sparsity 0: 2 stored"
    plt.close("all")
