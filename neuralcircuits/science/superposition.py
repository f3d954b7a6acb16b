"""Superposition: Elhage et al. (2022), "Toy Models of Superposition", in a few seconds.

The toy model squeezes n sparse features through a 2-D bottleneck and back:

    h  = W x                  # [2]   W: [2, n_features], no bias, no ReLU
    x' = ReLU(W^T h + b)      # [n_features]

Each feature x_i is 0 with probability `sparsity` and uniform in [0, 1]
otherwise; the loss is the importance-weighted squared error
sum_i I_i (x_i - x'_i)^2 with I_i = decay**i. Column W[:, i] is feature i's
direction in the 2-D hidden space. With dense features (sparsity 0) the model
stores only the two most important features, at right angles; with sparse
features it stores all of them, more features than dimensions, at equal
angles (a regular pentagon for five features at sparsity 0.9 and above). The
price is interference: W_i · W_j is what feature j's output reads when only
feature i is on, and the negative bias b_j is what hides it.

Training is Adam on fresh mini-batches from a seeded generator, on
one CPU thread, several random starts per sparsity trained side by side; the
start with the lowest loss on a fixed evaluation set is kept (as Elhage et al.
do, since a start can settle with a feature left out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

# The sparsities the lesson's slider switches between.
SLIDER_SPARSITIES: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
N_FEATURES = 5
DECAY = 0.9
STORED_NORM = 0.5  # a feature is "stored" when its direction is at least this long


@dataclass(frozen=True)
class ToyModel:
    """One trained toy model: W [2, n_features], b [n_features] and how it was trained."""

    W: torch.Tensor  # [2, n_features]
    b: torch.Tensor  # [n_features]
    sparsity: float
    importance: torch.Tensor  # [n_features]
    loss: float  # importance-weighted squared error on a fixed evaluation set

    @property
    def n_features(self) -> int:
        """The number of features (columns of W)."""
        return self.W.shape[1]

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Return h = W x for features x [..., n_features], shape [..., 2]."""
        return x @ self.W.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return x' = ReLU(W^T W x + b), shape [..., n_features]."""
        return torch.relu(self.hidden(x) @ self.W + self.b)

    __call__ = forward


def importance(n_features: int = N_FEATURES, decay: float = DECAY) -> torch.Tensor:
    """Return the feature importances decay**i, [n_features] (feature 0 matters most)."""
    return decay ** torch.arange(n_features, dtype=torch.float32)


