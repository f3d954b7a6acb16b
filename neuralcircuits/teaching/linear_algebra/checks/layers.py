"""Lesson 01's checks for sections 1-4: a neuron, a layer, a basis, the rotation test."""

from __future__ import annotations

from collections.abc import Callable

import torch

from neuralcircuits.science import linear_maps
from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    check,
    close,
    fail,
    first_mismatch,
    passed,
)


def _inputs(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).round(decimals=2)


# (batch, d_in, b): batch never equals d_in, so a sum over the wrong axis
# shows in the shape; two sizes, so code written for one size fails.
_NEURON_CASES = [(5, 3, 0.3), (4, 2, -1.5), (6, 4, 0.0)]


@check
def check_neuron_output(fn: Callable) -> None:
    """Check fn(x [batch, d_in], w [d_in], b) -> w·x + b for each row, shape [batch]."""
    for case, (batch, d_in, b) in enumerate(_NEURON_CASES):
        x = _inputs(batch, d_in, seed=10 + case)
        w = _inputs(d_in, seed=20 + case)
        result = call(fn, x, w, b, name="neuron_output")
        if isinstance(result, torch.Tensor) and tuple(result.shape) == (batch, d_in):
            fail(
                f"`neuron_output` returns shape ({batch}, {d_in}): it multiplies x and w "
                "element by element but never adds the products up (a dot product sums them)."
            )
        if isinstance(result, torch.Tensor) and tuple(result.shape) == (d_in,):
            fail(
                f"`neuron_output` returns shape ({d_in},): it sums over the batch; sum "
                "over the input dimension instead (dim=1, or use x @ w)."
            )
        out = as_tensor(result, "`neuron_output`'s result", shape=(batch,))
        want = x @ w + b
        if close(out, want):
            continue
        size = f"(on a batch of {batch} inputs of size {d_in})"
        if close(out, torch.relu(want)):
            fail(
                f"`neuron_output` applies ReLU {size}; return the pre-activation w·x + b."
            )
        if b != 0 and close(out, x @ w):
            fail("`neuron_output` forgets the bias: add b to the weighted sum.")
        if close(out, x @ w - b):
            fail("`neuron_output` subtracts the bias; the neuron computes w·x + b.")
        if close(out, -want):
            fail("`neuron_output` has the wrong sign everywhere: it should be w·x + b.")
        offset = out - x @ w  # what it adds to w·x, per input
        if close(offset, offset[:1].expand_as(offset)):
            fail(
                f"`neuron_output` adds {float(offset[0]):.4g} to w·x {size}, where the "
                f"bias is b = {b:g}: add the b passed in."
            )
        d0 = _NEURON_CASES[0][1]
        if d_in > d0 and close(out, x[:, :d0] @ w[:d0] + b):
            fail(
                f"`neuron_output` uses only the first {d0} inputs {size}: is a size "
                "written into your code? Use x's and w's own shapes."
            )
        fail(f"`neuron_output` is off {size}: {first_mismatch(out, want, x)}.")
    passed("neuron_output computes w·x + b for every input row, at every size tried.")


# (batch, d_in, d_out): one square case, where x @ W runs but is wrong.
_LAYER_CASES = [(4, 3, 2), (5, 2, 3), (2, 3, 3)]


