"""Neural Circuits: the library behind the course's lessons, checks and videos.

Three layers, each importing only the layers below it (a test guards this):

- ``neuralcircuits.science``: the ideas, one module each (linear maps, ReLU
  circuits, sequence data, models, hooks, patching, circuit discovery, ...).
- ``neuralcircuits.teaching``: what a learner touches, one subpackage per
  lesson idea (its checks and widgets), plus the shared check helpers,
  figure style and video embedding.
- ``neuralcircuits.tooling``: the course's machinery (lesson generation,
  notebooks, videos, the course runner, benchmarks).

Lessons import what they need, e.g.
``from neuralcircuits.science.relu_circuits import abs_net``.
"""

__version__ = "0.1.0"
