"""Neural Circuits: the library behind the course's lessons, checks and videos.

One module per idea; lessons import what they need, e.g.
``from neuralcircuits.relu_circuits import abs_net``.
"""

__version__ = "0.1.0"
