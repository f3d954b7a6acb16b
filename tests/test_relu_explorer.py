"""The 1-2-1 weight explorer computes the curve and error it shows."""

import pytest
from conftest import widget_redraws

from neuralcircuits.teaching.relu_circuits.widgets import explorer_curve, relu_explorer


def test_exact_weights_give_zero_error():
    assert explorer_curve(1, -1, 1, 1, "abs")[3] == 0.0
    assert explorer_curve(2, -0.5, 0.5, -2, "identity")[3] == pytest.approx(
        0, abs=1e-12
    )


def test_a_dead_unit_leaves_an_error():
    x, y, _, mse = explorer_curve(1, 0.5, 1, 0.5, "abs")  # both units positive
    assert (y[x < 0] == 0).all() and mse > 0.5


def test_widget_redraws_when_a_slider_moves():
    box = relu_explorer("negation")
    assert widget_redraws(box, "w1 (in)", -1.0) == 1
