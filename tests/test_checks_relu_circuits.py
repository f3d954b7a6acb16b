"""Lesson 02's checks: a pass line for right answers, one clear sentence otherwise."""

import torch
from check_answers import fails_with, stub

from neuralcircuits.science import relu_training as rt
from neuralcircuits.teaching.relu_circuits.checks import (
    check_abs_weights,
    check_match_units,
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