def sample_features(
    n: int, n_features: int, sparsity: float | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Return n samples [n, n_features]: each feature 0 with prob. sparsity, else U[0, 1]."""
    present = torch.rand(n, n_features, generator=generator) >= sparsity
    return torch.rand(n, n_features, generator=generator) * present


def _loss(x: torch.Tensor, out: torch.Tensor, imp: torch.Tensor) -> torch.Tensor:
    return ((out - x) ** 2 * imp).sum(-1).mean(-1)


@lru_cache(maxsize=8)
def _train(
    sparsities: tuple[float, ...],
    n_features: int,
    decay: float,
    steps: int,
    batch: int,
    lr: float,
    inits: int,
    seed: int,
):
    g = torch.Generator().manual_seed(seed)
    imp = importance(n_features, decay)
    S = torch.tensor(sparsities).repeat_interleave(inits)  # [k]
    k = len(S)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        W = torch.randn(k, 2, n_features, generator=g) * math.sqrt(2 / (n_features + 2))
        W.requires_grad_()
        b = torch.zeros(k, n_features, requires_grad=True)
        opt = torch.optim.Adam([W, b], lr=lr)
        for _ in range(steps):
            present = torch.rand(k, batch, n_features, generator=g) >= S[:, None, None]
            x = torch.rand(k, batch, n_features, generator=g) * present
            h = torch.einsum("kmn,kbn->kbm", W, x)
            out = torch.relu(torch.einsum("kmn,kbm->kbn", W, h) + b[:, None])
            loss = _loss(x, out, imp).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            g_eval = torch.Generator().manual_seed(seed + 1)
            x = torch.stack(
                [sample_features(4096, n_features, float(s), g_eval) for s in S]
            )
            h = torch.einsum("kmn,kbn->kbm", W, x)
            out = torch.relu(torch.einsum("kmn,kbm->kbn", W, h) + b[:, None])
            eval_loss = _loss(x, out, imp)  # [k]
    finally:
        torch.set_num_threads(before)
    return W.detach(), b.detach(), eval_loss, imp


def train_toy_models(
    sparsities: tuple[float, ...] | list[float] = SLIDER_SPARSITIES,
    n_features: int = N_FEATURES,
    decay: float = DECAY,
    steps: int = 1000,
    batch: int = 256,
    lr: float = 2e-2,
    inits: int = 3,
    seed: int = 0,
) -> dict[float, ToyModel]:
    """Return {sparsity: ToyModel}, all trained side by side (seeded, deterministic).

    For each sparsity, `inits` random starts are trained and the one with the
    lowest loss on a fixed evaluation set is kept. The default (7 sparsities,
    5 features, 1000 steps) takes about a second of CPU time.
    """
    sparsities = tuple(float(s) for s in sparsities)
    W, b, eval_loss, imp = _train(
        sparsities, n_features, float(decay), steps, batch, float(lr), inits, seed
    )
    models = {}
    for i, s in enumerate(sparsities):
        rows = range(i * inits, (i + 1) * inits)
        best = min(rows, key=lambda r: float(eval_loss[r]))
        models[s] = ToyModel(
            W[best].clone(), b[best].clone(), s, imp.clone(), float(eval_loss[best])
        )
    return models


def train_toy_model(sparsity: float, **kwargs) -> ToyModel:
    """Return one trained ToyModel for this sparsity (see `train_toy_models`)."""
    return train_toy_models((sparsity,), **kwargs)[float(sparsity)]


def feature_directions(model: ToyModel) -> torch.Tensor:
    """Return each feature's direction in the hidden plane, [n_features, 2] (rows = W[:, i])."""
    return model.W.T.clone()


def feature_norms(model: ToyModel) -> torch.Tensor:
    """Return the length of each feature's direction, [n_features]."""
    return model.W.norm(dim=0)


def stored_features(model: ToyModel, threshold: float = STORED_NORM) -> list[int]:
    """Return the features the model stores: those whose direction is longer than threshold."""
    return [i for i, n in enumerate(feature_norms(model).tolist()) if n > threshold]


def interference(model: ToyModel, i: int, j: int) -> float:
    """Return W_i · W_j: what feature j's output reads (before b_j) when only feature i is 1."""
    return float(model.W[:, i] @ model.W[:, j])


def interference_matrix(model: ToyModel) -> torch.Tensor:
    """Return W^T W [n, n]: entry (i, j) = W_i · W_j; the diagonal is each feature's own gain."""
    return model.W.T @ model.W


def output_when_alone(model: ToyModel, i: int, value: float = 1.0) -> torch.Tensor:
    """Return x' [n_features] when feature i is `value` and every other feature is 0."""
    x = torch.zeros(model.n_features)
    x[i] = value
    with torch.no_grad():
        return model(x)


def polygon_angles(model: ToyModel) -> list[float]:
    """Return the angles (degrees, sorted, in [0, 360)) between neighbouring stored features."""
    D = feature_directions(model)[stored_features(model)]
    if len(D) < 2:
        return []
    theta = sorted((math.degrees(math.atan2(y, x)) % 360 for x, y in D.tolist()))
    return [(b - a) for a, b in zip(theta, [*theta[1:], theta[0] + 360], strict=True)]


def is_regular_polygon(
    model: ToyModel, angle_tol: float = 8.0, norm_tol: float = 0.1
) -> bool:
    """Return True when all features are stored at equal angles (within angle_tol degrees)
    and nearly equal lengths (within norm_tol, relative): the regular polygon.
    """
    n = model.n_features
    if len(stored_features(model)) != n:
        return False
    norms = feature_norms(model)
    equal_norms = float((norms.max() - norms.min()) / norms.mean()) <= norm_tol
    return equal_norms and all(
        abs(a - 360 / n) <= angle_tol for a in polygon_angles(model)
    )


def neuron_weights(model: ToyModel) -> torch.Tensor:
    """Return W [2, n_features]: hidden dimension k computes W[k] · x, a mix of features."""
    return model.W.clone()


def features_per_neuron(model: ToyModel, threshold: float = 0.25) -> list[int]:
    """Return, for each hidden dimension, how many features it reads with |weight| > threshold."""
    return (model.W.abs() > threshold).sum(1).tolist()


def rotate_hidden(model: ToyModel, angle_deg: float) -> ToyModel:
    """Return the model with its hidden plane rotated by angle_deg (W -> R W): same outputs,
    because W^T R^T R W = W^T W; the hidden basis of this model is not privileged.
    """
    t = math.radians(angle_deg)
    R = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return ToyModel(
        R @ model.W,
        model.b.clone(),
        model.sparsity,
        model.importance.clone(),
        model.loss,
    )


def most_exciting_input(w: torch.Tensor) -> torch.Tensor:
    """Return the x >= 0 with |x| = 1 that maximises w · x (features are intensities, never
    negative): ReLU(w) normalised when some weight is positive, else the least negative
    feature alone. Here w is one hidden dimension's weights, a row of W.
    """
    positive = torch.relu(w)
    if positive.norm() > 0:
        return positive / positive.norm()
    x = torch.zeros_like(w)
    x[int(w.argmax())] = 1.0
    return x
