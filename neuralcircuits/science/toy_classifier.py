"""A small ReLU network that learns to separate two moons in the plane.

The network is 2 -> d_hidden (ReLU) -> 2 -> 1. Each hidden neuron is a
half-plane detector in the input plane; the 2-D "feature" layer after it is a
plane again, so we can draw how the network warps (folds) the input plane,
and the readout is one straight line in that feature plane.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def two_moons(
    n: int = 300, noise: float = 0.12, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (X [n, 2], y [n]) of two interleaved half-circles, labels 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    n_top = n // 2
    t_top = torch.rand(n_top, generator=g) * math.pi
    t_bottom = torch.rand(n - n_top, generator=g) * math.pi
    top = torch.stack([torch.cos(t_top), torch.sin(t_top)], -1)
    bottom = torch.stack([1 - torch.cos(t_bottom), 0.5 - torch.sin(t_bottom)], -1)
    X = torch.cat([top, bottom]) + noise * torch.randn(n, 2, generator=g)
    X = (X - torch.tensor([0.5, 0.25])) * 1.6  # centre on the origin, about [-2.4, 2.4]
    y = torch.cat([torch.zeros(n_top), torch.ones(n - n_top)])
    return X, y


@contextmanager
def single_thread() -> Iterator[None]:
    """Run tiny trainings on one CPU thread: faster on small tensors, and repeatable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class ToyMLP(nn.Module):
    """2 -> d_hidden -> ReLU -> 2 (the feature plane) -> 1 logit."""

    def __init__(self, d_hidden: int = 6):
        super().__init__()
        self.hidden = nn.Linear(2, d_hidden)  # W_in: [d_hidden, 2]
        self.feature = nn.Linear(d_hidden, 2)  # [2, d_hidden]
        self.readout = nn.Linear(2, 1)

    def hidden_acts(self, x: torch.Tensor) -> torch.Tensor:
        """Return the ReLU neurons' activations, [batch, d_hidden]."""
        return torch.relu(self.hidden(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return where each input lands in the 2-D feature plane, [batch, 2]."""
        return self.feature(self.hidden_acts(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logit of class 1, [batch]."""
        return self.readout(self.features(x)).squeeze(-1)


def train_toy_mlp(
    d_hidden: int = 6, steps: int = 400, lr: float = 0.03, seed: int = 1
) -> ToyMLP:
    """Return a ToyMLP trained (full batch, Adam, seeded) on `two_moons()`."""
    X, y = two_moons()
    with single_thread():
        torch.manual_seed(seed)
        model = ToyMLP(d_hidden)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for _ in range(steps):
            loss = nn.functional.binary_cross_entropy_with_logits(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Return the fraction of points the model puts on the right side (logit > 0 is class 1)."""
    with torch.no_grad():
        return float(((model(X) > 0).float() == y).float().mean())


def half_plane_mask(points: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    """Return True where a ReLU neuron with weights w and bias b is active (w·p + b > 0)."""
    return points @ w + b > 0


@torch.no_grad()
def feature_map(model: ToyMLP, points: torch.Tensor) -> torch.Tensor:
    """Return the feature-plane image of points [..., 2] (same leading shape)."""
    return model.features(points.reshape(-1, 2)).reshape(points.shape)


@torch.no_grad()
def linear_part_map(model: ToyMLP, points: torch.Tensor) -> torch.Tensor:
    """Return where points would land with the ReLU removed (one affine map)."""
    h = model.feature(model.hidden(points.reshape(-1, 2)))
    return h.reshape(points.shape)


@torch.no_grad()
def warp_path(model: ToyMLP, points: torch.Tensor, t: float) -> torch.Tensor:
    """Return the points a fraction t of the way from the input plane to the feature plane."""
    return (1 - t) * points + t * feature_map(model, points)


@torch.no_grad()
def readout_line(model: ToyMLP) -> tuple[torch.Tensor, float]:
    """Return (w [2], b) of the readout: class 1 where w·feature + b > 0."""
    return model.readout.weight[0].clone(), float(model.readout.bias[0])
