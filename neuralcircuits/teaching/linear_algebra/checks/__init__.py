"""Checks for lesson 01, the linear algebra of MLPs, one module per part of the lesson.

- ``layers``: a neuron as a dot product, a layer, coordinates in a basis, the
  rotation test (sections 1-4);
- ``analogy``: latent-space arithmetic (section 6);
- ``superposition``: how much a feature leaks, what excites a neuron (section 7).

Each check calls the learner's function on fixed inputs and either prints one
pass line or fails with one sentence naming what is wrong. Every check is
importable from here.
"""

from neuralcircuits.teaching.linear_algebra.checks.analogy import check_analogy
from neuralcircuits.teaching.linear_algebra.checks.layers import (
    check_coordinates_in_basis,
    check_linear_layer,
    check_neuron_output,
    check_rotate_hidden,
)
from neuralcircuits.teaching.linear_algebra.checks.superposition import (
    check_leak,
    check_most_exciting_input,
)

__all__ = [
    "check_analogy",
    "check_coordinates_in_basis",
    "check_leak",
    "check_linear_layer",
    "check_most_exciting_input",
    "check_neuron_output",
    "check_rotate_hidden",
]
