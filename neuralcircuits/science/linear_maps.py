"""Linear algebra as neural networks use it: neurons, layers, bases, rotations.

A neuron is a dot product of its input with a weight vector (plus a bias); a
layer is a linear map, a matrix-vector product (plus a bias). A matrix is a
change of basis only when it is square and invertible, and a layer's
activations are coordinates of its input only when the neurons' weight
vectors are orthonormal (`coordinates_in_basis` solves for them in general).
ReLU maps the plane onto the positive quadrant. The last
functions here test whether a hidden layer's basis is *privileged*: rotate the
hidden space of a network and see whether its function changes (Elhage et al.
2022, "Toy Models of Superposition" and "Softmax Linear Units").
"""

from __future__ import annotations

import math

import torch


def neuron(
    x: torch.Tensor, w: torch.Tensor, b: float | torch.Tensor = 0.0
) -> torch.Tensor:
    """Return the pre-activation w·x + b of one neuron for each row of x."""
    # x: [batch, d_in], w: [d_in] -> [batch]
    return x @ w + b


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return cos(angle) between a and b along the last dimension."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def projection_length(x: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Return how far x reaches along `direction` (its signed projection length)."""
    return x @ (direction / direction.norm())


def layer(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return x @ W.T + b: every neuron of a layer at once (W is [d_out, d_in])."""
    # x: [batch, d_in] -> [batch, d_out]
    return x @ W.T + b


def as_nn_linear(W: torch.Tensor, b: torch.Tensor) -> torch.nn.Linear:
    """Return a torch.nn.Linear holding the weights W [d_out, d_in] and bias b [d_out]."""
    d_out, d_in = W.shape
    linear = torch.nn.Linear(d_in, d_out)
    with torch.no_grad():
        linear.weight.copy_(W)
        linear.bias.copy_(b)
    return linear


def collapse_linear_layers(
    W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (W, b) of the one layer equal to layer 1 followed by layer 2."""
    # W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)
    return W2 @ W1, W2 @ b1 + b2


def coordinates_in_basis(v: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Return the coordinates c of v in a basis (the columns of `basis`): basis @ c = v."""
    # basis: [d, d], columns are the basis vectors; v: [d] -> c: [d]
    return torch.linalg.solve(basis, v)


def rotation_2d(angle: float) -> torch.Tensor:
    """Return the 2x2 matrix that turns the plane by `angle` radians anticlockwise."""
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]])


def matrix_from_controls(
    angle_deg: float = 0.0,
    scale_x: float = 1.0,
    scale_y: float = 1.0,
    shear: float = 0.0,
) -> torch.Tensor:
    """Return rotation @ shear @ scale: the 2x2 matrix the explorer's sliders set."""
    scale = torch.diag(torch.tensor([scale_x, scale_y]))
    shear_m = torch.tensor([[1.0, shear], [0.0, 1.0]])
    return rotation_2d(math.radians(angle_deg)) @ shear_m @ scale


def grid_lines(
    extent: float = 2.0, n_lines: int = 9, n_points: int = 41
) -> torch.Tensor:
    """Return the points of a square grid's lines, [2 * n_lines, n_points, 2]."""
    ticks = torch.linspace(-extent, extent, n_lines)
    along = torch.linspace(-extent, extent, n_points)
    vertical = torch.stack(
        [ticks[:, None].expand(-1, n_points), along[None].expand(n_lines, -1)], -1
    )
    horizontal = vertical.flip(-1)
    return torch.cat([vertical, horizontal])


def apply_matrix(M: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Return M @ p for every point p (points are rows, in the last dimension)."""
    return points @ M.T


def random_rotation(d: int, seed: int = 0) -> torch.Tensor:
    """Return a random d x d rotation matrix (orthogonal, determinant +1)."""
    g = torch.Generator().manual_seed(seed)
    Q, R = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    Q = Q * torch.sign(torch.diagonal(R))  # a uniformly random orthogonal matrix
    if torch.det(Q) < 0:
        Q[:, 0] = -Q[:, 0]
    return Q.float()


def rotate_hidden(
    W_in: torch.Tensor, b_in: torch.Tensor, W_out: torch.Tensor, R: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (R W_in, R b_in, W_out Rᵀ): the same network with its hidden space rotated."""
    # W_in: [d_hidden, d_in], b_in: [d_hidden], W_out: [d_out, d_hidden], R: [d_hidden]*2
    return R @ W_in, R @ b_in, W_out @ R.T


def mlp(
    x: torch.Tensor,
    W_in: torch.Tensor,
    b_in: torch.Tensor,
    W_out: torch.Tensor,
    b_out: torch.Tensor,
    relu: bool = True,
) -> torch.Tensor:
    """Return W_out·act(W_in·x + b_in) + b_out, with act = ReLU or the identity."""
    hidden = layer(x, W_in, b_in)  # [batch, d_hidden]
    if relu:
        hidden = torch.relu(hidden)
    return layer(hidden, W_out, b_out)  # [batch, d_out]


def rotation_test(
    x: torch.Tensor,
    W_in: torch.Tensor,
    b_in: torch.Tensor,
    W_out: torch.Tensor,
    b_out: torch.Tensor,
    R: torch.Tensor,
    relu: bool = True,
) -> float:
    """Return the largest change in output when the hidden space is rotated by R."""
    before = mlp(x, W_in, b_in, W_out, b_out, relu)
    after = mlp(x, *rotate_hidden(W_in, b_in, W_out, R), b_out, relu)
    return float((after - before).abs().max())


def relu_in_basis(points: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """Return Rᵀ·ReLU(R·p): ReLU applied in the basis rotated by R, seen in the old one."""
    return torch.relu(points @ R.T) @ R
