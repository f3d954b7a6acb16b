"""Hand-built, bias-free ReLU networks for simple arithmetic (after Osier 2022).

Every network here has no biases and is exact on any real input: ReLU is
piecewise linear, and these functions are too, with their kinks at the origin
or on x1 = x2. For the one-hidden-layer networks the hidden layer is the
smallest possible (lesson 02 argues each case; `min_counterexample` turns the
argument for min into a computation). For min-of-4 (4-6-3-1) no such claim is
made: it is an exact construction, not a proven minimum.

The motifs they reuse:

* the *positiveness detector* ReLU(x) and the *negativeness detector* ReLU(-x);
* the *reconstructor*, which adds the two back with opposite signs:
  x = ReLU(x) - ReLU(-x);
* the *greaterness detector* ReLU(x1 - x2), a positiveness detector on x1 - x2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

Matrix = Sequence[Sequence[float]]


class ReLUNet(nn.Sequential):
    """A bias-free stack Linear, ReLU, Linear, ..., ending in a Linear (or a ReLU)."""

    @property
    def weights(self) -> list[torch.Tensor]:
        """The weight matrices, input layer first, each [out, in]."""
        return [layer.weight for layer in self if isinstance(layer, nn.Linear)]


def relu_net(*weights: Matrix | torch.Tensor, relu_output: bool = False) -> ReLUNet:
    """Build a bias-free ReLU network from its weight matrices ([out, in] each).

    A ReLU follows every layer but the last, unless `relu_output` is set (the
    greaterness detector is a single layer followed by a ReLU).
    """
    layers: list[nn.Module] = []
    for i, weight in enumerate(weights):
        w = torch.as_tensor(weight, dtype=torch.float32)
        linear = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            linear.weight.copy_(w)
        layers.append(linear)
        if i < len(weights) - 1 or relu_output:
            layers.append(nn.ReLU())
    return ReLUNet(*layers)


# The detectors, as rows of a first-layer weight matrix.
POSITIVE = [1.0]  # ReLU(x): fires for x > 0
NEGATIVE = [-1.0]  # ReLU(-x): fires for x < 0


def identity_net() -> ReLUNet:
    """1-2-1: x = ReLU(x) - ReLU(-x), two detectors and the reconstructor."""
    return relu_net([POSITIVE, NEGATIVE], [[1.0, -1.0]])


def negation_net() -> ReLUNet:
    """1-2-1: -x = -ReLU(x) + ReLU(-x), the reconstructor with its signs flipped."""
    return relu_net([POSITIVE, NEGATIVE], [[-1.0, 1.0]])


def abs_net() -> ReLUNet:
    """1-2-1: |x| = ReLU(x) + ReLU(-x), the two detectors added."""
    return relu_net([POSITIVE, NEGATIVE], [[1.0, 1.0]])


def add_net() -> ReLUNet:
    """2-2-1: x1 + x2 = ReLU(x1 + x2) - ReLU(-x1 - x2), identity on the sum."""
    return relu_net([[1.0, 1.0], [-1.0, -1.0]], [[1.0, -1.0]])


def subtract_net() -> ReLUNet:
    """2-2-1: x1 - x2 = ReLU(x1 - x2) - ReLU(x2 - x1), identity on the difference."""
    return relu_net([[1.0, -1.0], [-1.0, 1.0]], [[1.0, -1.0]])


def greaterness_net() -> ReLUNet:
    """2-1: ReLU(x1 - x2), how much x1 exceeds x2 (0 when it does not)."""
    return relu_net([[1.0, -1.0]], relu_output=True)


def min_net() -> ReLUNet:
    """2-3-1: min(x1, x2) = ReLU(x1) - ReLU(-x1) - ReLU(x1 - x2).

    Reconstructed x1 minus the greaterness of x1 over x2.
    """
    return relu_net([[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]], [[1.0, -1.0, -1.0]])


def max_net() -> ReLUNet:
    """2-3-1: max(x1, x2) = ReLU(x1) - ReLU(-x1) + ReLU(x2 - x1).

    Reconstructed x1 plus the greaterness of x2 over x1.
    """
    return relu_net([[1.0, 0.0], [-1.0, 0.0], [-1.0, 1.0]], [[1.0, -1.0, 1.0]])


def parallel(*nets: ReLUNet) -> ReLUNet:
    """Run one-hidden-layer nets side by side on disjoint slices of the input.

    The weights become block-diagonal: inputs and outputs are concatenated.
    """
    return relu_net(
        *(torch.block_diag(*ws) for ws in zip(*(n.weights for n in nets), strict=True))
    )


def compose(inner: ReLUNet, outer: ReLUNet) -> ReLUNet:
    """outer(inner(x)) as one network.

    The inner net's output layer and the outer net's input layer are both
    linear with nothing between them, so they merge into one matrix
    (W_outer_in @ W_inner_out) and the composed net is one layer shorter.
    """
    inner_w, outer_w = inner.weights, outer.weights
    merged = outer_w[0] @ inner_w[-1]
    return relu_net(*inner_w[:-1], merged, *outer_w[1:])


def min4_net() -> ReLUNet:
    """4-6-3-1: min(min(x1, x2), min(x3, x4)), two min nets feeding a third."""
    return compose(parallel(min_net(), min_net()), min_net())


HAND_BUILT = {
    "identity": (identity_net, lambda x: x[:, :1]),
    "negation": (negation_net, lambda x: -x[:, :1]),
    "abs": (abs_net, lambda x: x[:, :1].abs()),
    "add": (add_net, lambda x: x[:, :1] + x[:, 1:2]),
    "subtract": (subtract_net, lambda x: x[:, :1] - x[:, 1:2]),
    "greaterness": (greaterness_net, lambda x: (x[:, :1] - x[:, 1:2]).clamp(min=0)),
    "min": (min_net, lambda x: x.min(dim=1, keepdim=True).values),
    "max": (max_net, lambda x: x.max(dim=1, keepdim=True).values),
    "min4": (min4_net, lambda x: x.min(dim=1, keepdim=True).values),
}
"""name -> (builder, the exact function it computes on a batch [batch, n_inputs])."""


def n_inputs(net: ReLUNet) -> int:
    """How many numbers the network reads."""
    return net.weights[0].shape[1]


def hidden_size(net: ReLUNet) -> list[int]:
    """The width of each hidden layer."""
    return [w.shape[0] for w in net.weights[:-1]]


MOTIFS = ("positiveness", "negativeness", "reconstructor", "greaterness")


def unit_motif(w: torch.Tensor) -> str | None:
    """Name what a first-layer unit (a weight row) detects, from its signs."""
    nonzero = w[w != 0]
    if len(nonzero) == 2 and nonzero.sum() == 0:
        return "greaterness"  # ReLU(x_i - x_j)
    if (nonzero > 0).all():
        return "positiveness"
    if (nonzero < 0).all():
        return "negativeness"
    return None


def uses_reconstructor(net: ReLUNet) -> bool:
    """True if two units detect opposite directions and the next layer takes their difference."""
    w_in, w_next = net.weights[0], net.weights[1]
    for i in range(len(w_in)):
        for j in range(i + 1, len(w_in)):
            opposite = torch.equal(w_in[i], -w_in[j])
            if (
                opposite
                and ((w_next[:, i] == -w_next[:, j]) & (w_next[:, i] != 0)).any()
            ):
                return True
    return False


def motif_table() -> dict[str, dict[str, bool]]:
    """{network: {motif: used?}} for every hand-built network, read off its weights."""
    table = {}
    for name, (builder, _) in HAND_BUILT.items():
        net = builder()
        with torch.no_grad():
            found = {unit_motif(w) for w in net.weights[0]}
            recon = len(net.weights) > 1 and uses_reconstructor(net)
        table[name] = {
            m: (recon if m == "reconstructor" else m in found) for m in MOTIFS
        }
    return table


def two_unit_output(
    W_in: torch.Tensor, W_out: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """Return W_out ReLU(W_in x) for inputs x [..., 2] (a bias-free 2-h-1 network), [...]."""
    return (torch.relu(x @ W_in.T) @ W_out.T)[..., 0]


def min_counterexample(W_in: torch.Tensor, W_out: torch.Tensor) -> torch.Tensor:
    """Return an input x [2] where the bias-free network W_out ReLU(W_in x) differs from
    min(x1, x2), for any W_in [2, 2] and W_out [1, 2]: two units can never compute min.

    The network and min are both linear between the rays where something bends:
    each unit bends along the whole line w·x = 0, min along x1 = x2. On each
    sector between two neighbouring rays both are linear, so if they agreed on
    every ray and in every sector's middle they would agree everywhere, which
    lesson 02 proves impossible. So one of these directions differs; return the
    one that differs most.
    """
    W_in, W_out = W_in.detach().float(), W_out.detach().float()
    normals = [w for w in W_in if w.norm() > 0] + [torch.tensor([1.0, -1.0])]
    angles = []
    for w in normals:  # the line w·x = 0 is the two rays ±(-w2, w1)
        a = math.atan2(float(w[0]), -float(w[1]))
        angles += [a % (2 * math.pi), (a + math.pi) % (2 * math.pi)]
    angles = sorted(set(angles))
    gaps = zip(angles, [*angles[1:], angles[0] + 2 * math.pi], strict=True)
    angles += [(a + b) / 2 for a, b in gaps]
    x = torch.tensor([[math.cos(a), math.sin(a)] for a in angles])  # [n, 2]
    error = (two_unit_output(W_in, W_out, x) - x.min(dim=1).values).abs()
    return x[int(error.argmax())].clone()
