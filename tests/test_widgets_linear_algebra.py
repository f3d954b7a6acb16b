"""Lesson 01's pictures draw, and its explorers build and redraw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

import neuralcircuits.teaching.linear_algebra.widgets as pictures
from neuralcircuits.science import analogies, linear_maps, toy_classifier


@pytest.fixture(scope="module")
def moons():
    return toy_classifier.two_moons()


@pytest.fixture(scope="module")
def model():
    return toy_classifier.train_toy_mlp()


def test_weight_from_angle():
    assert torch.allclose(
        pictures.weight_from_angle(90, 2.0), torch.tensor([0.0, 2.0]), atol=1e-6
    )


def test_draw_matrix_grid_draws_columns():
    fig, ax = plt.subplots()
    M = linear_maps.matrix_from_controls(30, 1.5, 0.8, 0.5)
    pictures.draw_matrix_grid(ax, M)
    assert "det" in ax.get_title()
    assert len(ax.lines) > 18  # the original and the transformed grid
    plt.close(fig)


def test_draw_half_plane_reports_active_fractions(moons):
    X, y = moons
    fig, ax = plt.subplots()
    always = pictures.draw_half_plane(ax, torch.tensor([1.0, 0.0]), 100.0, X, y)
    assert always == (1.0, 1.0)
    never = pictures.draw_half_plane(ax, torch.tensor([1.0, 0.0]), -100.0, X, y)
    assert never == (0.0, 0.0)
    plt.close(fig)


def test_figures(model, moons):
    X, y = moons
    E = analogies.embeddings(analogies.train_counting_embeddings(steps=200))
    for fig in [
        pictures.plot_neuron_half_planes(model, X, y),
        pictures.plot_warp(model, X, y),
        pictures.plot_relu_bases(),
        pictures.plot_analogies(E),
    ]:
        assert fig.axes
        plt.close(fig)


def test_explorers_build_and_redraw(moons):
    X, y = moons
    matrix = pictures.matrix_explorer()
    assert {"angle", "scale_x", "scale_y", "shear"} <= {
        c.description.split()[0].replace("scale", "scale_")
        for c in matrix.children[:-1]
    } | {"scale_x", "scale_y"}
    matrix.children[0].value = 90  # moving a slider redraws without error
    matrix.update()
    neuron = pictures.neuron_explorer(X, y)
    neuron.children[2].value = 1.0
    neuron.update()
    plt.close("all")
