"""The toy model of superposition (Elhage et al. 2022): the facts lesson 01 states."""

import math

import pytest
import torch

from neuralcircuits.science import superposition as sp


@pytest.fixture(scope="module")
def models():
    return sp.train_toy_models()


def test_training_is_deterministic(models):
    sp._train.cache_clear()  # retrain from scratch, not from the cache
    fresh = sp.train_toy_models()
    for s in sp.SLIDER_SPARSITIES:
        assert torch.equal(models[s].W, fresh[s].W) and torch.equal(
            models[s].b, fresh[s].b
        )


def test_dense_features_store_only_the_two_most_important_at_right_angles(models):
    m = models[0.0]
    assert sp.stored_features(m) == [0, 1]
    assert abs(sp.interference(m, 0, 1)) < 0.05
    assert sp.feature_norms(m)[:2].sub(1).abs().max() < 0.05


def test_middle_sparsity_stores_four_features_in_antipodal_pairs(models):
    for s in (0.5, 0.7, 0.8):
        m = models[s]
        assert len(sp.stored_features(m)) == 4
        assert all(abs(a - 90) < 8 for a in sp.polygon_angles(m))
        stored = sp.stored_features(m)
        G = sp.interference_matrix(m)
        for i in stored:  # each stored feature has an opposite one on its line
            cos = [G[i, j] / (G[i, i] * G[j, j]).sqrt() for j in stored if j != i]
            assert min(cos) < -0.95


def test_high_sparsity_stores_all_five_as_a_regular_pentagon(models):
    for s in (0.9, 0.95, 0.99):
        m = models[s]
        assert sp.stored_features(m) == [0, 1, 2, 3, 4]
        assert sp.is_regular_polygon(m)
        assert len(sp.polygon_angles(m)) == 5
    assert not sp.is_regular_polygon(models[0.0])
    assert not sp.is_regular_polygon(models[0.8])


def test_pentagon_neighbours_interfere_and_the_negative_bias_hides_most_of_it(models):
    m = models[0.9]
    D = sp.feature_directions(m)
    assert D.shape == (5, 2)
    G = sp.interference_matrix(m)
    assert torch.allclose(G[0, 1], torch.tensor(sp.interference(m, 0, 1)))
    # neighbours on the pentagon: cos 72° > 0, so they interfere positively
    for i in range(5):
        dots = sorted(G[i, j].item() for j in range(5) if j != i)
        assert dots[-1] > 0.3 and dots[-2] > 0.3  # two neighbours
        assert dots[0] < -0.8 and dots[1] < -0.8  # two across
    assert (m.b < -0.1).all() and (m.b > -0.3).all()  # "about -0.2 for every feature"
    for i in range(5):
        out = sp.output_when_alone(m, i)
        assert abs(out[i].item() - 1) < 0.25
        for j in range(5):
            if j == i:
                continue
            if G[i, j] > 0:  # a neighbour: a small false signal, about half of W_i·W_j
                assert 0 < out[j] < G[i, j] and 0.2 < out[j] / G[i, j] < 0.8
            else:  # across: the ReLU removes it
                assert out[j] == 0


def test_the_most_exciting_input_of_each_hidden_dimension_is_a_blend(models):
    m = models[0.9]
    for w in sp.neuron_weights(m):
        x = sp.most_exciting_input(w)
        assert abs(float(x.norm()) - 1) < 1e-5 and (x >= 0).all()
        assert int((x > 0.3).sum()) >= 2  # two or more features, not one
    assert sp.most_exciting_input(torch.tensor([-1.0, -0.2])).tolist() == [0.0, 1.0]


def test_loss_falls_with_sparsity(models):
    losses = [models[s].loss for s in (0.8, 0.9, 0.95, 0.99)]
    assert losses == sorted(losses, reverse=True)


def test_each_hidden_dimension_mixes_several_features(models):
    m = models[0.9]
    assert min(sp.features_per_neuron(m)) >= 4
    assert sp.neuron_weights(m).shape == (2, 5)


def test_rotating_the_hidden_plane_changes_nothing(models):
    m = models[0.9]
    r = sp.rotate_hidden(m, 37.0)
    x = sp.sample_features(64, 5, 0.5, torch.Generator().manual_seed(3))
    assert torch.allclose(m(x), r(x), atol=1e-5)
    assert not torch.allclose(m.W, r.W)
    assert sp.is_regular_polygon(r)


def test_samples_have_the_requested_sparsity():
    x = sp.sample_features(20000, 5, 0.9, torch.Generator().manual_seed(0))
    assert math.isclose(float((x == 0).float().mean()), 0.9, abs_tol=0.01)
    assert x.min() >= 0 and x.max() <= 1


def test_single_model_helper():
    m = sp.train_toy_model(0.0, steps=200, inits=1)
    assert m.W.shape == (2, 5) and m.b.shape == (5,) and m.sparsity == 0.0
