"""Checks for lesson 02, hand-built ReLU circuits."""

from __future__ import annotations

import torch

from neuralcircuits.science import relu_training
from neuralcircuits.science.relu_circuits import relu_net
from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    fail,
    first_mismatch,
    passed,
)


def _weights(value, name: str, n_in: int, n_hidden: int | None) -> tuple[torch.Tensor, ...]:
    """Unpack (W_in, W_out) returned by the learner, checking types and shapes."""
    if value is None:
        fail(f"`{name}` returned None: it should return the pair (W_in, W_out).")
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail(f"`{name}` should return two tensors, (W_in, W_out); "
             f"it returned a {type(value).__name__}.")
    w_in = as_tensor(value[0], "W_in")
    w_out = as_tensor(value[1], "W_out")
    if w_in.dim() != 2 or w_in.shape[1] != n_in:
        fail(f"W_in has shape {tuple(w_in.shape)}; it should be (hidden, {n_in}): "
             f"one row per hidden unit, one column per input.")
    hidden = w_in.shape[0]
    if tuple(w_out.shape) != (1, hidden):
        fail(f"W_out has shape {tuple(w_out.shape)}; with {hidden} hidden units it should "
             f"be (1, {hidden}): one output, one column per hidden unit.")
    if n_hidden is not None and hidden != n_hidden and hidden < n_hidden:
        fail(f"W_in has {hidden} hidden units, fewer than the {n_hidden} this "
             "function needs.")
    return w_in, w_out


def _evaluate(w_in: torch.Tensor, w_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return relu_net(w_in, w_out)(x)


def check_abs_weights(abs_weights) -> None:
    """Check a bias-free 1-2-1 network whose weights compute |x| exactly."""
    w_in, w_out = _weights(call(abs_weights), "abs_weights", n_in=1, n_hidden=2)
    x = torch.linspace(-3, 3, 61)[:, None]
    got = _evaluate(w_in, w_out, x)
    problem = first_mismatch(got, x.abs(), x)
    if problem:
        if torch.allclose(got, x, atol=1e-4):
            problem += ": that is the identity; abs adds the two detectors instead"
        elif torch.allclose(got, -x, atol=1e-4):
            problem += ": that is negation; abs adds the two detectors instead"
        fail(f"Not |x| yet: {problem}.")
    passed("abs_weights computes |x| on every test input from -3 to 3.")


def check_min_weights(min_weights) -> None:
    """Check a bias-free 2-3-1 network whose weights compute min(x1, x2) exactly."""
    w_in, w_out = _weights(call(min_weights), "min_weights", n_in=2, n_hidden=3)
    grid = torch.linspace(-2, 2, 9)
    x = torch.cartesian_prod(grid, grid)  # every ordering of x1 and x2
    got = _evaluate(w_in, w_out, x)
    problem = first_mismatch(got, x.min(dim=1, keepdim=True).values, x)
    if problem:
        if torch.allclose(got, x.max(dim=1, keepdim=True).values, atol=1e-4):
            problem += ": that is max; subtract the greaterness of x1 rather than add it"
        fail(f"Not min(x1, x2) yet: {problem}.")
    if w_in.shape[0] > 3:
        fail(f"It computes min, but with {w_in.shape[0]} hidden units; the smallest "
             "bias-free network needs only 3.")
    passed("min_weights computes min(x1, x2) on all 81 test pairs, with 3 hidden units.")


_MATCH_CASES = [
    # (what the case tests, learned units, reference units)
    ("the same units in another order and scale",
     [[-2.0, 0.0], [0.5, -0.5], [3.0, 0.0]], [[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]]),
    ("a unit that points the opposite way (no match)",
     [[0.8], [1.2]], [[1.0], [-1.0]]),
    ("two learned units pointing the same way (each used once)",
     [[2.0], [1.0]], [[1.0], [1.0]]),
    ("a unit only 10 degrees off (no match)",
     [[1.0, 0.176], [-1.0, -1.0]], [[1.0, 0.0], [-1.0, -1.0]]),
]


def check_match_units(match_units) -> None:
    """Check a matcher of learned hidden units to hand-built motifs."""
    for what, learned, reference in _MATCH_CASES:
        learned_t, reference_t = torch.tensor(learned), torch.tensor(reference)
        got = call(match_units, learned_t, reference_t, name="match_units")
        want = relu_training.match_units(learned_t, reference_t)
        if got is None:
            fail("`match_units` returned None: it should return a list with one entry "
                 "per reference unit.")
        if not isinstance(got, (list, tuple)):
            fail(f"`match_units` should return a list, got a {type(got).__name__}.")
        got = [None if g is None else int(g) for g in got]
        if len(got) != len(want):
            fail(f"`match_units` returned {len(got)} entries for {len(reference)} reference "
                 "units: it needs one per reference unit (a row of `reference`).")
        if got != want:
            fail(f"For {what}: learned {learned}, reference {reference}, it returns "
                 f"{got} but should return {want}.")
    passed(f"match_units agrees on all {len(_MATCH_CASES)} cases "
           "(order, scale, opposite signs, duplicates, near misses).")


def check_silent_inputs(silent_inputs) -> None:
    """Check the detector of inputs where every hidden unit is off."""
    cases = [
        ("a stuck 1-2-1 network", torch.tensor([[0.9], [0.4]]),
         torch.linspace(-1, 1, 21)[:, None]),
        ("a 2-3-1 network", torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]),
         torch.cartesian_prod(torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 5))),
    ]
    for what, w_in, x in cases:
        got = call(silent_inputs, w_in, x, name="silent_inputs")
        got = as_tensor(got.float() if isinstance(got, torch.Tensor) and got.dtype == torch.bool
                        else got, "the result of silent_inputs", shape=(x.shape[0],))
        want = relu_training.silent_inputs(w_in, x).float()
        problem = first_mismatch(got, want, x, atol=0)
        if problem:
            wrong = got != want
            on_boundary = (x @ w_in.T == 0).any(dim=1)  # some unit's input is exactly 0
            hint = ""
            if on_boundary[wrong].all():
                hint = " (ReLU(0) = 0: a unit whose input is exactly 0 is off too)"
            fail(f"For {what} with W_in = {w_in.tolist()}: {problem} "
                 f"(1 means every unit is off){hint}.")
    passed("silent_inputs finds exactly the inputs where every hidden unit is off.")