@check
def check_linear_layer(fn: Callable) -> None:
    """Check fn(x [batch, d_in], W [d_out, d_in], b [d_out]) equals torch.nn.Linear."""
    for case, (batch, d_in, d_out) in enumerate(_LAYER_CASES):
        x = _inputs(batch, d_in, seed=1 + 10 * case)
        W = _inputs(d_out, d_in, seed=2 + 10 * case)
        b = _inputs(d_out, seed=3 + 10 * case) + 0.5
        result = call(fn, x, W, b, name="linear_layer")
        if (
            isinstance(result, torch.Tensor)
            and batch != d_out
            and tuple(result.shape) == (d_out, batch)
        ):
            fail(
                f"`linear_layer` returns shape ({d_out}, {batch}) = [d_out, batch]: that is "
                f"W @ x.T; transpose it so each row is one input, [batch, d_out] = "
                f"({batch}, {d_out})."
            )
        out = as_tensor(result, "`linear_layer`'s result", shape=(batch, d_out))
        with torch.no_grad():
            want = linear_maps.as_nn_linear(W, b)(x)
        if close(out, want):
            continue
        if close(out, x @ W.T):
            fail(
                "`linear_layer` forgets the bias: add b (one number per output neuron)."
            )
        if close(out, torch.relu(want)):
            fail("`linear_layer` applies ReLU; a linear layer returns x @ W.T + b.")
        if close(out, x @ W.T - b):
            fail("`linear_layer` subtracts the bias; a layer computes x @ W.T + b.")
        if d_in == d_out and close(out, x @ W + b):
            fail(
                "`linear_layer` uses W where it needs W.T: with a square W, x @ W runs "
                "but dots each input with W's columns, not with each neuron's row."
            )
        offset = out - x @ W.T  # what it adds to each neuron's w·x, per input
        if close(offset, offset[:1].expand_as(offset)):
            fail(
                f"`linear_layer` adds {[round(v, 4) for v in offset[0].tolist()]} to "
                f"x @ W.T, where the bias is b = {[round(v, 4) for v in b.tolist()]}: "
                "add b, one number per output neuron."
            )
        fail(
            f"`linear_layer` differs from torch.nn.Linear for x {tuple(x.shape)}, "
            f"W {tuple(W.shape)}: {first_mismatch(out, want, x)}."
        )
    passed(
        "linear_layer gives the same outputs as torch.nn.Linear with weights W, bias b."
    )


_BASIS_CASES = [
    (torch.tensor([3.0, 2.0]), torch.tensor([[1.0, 1.0], [0.0, 1.0]])),
    (torch.tensor([1.0, 1.0]), torch.tensor([[2.0, 0.0], [0.0, 0.5]])),
    (
        torch.tensor([1.0, -2.0, 0.5]),
        torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]),
    ),
    (
        torch.tensor([2.0, 0.0, -1.0, 1.0]),
        torch.tensor(
            [
                [1.0, 2.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 1.0],
                [0.0, 0.0, 3.0, 0.0],
                [1.0, 0.0, 0.0, 1.0],
            ]
        ),
    ),
]


@check
def check_coordinates_in_basis(fn: Callable) -> None:
    """Check fn(v [d], basis [d, d]) returns c with basis @ c == v."""
    for v, basis in _BASIS_CASES:
        d = len(v)
        v, basis = v.clone(), basis.clone()
        result = call(fn, v, basis, name="coordinates_in_basis")
        c = as_tensor(result, "`coordinates_in_basis`'s result", shape=(d,))
        want = torch.linalg.solve(basis, v)
        if close(c, want):
            continue
        shown = f"v = {v.tolist()} in the basis with columns {basis.T.tolist()}"
        if close(c, basis @ v):
            fail(
                f"For {shown} you returned basis @ v: that draws v's numbers as "
                "coordinates; you need the c with basis @ c = v (solve, or invert basis)."
            )
        if close(c, basis.T @ v):
            fail(
                f"For {shown} you returned basis.T @ v (dot products with the basis "
                "vectors); that only gives coordinates for an orthonormal basis, and "
                "this one is not: solve basis @ c = v instead."
            )
        if close(c, torch.linalg.solve(basis.T, v)):
            fail(
                f"For {shown} you solved with the basis vectors as rows (basis.T, or "
                "v @ inverse); they are the columns: solve basis @ c = v."
            )
        unit = basis / basis.norm(dim=0, keepdim=True)
        if close(c, torch.linalg.solve(unit, v)):
            fail(
                f"For {shown} you normalised the basis vectors first; coordinates are "
                "in units of the basis vectors as given, so solve with basis itself."
            )
        fail(
            f"For {shown} the coordinates should be {want.tolist()}, "
            f"but you returned {[round(x, 4) for x in c.tolist()]} "
            "(check: basis @ c should give v back)."
        )
    passed("coordinates_in_basis finds c with basis @ c = v, for 2-, 3- and 4-D bases.")


