"""The two-moons data and the small ReLU MLP that warps the plane."""

import pytest
import torch

from neuralcircuits.science import toy_classifier


@pytest.fixture(scope="module")
def model():
    return toy_classifier.train_toy_mlp()


def test_two_moons_is_seeded_and_balanced():
    X, y = toy_classifier.two_moons(n=100)
    assert X.shape == (100, 2) and y.shape == (100,)
    assert float(y.mean()) == 0.5
    X2, _ = toy_classifier.two_moons(n=100)
    assert torch.equal(X, X2)


def test_training_is_accurate_and_repeatable(model):
    X, y = toy_classifier.two_moons()
    assert toy_classifier.accuracy(model, X, y) > 0.97
    again = toy_classifier.train_toy_mlp()
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


def test_every_hidden_neuron_is_alive(model):
    X, _ = toy_classifier.two_moons()
    active = model.hidden_acts(X).gt(0).float().mean(0)
    assert (active > 0.05).all() and (active < 0.95).all()


def test_feature_plane_and_warp(model):
    X, _ = toy_classifier.two_moons()
    F = toy_classifier.feature_map(model, X)
    assert F.shape == X.shape
    assert torch.allclose(toy_classifier.warp_path(model, X, 0.0), X)
    assert torch.allclose(toy_classifier.warp_path(model, X, 1.0), F)
    lines = torch.zeros(3, 4, 2)
    assert toy_classifier.feature_map(model, lines).shape == (3, 4, 2)
    w, b = toy_classifier.readout_line(model)
    with torch.no_grad():
        assert torch.allclose(F @ w + b, model(X), atol=1e-5)


def test_linear_part_is_affine(model):
    p = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    q = toy_classifier.linear_part_map(model, p)
    assert torch.allclose(q[3] - q[2], q[1] - q[0], atol=1e-5)


def test_half_plane_mask():
    points = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    mask = toy_classifier.half_plane_mask(points, torch.tensor([1.0, 0.0]), 2.0)
    assert mask.tolist() == [True, True]
    mask = toy_classifier.half_plane_mask(points, torch.tensor([1.0, 0.0]), -0.5)
    assert mask.tolist() == [True, False]
