"""Lesson 02's checks: a pass line for right answers, one clear sentence otherwise."""

import torch
from check_answers import fails_with, stub

from neuralcircuits.science import relu_circuits as rc
from neuralcircuits.science import relu_training as rt
from neuralcircuits.teaching.relu_circuits.checks import (
    check_abs_weights,
    check_match_units,
    check_min_counterexample,
    check_min_weights,
    check_silent_inputs,
)


def test_abs_weights(capsys):
    check_abs_weights(lambda: (torch.tensor([[2.0], [-0.5]]), torch.tensor([[0.5, 2.0]])))
    assert "✔" in capsys.readouterr().out
    fails_with(check_abs_weights, lambda: (torch.tensor([[1.0], [-1.0]]),
                                           torch.tensor([[1.0, -1.0]])),
               "at input -3", "identity")
    fails_with(check_abs_weights, lambda: (torch.tensor([[1.0, -1.0]]),
                                           torch.tensor([[1.0, 1.0]])), "shape (1, 2)")
    fails_with(check_abs_weights, lambda: ([[1.0], [-1.0]], [[1.0, 1.0]]), "torch.Tensor")
    fails_with(check_abs_weights, lambda: None, "None")
    fails_with(check_abs_weights, stub, "not written yet")
    fails_with(check_abs_weights, lambda: 1 / 0, "ZeroDivisionError")


def test_min_weights(capsys):
    good = (torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]]),
            torch.tensor([[1.0, -1.0, -1.0]]))
    check_min_weights(lambda: good)
    assert "✔" in capsys.readouterr().out
    mirror = (torch.tensor([[0.0, 1.0], [0.0, -1.0], [-1.0, 1.0]]),
              torch.tensor([[1.0, -1.0, -1.0]]))
    check_min_weights(lambda: mirror)
    as_max = (good[0] * torch.tensor([[1.0], [1.0], [-1.0]]), torch.tensor([[1.0, -1.0, 1.0]]))
    fails_with(check_min_weights, lambda: as_max, "that is max")
    fails_with(check_min_weights, lambda: (good[0][:2], good[1][:, :2]), "fewer than the 3")
    fails_with(check_min_weights, lambda: (good[0], good[1].T), "W_out has shape (3, 1)")
    fails_with(check_min_weights, stub, "not written yet")


def test_match_units(capsys):
    check_match_units(rt.match_units)
    assert "✔" in capsys.readouterr().out

    def greedy_reuse(learned, reference):  # forgets that each unit is used once
        return [int((reference[i] @ learned.T).argmax()) for i in range(len(reference))]

    fails_with(check_match_units, greedy_reuse, "should return")
    fails_with(check_match_units, lambda learned, reference: None, "returned None")
    fails_with(check_match_units, lambda learned, reference: [0], "one per reference unit")
    fails_with(check_match_units, stub, "not written yet")


def test_silent_inputs(capsys):
    check_silent_inputs(rt.silent_inputs)
    assert "✔" in capsys.readouterr().out
    fails_with(check_silent_inputs, lambda w, x: (x @ w.T < 0).all(dim=1), "ReLU(0) = 0")
    fails_with(check_silent_inputs, lambda w, x: (x @ w.T <= 0), "shape")
    fails_with(check_silent_inputs, lambda w, x: (x @ w.T <= 0).any(dim=1), "at input")
    fails_with(check_silent_inputs, lambda w, x: None, "None")


# --- min_counterexample (the ●●● exercise) ------------------------------------


def _net(W_in, W_out, x):
    return (torch.relu(x @ W_in.T) @ W_out.T)[..., 0]


def _grid_search(W_in, W_out):
    """A correct variant written differently: search a grid over the whole square."""
    g = torch.linspace(-1, 1, 41)
    x = torch.cartesian_prod(g, g)
    error = (_net(W_in, W_out, x) - x.min(dim=1).values).abs()
    return x[int(error.argmax())].tolist()  # a list of two floats


def _positive_quadrant_search(W_in, W_out):
    g = torch.linspace(0, 2, 21)
    x = torch.cartesian_prod(g, g)
    error = (_net(W_in, W_out, x) - x.min(dim=1).values).abs()
    return x[int(error.argmax())]


def _compares_with_max(W_in, W_out):
    g = torch.linspace(-1, 1, 41)
    x = torch.cartesian_prod(g, g)
    error = (_net(W_in, W_out, x) - x.max(dim=1).values).abs()
    return x[int(error.argmax())]


def _mutates(W_in, W_out):
    W_in.relu_()
    return rc.min_counterexample(W_in, W_out)


def test_min_counterexample(capsys):
    check_min_counterexample(rc.min_counterexample)
    check_min_counterexample(_grid_search)
    assert "refutes all" in capsys.readouterr().out
    fails_with(check_min_counterexample, stub, "not written yet")
    fails_with(check_min_counterexample, lambda W_in, W_out: None, "None")
    fails_with(check_min_counterexample, lambda W_in, W_out: torch.tensor([1.0, 1.0]),
               "agrees with min", "without the negativeness detector")
    fails_with(check_min_counterexample, lambda W_in, W_out: torch.tensor([1.0, -1.0]),
               "agrees with min")
    fails_with(check_min_counterexample, _positive_quadrant_search, "agrees with min")
    fails_with(check_min_counterexample, _compares_with_max, "agrees with min")
    fails_with(check_min_counterexample,
               lambda W_in, W_out: rc.min_counterexample(W_in, W_out) * 1e-6,
               "agrees with min")
    fails_with(check_min_counterexample,
               lambda W_in, W_out: rc.min_counterexample(W_in, W_out) * 1e6, "length 1000")
    fails_with(check_min_counterexample, _mutates, "in place")
    fails_with(check_min_counterexample,
               lambda W_in, W_out: rc.min_counterexample(W_in, W_out)[None], "shape (1, 2)")
