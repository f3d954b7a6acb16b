"""Checks for lesson 02, hand-built ReLU circuits."""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science import relu_training
from neuralcircuits.science.relu_circuits import relu_net
from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    check,
    close,
    fail,
    first_mismatch,
    passed,
)


def _weights(
    value, name: str, n_in: int, n_hidden: int | None
) -> tuple[torch.Tensor, ...]:
    """Unpack (W_in, W_out) returned by the learner, checking types and shapes."""
    if value is None:
        fail(f"`{name}` returned None: it should return the pair (W_in, W_out).")
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail(
            f"`{name}` should return two tensors, (W_in, W_out); "
            f"it returned a {type(value).__name__}."
        )
    w_in = as_tensor(value[0], "W_in")
    w_out = as_tensor(value[1], "W_out")
    if (
        w_in.dim() == 2
        and w_out.dim() == 2
        and w_in.shape[0] == 1
        and w_out.shape[1] == n_in
        and w_out.shape[0] == w_in.shape[1] != n_in
    ):
        fail(
            f"W_in has shape {tuple(w_in.shape)} and W_out {tuple(w_out.shape)}: did you "
            "return them the other way round? Return (W_in, W_out)."
        )
    if w_in.dim() != 2 or w_in.shape[1] != n_in:
        fail(
            f"W_in has shape {tuple(w_in.shape)}; it should be (hidden, {n_in}): "
            f"one row per hidden unit, one column per input."
        )
    hidden = w_in.shape[0]
    if tuple(w_out.shape) != (1, hidden):
        fail(
            f"W_out has shape {tuple(w_out.shape)}; with {hidden} hidden units it should "
            f"be (1, {hidden}): one output, one column per hidden unit."
        )
    if n_hidden is not None and hidden < n_hidden:
        fail(
            f"W_in has {hidden} hidden units, fewer than the {n_hidden} this "
            "function needs."
        )
    return w_in, w_out


