"""Neurons, layers, bases and the rotation test of a privileged basis."""

import math

import torch

from neuralcircuits.science import linear_maps


def test_neuron_is_a_dot_product_plus_bias():
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    w = torch.tensor([3.0, 4.0])
    assert torch.allclose(linear_maps.neuron(x, w, 1.0), torch.tensor([12.0, -3.0]))


def test_cosine_and_projection():
    d = torch.tensor([1.0, 1.0])
    assert math.isclose(
        float(linear_maps.cosine_similarity(torch.tensor([2.0, 2.0]), d)),
        1.0,
        rel_tol=1e-6,
    )
    assert (
        abs(float(linear_maps.cosine_similarity(torch.tensor([1.0, -1.0]), d))) < 1e-6
    )
    assert math.isclose(
        float(linear_maps.projection_length(torch.tensor([2.0, 0.0]), d)),
        math.sqrt(2),
        rel_tol=1e-6,
    )


def test_layer_equals_nn_linear_and_layers_collapse():
    g = torch.Generator().manual_seed(0)
    W1, b1 = torch.randn(4, 3, generator=g), torch.randn(4, generator=g)
    W2, b2 = torch.randn(2, 4, generator=g), torch.randn(2, generator=g)
    x = torch.randn(5, 3, generator=g)
    with torch.no_grad():
        assert torch.allclose(
            linear_maps.layer(x, W1, b1), linear_maps.as_nn_linear(W1, b1)(x)
        )
    W, b = linear_maps.collapse_linear_layers(W1, b1, W2, b2)
    two = linear_maps.layer(linear_maps.layer(x, W1, b1), W2, b2)
    assert torch.allclose(two, linear_maps.layer(x, W, b), atol=1e-5)


def test_coordinates_in_basis():
    basis = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    c = linear_maps.coordinates_in_basis(torch.tensor([3.0, 2.0]), basis)
    assert torch.allclose(c, torch.tensor([1.0, 2.0]))


def test_matrix_from_controls():
    assert torch.allclose(linear_maps.matrix_from_controls(), torch.eye(2))
    R = linear_maps.matrix_from_controls(angle_deg=90)
    assert torch.allclose(
        R @ torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), atol=1e-6
    )
    S = linear_maps.matrix_from_controls(scale_x=2, shear=0.5)
    assert torch.allclose(S, torch.tensor([[2.0, 0.5], [0.0, 1.0]]))


def test_grid_lines_shape_and_apply_matrix():
    lines = linear_maps.grid_lines(extent=1.0, n_lines=3, n_points=5)
    assert lines.shape == (6, 5, 2)
    assert torch.allclose(linear_maps.apply_matrix(2 * torch.eye(2), lines), 2 * lines)


def test_random_rotation_is_a_rotation():
    R = linear_maps.random_rotation(6, seed=3)
    assert torch.allclose(R @ R.T, torch.eye(6), atol=1e-5)
    assert math.isclose(float(torch.det(R)), 1.0, rel_tol=1e-4)
    assert torch.equal(R, linear_maps.random_rotation(6, seed=3))


def test_rotation_test_linear_versus_relu():
    g = torch.Generator().manual_seed(1)
    W_in, b_in = torch.randn(5, 2, generator=g), torch.randn(5, generator=g)
    W_out, b_out = torch.randn(3, 5, generator=g), torch.randn(3, generator=g)
    x = torch.randn(50, 2, generator=g)
    R = linear_maps.random_rotation(5, seed=0)
    assert linear_maps.rotation_test(x, W_in, b_in, W_out, b_out, R, relu=False) < 1e-4
    assert linear_maps.rotation_test(x, W_in, b_in, W_out, b_out, R, relu=True) > 0.1
    P = torch.eye(5)[[2, 0, 4, 1, 3]]  # a permutation keeps the ReLU network's function
    assert linear_maps.rotation_test(x, W_in, b_in, W_out, b_out, P, relu=True) < 1e-4


def test_relu_in_basis():
    points = torch.tensor([[1.0, -1.0]])
    assert torch.allclose(
        linear_maps.relu_in_basis(points, torch.eye(2)), torch.relu(points)
    )
    R = linear_maps.rotation_2d(math.pi / 4)
    assert not torch.allclose(linear_maps.relu_in_basis(points, R), torch.relu(points))