# Two-unit networks to refute, each close to min somewhere: (what it is, W_in, W_out).
_TWO_UNIT_NETS = [
    ("x1 minus its greaterness, without the negativeness detector",
     [[1.0, 0.0], [1.0, -1.0]], [[1.0, -1.0]]),
    ("the mirror, x2 minus its greaterness", [[0.0, 1.0], [-1.0, 1.0]], [[1.0, -1.0]]),
    ("-|x1 - x2| / 2, two greaterness detectors", [[1.0, -1.0], [-1.0, 1.0]], [[-0.5, -0.5]]),
    ("x1 + x2, add's detectors", [[1.0, 1.0], [-1.0, -1.0]], [[1.0, -1.0]]),
    ("the zero network", [[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0]]),
    ("x1 minus its greaterness, rescaled", [[3.0, 0.0], [2.0, -2.0]], [[1 / 3, -0.5]]),
    ("a greaterness detector alone", [[0.0, 0.0], [1.0, -1.0]], [[0.0, -1.0]]),
]


def _random_two_unit_nets(n: int = 12) -> list[tuple[str, list, list]]:
    g = torch.Generator().manual_seed(5)
    nets = []
    for k in range(n):
        w_in = (torch.randn(2, 2, generator=g) * 2).round(decimals=2)
        w_out = (torch.randn(1, 2, generator=g) * 2).round(decimals=2)
        nets.append((f"random network {k}", w_in.tolist(), w_out.tolist()))
    return nets


def check_min_counterexample(min_counterexample) -> None:
    """Check fn(W_in [2, 2], W_out [1, 2]) returns an input where that 2-unit network != min."""
    name = "min_counterexample"
    for what, w_in_list, w_out_list in _TWO_UNIT_NETS + _random_two_unit_nets():
        w_in, w_out = torch.tensor(w_in_list), torch.tensor(w_out_list)
        shown = f"{what} (W_in = {w_in_list}, W_out = {w_out_list})"
        result = call(min_counterexample, w_in, w_out, name=name)
        if not (torch.equal(w_in, torch.tensor(w_in_list))
                and torch.equal(w_out, torch.tensor(w_out_list))):
            fail(f"`{name}` changed W_in or W_out in place; work on copies (the check "
                 "reuses the network).")
        if isinstance(result, (list, tuple)) and len(result) == 2 and all(
                isinstance(v, (int, float)) for v in result):
            result = torch.tensor([float(v) for v in result])
        x = as_tensor(result, f"The input `{name}` returned", shape=(2,))
        if x.norm() > 1000:
            fail(f"For {shown} you returned {x.tolist()}; keep the input within length "
                 "1000 (the network and min are both homogeneous, so a short one works).")
        net_out = float(torch.relu(x @ w_in.T) @ w_out[0])
        want = float(x.min())
        if abs(net_out - want) <= 1e-3:
            fail(f"For {shown} your input {[round(v, 3) for v in x.tolist()]} is one where "
                 f"it agrees with min (both give {want:.3g}): look on each side of every "
                 "line where a unit or min bends.")
    n = len(_TWO_UNIT_NETS) + len(_random_two_unit_nets())
    passed(f"min_counterexample refutes all {n} two-unit networks, each at an input where "
           "it is not min.")