def _evaluate(w_in: torch.Tensor, w_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return relu_net(w_in, w_out)(x)


def _multiple_of(got: torch.Tensor, target: torch.Tensor) -> float | None:
    """The factor k when got == k * target (k not 0 or 1), else None."""
    scale = float((got * target).sum() / (target * target).sum().clamp(min=1e-12))
    if abs(scale) > 1e-3 and abs(scale - 1) > 1e-3 and close(got, scale * target):
        return scale
    return None


@check
def check_abs_weights(abs_weights) -> None:
    """Check a bias-free 1-2-1 network whose weights compute |x| exactly."""
    w_in, w_out = _weights(
        call(abs_weights, name="abs_weights"), "abs_weights", n_in=1, n_hidden=2
    )
    x = torch.linspace(-3, 3, 61)[:, None]
    got = _evaluate(w_in, w_out, x)
    problem = first_mismatch(got, x.abs(), x)
    if problem:
        if close(got, x):
            problem += ": that is the identity; abs adds the two detectors instead"
        elif close(got, -x):
            problem += ": that is negation; abs adds the two detectors instead"
        elif (k := _multiple_of(got, x.abs())) is not None:
            problem += (
                f": that is {k:.3g}·|x|; for each unit the in-weight times the "
                "out-weight must be 1"
            )
        elif close(got[x[:, 0] < 0], torch.zeros(1)) or close(
            got[x[:, 0] > 0], torch.zeros(1)
        ):
            problem += (
                ": one side of 0 gives nothing; one unit must detect positive x "
                "(in-weight > 0), the other negative x (in-weight < 0)"
            )
        fail(f"Not |x| yet: {problem}.")
    passed("abs_weights computes |x| on every test input from -3 to 3.")


@check
def check_min_weights(min_weights) -> None:
    """Check a bias-free 2-3-1 network whose weights compute min(x1, x2) exactly."""
    w_in, w_out = _weights(
        call(min_weights, name="min_weights"), "min_weights", n_in=2, n_hidden=3
    )
    grid = torch.linspace(-2, 2, 9)
    x = torch.cartesian_prod(grid, grid)  # every ordering of x1 and x2, ties too
    got = _evaluate(w_in, w_out, x)
    problem = first_mismatch(got, x.min(dim=1, keepdim=True).values, x)
    if problem:
        if close(got, x.max(dim=1, keepdim=True).values):
            problem += (
                ": that is max; subtract the greaterness of x1 rather than add it"
            )
        elif close(got, x[:, :1]) or close(got, x[:, 1:]):
            problem += (
                ": that is one input passed through; subtract how much x1 "
                "exceeds x2, ReLU(x1 - x2)"
            )
        elif close(got, x[:, :1] + torch.relu(x[:, :1] - x[:, 1:])):
            problem += (
                ": that adds the greaterness of x1 over x2; min subtracts it "
                "(its out-weight is -1)"
            )
        elif close(got, x[:, :1] - torch.relu(x[:, 1:] - x[:, :1])):
            problem += (
                ": that subtracts the greaterness of x2 over x1; min subtracts "
                "the greaterness of x1 over x2, ReLU(x1 - x2)"
            )
        fail(f"Not min(x1, x2) yet: {problem}.")
    if w_in.shape[0] > 3:
        fail(
            f"It computes min, but with {w_in.shape[0]} hidden units; the smallest "
            "bias-free network needs only 3."
        )
    passed(
        "min_weights computes min(x1, x2) on all 81 test pairs, with 3 hidden units."
    )


_MATCH_CASES = [
    # (what the case tests, learned units, reference units, min_cosine or None)
    (
        "the same units in another order and scale",
        [[-2.0, 0.0], [0.5, -0.5], [3.0, 0.0]],
        [[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]],
        None,
    ),
    (
        "a unit that points the opposite way (no match)",
        [[0.8], [1.2]],
        [[1.0], [-1.0]],
        None,
    ),
    (
        "two learned units pointing the same way (each used once)",
        [[2.0], [1.0]],
        [[1.0], [1.0]],
        None,
    ),
    (
        "a unit only 10 degrees off (no match)",
        [[1.0, 0.176], [-1.0, -1.0]],
        [[1.0, 0.0], [-1.0, -1.0]],
        None,
    ),
    (
        "more learned units than reference units, three inputs",
        [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 2.0, 0.0], [3.0, 0.0, 0.0]],
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        None,
    ),
    (
        "the first unit above min_cosine, the longest and the best-aligned all "
        "different, min_cosine = 0.9",
        [[1.0, 0.4], [1.5, 0.01], [4.0, 1.5]],
        [[1.0, 0.0]],
        0.9,
    ),
    (
        "a longer unit less aligned than a shorter one, min_cosine = 0.9",
        [[3.0, 0.6], [1.0, 0.05]],
        [[1.0, 0.0]],
        0.9,
    ),
    (
        "a unit 10 degrees off that matches at min_cosine = 0.95",
        [[1.0, 0.176], [0.0, 1.0]],
        [[1.0, 0.0], [0.0, -1.0]],
        0.95,
    ),
]


def _cosines(reference: torch.Tensor, learned: torch.Tensor) -> torch.Tensor:
    r = reference / reference.norm(dim=1, keepdim=True)
    m = learned / learned.norm(dim=1, keepdim=True)
    return r @ m.T  # [n_reference, n_learned]


def _match_problem(
    got: list, cos: torch.Tensor, threshold: float, varied: bool, dots: torch.Tensor
) -> str | None:
    """What breaks the matching rules in `got` (cosines and dot products [n_reference, n_learned]), or None."""
    used = [g for g in got if g is not None]
    for i, g in enumerate(got):
        if g is not None and cos[i, g] <= threshold:
            if cos[i, g] < 0:
                return (
                    f"learned unit {g} points the opposite way (cosine "
                    f"{cos[i, g]:.3f}); only units pointing the same way match."
                )
            return (
                f"reference unit {i} takes learned unit {g}, whose cosine "
                f"{cos[i, g]:.3f} is not above min_cosine = {threshold}"
                f"{' (the default)' if not varied else ''}: a match needs a cosine "
                "above min_cosine."
            )
        free = [j for j in range(cos.shape[1]) if j not in used or j == g]
        better = [
            j
            for j in free
            if cos[i, j] > threshold and (g is None or cos[i, j] > cos[i, g] + 1e-6)
        ]
        if better and g is None:
            return (
                f"reference unit {i} gets None but learned unit {better[0]} points its "
                f"way (cosine {cos[i, better[0]]:.3f}"
                f"{', above the min_cosine passed in' if varied else ''}) and is free."
            )
        if better:
            free_now = [j for j in range(cos.shape[1]) if j not in got[:i]]
            longest = g == max(free_now, key=lambda j: float(dots[i, j]))
            first = g == next(j for j in free_now if cos[i, j] > threshold)
            why = {
                (True, False): "it has the largest dot product: compare cosines, not "
                "dot products",
                (False, True): "it is the first unit above min_cosine: take the "
                "best-aligned one",
                (True, True): "it is the first unit above min_cosine and has the "
                "largest dot product: take the one with the highest cosine",
            }.get((longest, first), "take the best-aligned free unit")
            return (
                f"reference unit {i} takes learned unit {g} (cosine {cos[i, g]:.3f}), "
                f"but unit {better[0]} is better aligned (cosine "
                f"{cos[i, better[0]]:.3f}); {why}."
            )
    return None