# (d_in, d_hidden, d_out): two hidden sizes, so a size written in fails.
_ROTATE_CASES = [(2, 4, 3), (5, 3, 2)]


@check
def check_rotate_hidden(fn: Callable) -> None:
    """Check fn(W_in, b_in, W_out, R) returns (R W_in, R b_in, W_out Rᵀ)."""
    for case, (d_in, d_hidden, d_out) in enumerate(_ROTATE_CASES):
        seed = 3 + 10 * case
        W_in, b_in = (
            _inputs(d_hidden, d_in, seed=seed),
            _inputs(d_hidden, seed=seed + 1),
        )
        W_out = _inputs(d_out, d_hidden, seed=seed + 2)
        R = linear_maps.random_rotation(d_hidden, seed=seed + 3)
        result = call(fn, W_in, b_in, W_out, R, name="rotate_hidden")
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            got = f"a {type(result).__name__}" if result is not None else "None"
            fail(
                f"`rotate_hidden` should return three tensors (W_in, b_in, W_out); "
                f"got {got}."
            )
        new_W_in = as_tensor(result[0], "the rotated W_in", shape=(d_hidden, d_in))
        new_b_in = as_tensor(result[1], "the rotated b_in", shape=(d_hidden,))
        new_W_out = as_tensor(result[2], "the rotated W_out", shape=(d_out, d_hidden))
        if close(new_W_in, W_in) and close(new_W_out, W_out):
            fail(
                "`rotate_hidden` returns the weights unchanged: rotate the hidden space."
            )
        if close(new_W_in, W_in):
            fail(
                "It leaves W_in as it was; rotate the hidden space, so each new neuron "
                "mixes the old ones: R @ W_in."
            )
        if close(new_W_in, R.T @ W_in):
            fail(
                "The rotated W_in is Rᵀ @ W_in; rotate the hidden space by R: R @ W_in."
            )
        if not close(new_W_in, R @ W_in):
            fail(
                "The rotated W_in should be R @ W_in (each new neuron mixes the old ones)."
            )
        if close(new_b_in, b_in):
            fail("You rotate W_in but not the bias: the new b_in is R @ b_in.")
        if close(new_b_in, b_in @ R):
            fail(
                "The rotated b_in is b_in @ R, which is Rᵀ @ b_in; rotate it like the "
                "neurons: R @ b_in."
            )
        if not close(new_b_in, R @ b_in):
            fail(
                "The rotated b_in should be R @ b_in, the bias rotated like the neurons."
            )
        if close(new_W_out, W_out):
            fail(
                "It leaves W_out as it was; it must undo the rotation: W_out @ R.T "
                "(the inverse of a rotation is its transpose)."
            )
        if close(new_W_out, W_out @ R):
            fail(
                "The rotated W_out is W_out @ R; it must undo the rotation: W_out @ R.T "
                "(the inverse of a rotation is its transpose)."
            )
        if not close(new_W_out, W_out @ R.T):
            fail("The rotated W_out should be W_out @ R.T, which undoes the rotation.")
    x = _inputs(8, 2, seed=7)
    W_in, b_in = _inputs(4, 2, seed=3), _inputs(4, seed=4)
    W_out, R = _inputs(3, 4, seed=5), linear_maps.random_rotation(4, seed=6)
    change = linear_maps.rotation_test(
        x, W_in, b_in, W_out, torch.zeros(3), R, relu=False
    )
    passed(
        f"rotate_hidden leaves a linear network's output unchanged (max change {change:.1e})."
    )