@check
def check_match_units(match_units) -> None:
    """Check a matcher of learned hidden units to hand-built motifs.

    Any answer that follows the rules passes, in whatever order it breaks ties:
    each entry a learned index (or None), each learned unit used once, every
    match above min_cosine, the best-aligned unit that no other reference took,
    and no None where a free unit was good enough.
    """
    for what, learned, reference, min_cosine in _MATCH_CASES:
        learned_t, reference_t = torch.tensor(learned), torch.tensor(reference)
        extra: dict[str, Any] = {} if min_cosine is None else {"min_cosine": min_cosine}
        threshold = 0.99 if min_cosine is None else min_cosine
        got = call(match_units, learned_t, reference_t, name="match_units", **extra)
        shown = f"for {what} (learned {learned}, reference {reference})"
        if got is None:
            fail(
                "`match_units` returned None: it should return a list with one entry "
                "per reference unit."
            )
        if isinstance(got, torch.Tensor) and got.dim() == 1:
            got = got.tolist()
        if not isinstance(got, (list, tuple)):
            fail(f"`match_units` should return a list, got a {type(got).__name__}.")
        if len(got) != len(reference):
            fail(
                f"`match_units` returned {len(got)} entries for {len(reference)} reference "
                f"units {shown}: it needs one per reference unit (a row of `reference`)."
            )
        if any(
            g is not None
            and not (
                isinstance(g, int) or (isinstance(g, torch.Tensor) and g.numel() == 1)
            )
            for g in got
        ):
            fail(
                f"`match_units` should return learned indices (int) or None, got {got}."
            )
        got = [None if g is None else int(g) for g in got]
        if any(g is not None and not 0 <= g < len(learned) for g in got):
            fail(
                f"`match_units` returned {got} {shown}: an index is not a row of `learned`."
            )
        used = [g for g in got if g is not None]
        if len(used) != len(set(used)):
            fail(
                f"`match_units` returned {got} {shown}: a learned unit is used twice; "
                "use each learned unit at most once."
            )
        problem = _match_problem(
            got,
            _cosines(reference_t, learned_t),
            threshold,
            min_cosine is not None,
            reference_t @ learned_t.T,
        )
        if problem and got == relu_training.match_units(
            reference_t, learned_t, threshold
        ):
            fail(
                f"`match_units` returned {got} {shown}: that matches each learned unit to a "
                "reference unit; return one entry per reference unit instead."
            )
        if problem:
            fail(f"`match_units` returned {got} {shown}: {problem}")
    passed(
        f"match_units follows the rules on all {len(_MATCH_CASES)} cases "
        "(order, scale, signs, duplicates, near misses)."
    )


_SILENT_CASES = [
    (
        "a stuck 1-2-1 network",
        torch.tensor([[0.9], [0.4]]),
        torch.linspace(-1, 1, 21)[:, None],
    ),
    (
        "a 2-3-1 network",
        torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]),
        torch.cartesian_prod(torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 5)),
    ),
    (
        "a 2-2-1 network",
        torch.tensor([[1.0, 2.0], [-1.0, 0.5]]),
        torch.cartesian_prod(torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 5)),
    ),
    (
        "a 3-4-1 network",
        torch.tensor(
            [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [-1.0, 1.0, 0.0], [0.0, 0.0, -1.0]]
        ),
        torch.cartesian_prod(*[torch.tensor([-1.0, 0.0, 1.0])] * 3),
    ),
]


@check
def check_silent_inputs(silent_inputs) -> None:
    """Check the detector of inputs where every hidden unit is off."""
    for what, w_in, x in _SILENT_CASES:
        got = call(silent_inputs, w_in.clone(), x.clone(), name="silent_inputs")
        if isinstance(got, torch.Tensor) and got.dtype == torch.bool:
            got = got.float()
        if (
            isinstance(got, torch.Tensor)
            and got.dim() == 2
            and got.shape[0] == x.shape[0]
        ):
            fail(
                f"`silent_inputs` returns shape {tuple(got.shape)}, one value per input "
                "and unit; combine the units of each input into one answer "
                "(.all(dim=1)), shape [batch]."
            )
        got = as_tensor(got, "the result of silent_inputs", shape=(x.shape[0],))
        pre = x @ w_in.T  # [batch, hidden]
        want = (pre <= 0).all(dim=1).float()
        if close(got, want, atol=0, rtol=0):
            continue
        shown = f"For {what} with W_in = {w_in.tolist()}"
        if close(got, 1 - want, atol=0, rtol=0):
            fail(f"{shown} the answer is flipped: True should mean every unit is off.")
        if close(got, (pre <= 0).any(dim=1).float(), atol=0, rtol=0):
            fail(
                f"{shown} you mark inputs where some unit is off; silent means every "
                "unit is off (.all, not .any)."
            )
        if close(got, (pre.sum(dim=1) <= 0).float(), atol=0, rtol=0):
            fail(
                f"{shown} you test the sum of the pre-activations; each unit must be "
                "off on its own (a positive and a negative unit can cancel)."
            )
        if w_in.shape[0] == w_in.shape[1] and close(
            got, (x @ w_in <= 0).all(dim=1).float(), atol=0, rtol=0
        ):
            fail(
                f"{shown} you use x @ W_in; each unit is a row of W_in, so the "
                "pre-activations are x @ W_in.T."
            )
        problem = first_mismatch(got, want, x, atol=0)
        wrong = got != want
        on_boundary = (pre == 0).any(dim=1)  # some unit's input is exactly 0
        hint = ""
        if on_boundary[wrong].all():
            hint = " (ReLU(0) = 0: a unit whose input is exactly 0 is off too)"
        fail(f"{shown}: {problem} (1 means every unit is off){hint}.")
    passed("silent_inputs finds exactly the inputs where every hidden unit is off.")


# Two-unit networks to refute, each close to min somewhere: (what it is, W_in, W_out).
_TWO_UNIT_NETS = [
    (
        "x1 minus its greaterness, without the negativeness detector",
        [[1.0, 0.0], [1.0, -1.0]],
        [[1.0, -1.0]],
    ),
    ("the mirror, x2 minus its greaterness", [[0.0, 1.0], [-1.0, 1.0]], [[1.0, -1.0]]),
    (
        "-|x1 - x2| / 2, two greaterness detectors",
        [[1.0, -1.0], [-1.0, 1.0]],
        [[-0.5, -0.5]],
    ),
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


@check
def check_min_counterexample(min_counterexample) -> None:
    """Check fn(W_in [2, 2], W_out [1, 2]) returns an input where that 2-unit network != min."""
    name = "min_counterexample"
    for what, w_in_list, w_out_list in _TWO_UNIT_NETS + _random_two_unit_nets():
        w_in, w_out = torch.tensor(w_in_list), torch.tensor(w_out_list)
        shown = f"{what} (W_in = {w_in_list}, W_out = {w_out_list})"
        result = call(min_counterexample, w_in, w_out, name=name)
        if (
            isinstance(result, (list, tuple))
            and len(result) == 2
            and all(isinstance(v, (int, float)) for v in result)
        ):
            result = torch.tensor([float(v) for v in result])
        x = as_tensor(result, f"The input `{name}` returned", shape=(2,))
        if x.norm() > 1000:
            fail(
                f"For {shown} you returned {x.tolist()}; keep the input within length "
                "1000 (the network and min are both homogeneous, so a short one works)."
            )
        net_out = float(torch.relu(x @ w_in.T) @ w_out[0])
        want = float(x.min())
        if abs(net_out - want) <= 1e-3:
            fail(
                f"For {shown} your input {[round(v, 3) for v in x.tolist()]} is one where "
                f"it agrees with min (both give {want:.3g}): look on each side of every "
                "line where a unit or min bends."
            )
    n = len(_TWO_UNIT_NETS) + len(_random_two_unit_nets())
    passed(
        f"min_counterexample refutes all {n} two-unit networks, each at an input where "
        "it is not min."
    )
