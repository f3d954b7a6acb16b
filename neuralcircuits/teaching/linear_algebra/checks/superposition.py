"""Lesson 01's checks for section 7: superposition (leak, the most exciting input)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    check,
    fail,
    passed,
)

# --- superposition (section 7) ---------------------------------------------------

# A hand-made toy model, [2, 4] and [4], where each slip gives a different number.
_LEAK_W = torch.tensor([[1.2, 0.3, -0.9, 0.1], [0.2, 1.1, 0.5, -1.3]])
_LEAK_B = torch.tensor([-0.1, -0.3, -0.2, 0.05])
_LEAK_CASES = [(0, 1), (1, 0), (0, 2), (2, 3), (3, 1)]


def _number(value, what: str) -> float:
    """Turn the learner's one-number answer into a float, or fail saying why not."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, torch.Tensor):
        fail(
            f"{what} is a tensor of shape {tuple(value.shape)}; return one number, "
            "feature j's output alone."
        )
    if value is None:
        fail(f"{what} is None: did you forget a `return`?")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        fail(f"{what} should be a number, but it is a {type(value).__name__}.")
    return float(value)


@check
def check_leak(fn: Callable) -> None:
    """Check fn(W [2, n], b [n], i, j) -> ReLU(W[:, i] · W[:, j] + b[j])."""
    W, b = _LEAK_W, _LEAK_B
    for i, j in _LEAK_CASES:
        got = _number(
            call(fn, W.clone(), b.clone(), i, j, name="leak"), f"`leak(W, b, {i}, {j})`"
        )
        dot = float(W[:, i] @ W[:, j])
        want = max(dot + float(b[j]), 0.0)
        if abs(got - want) < 1e-4:
            continue
        case = f"For i = {i}, j = {j}"
        cos = dot / float(W[:, i].norm() * W[:, j].norm())
        if (
            abs(got - max(float(W[i % 2] @ W[j % 2]) + float(b[j]), 0.0)) < 1e-4
            or abs(got - (float(W[i % 2] @ W[j % 2]) + float(b[j]))) < 1e-4
        ):
            fail(
                f"{case} you used rows of W; a feature's direction is a column, W[:, i]."
            )
        if abs(got - dot) < 1e-4:
            fail(
                f"{case} you return the interference W_i · W_j = {dot:.3g} alone; "
                "feature j's output also adds its bias b[j] and goes through the ReLU."
            )
        if abs(got - (dot + float(b[j]))) < 1e-4:
            fail(
                f"{case} you return {got:.3g}, which is negative: the output goes through "
                "a ReLU, so it cannot be below 0."
            )
        if abs(got - max(dot + float(b[i]), 0.0)) < 1e-4:
            fail(
                f"{case} you added b[i]; the output of feature j adds its own bias, b[j]."
            )
        if abs(got - max(cos + float(b[j]), 0.0)) < 1e-4:
            fail(
                f"{case} you used the cosine of the two directions; the model multiplies "
                "by W itself, so use the dot product W_i · W_j."
            )
        fail(
            f"{case} feature j's output should be ReLU(W_i · W_j + b_j) = {want:.3g}, "
            f"but you return {got:.3g}."
        )
    passed(
        "leak gives feature j's output when only feature i is on, for every test pair."
    )


_EXCITE_CASES = [
    ("mixed signs", torch.tensor([0.9, -0.4, 0.6, 0.0, -1.2])),
    ("one large weight", torch.tensor([2.0, 0.3, -0.1, 0.3])),
    ("all positive", torch.tensor([0.5, 1.0, 0.25])),
    ("every weight negative", torch.tensor([-0.5, -0.2, -0.9])),
]


@check
def check_most_exciting_input(fn: Callable) -> None:
    """Check fn(w [n]) -> the x >= 0 with |x| = 1 that maximises w · x."""
    from neuralcircuits.science import superposition

    for what, w in _EXCITE_CASES:
        result = call(fn, w.clone(), name="most_exciting_input")
        if (
            isinstance(result, torch.Tensor)
            and result.is_floating_point()
            and not torch.isfinite(result).all()
            and (w <= 0).all()
        ):
            fail(
                "When every weight is negative, ReLU(w) is 0 and dividing by its length "
                "gives NaN: then the best is the least negative feature alone."
            )
        x = as_tensor(
            result, "The input `most_exciting_input` returned", shape=tuple(w.shape)
        )
        shown = f"for w = {[round(v, 3) for v in w.tolist()]} ({what})"
        if (x < -1e-6).any():
            fail(
                f"Your x {shown} has negative entries: features are intensities, never "
                "negative, so only inputs with x >= 0 are allowed."
            )
        length = float(x.norm())
        if abs(length - 1) > 1e-4:
            extra = (
                " (when no weight is positive, take the least negative feature alone)"
                if (w <= 0).all()
                else ""
            )
            fail(
                f"Your x {shown} has length {length:.3g}; the bound is |x| = 1, so "
                f"scale it to length 1{extra}."
            )
        best = superposition.most_exciting_input(w)
        reached, possible = float(w @ x), float(w @ best)
        if reached < possible - 1e-4:
            one_hot = torch.zeros_like(w)
            one_hot[int(w.argmax())] = 1.0
            absolute = w.abs() / w.abs().norm()
            if torch.allclose(x, one_hot, atol=1e-4):
                fail(
                    f"The single feature with the largest weight reaches w · x = "
                    f"{reached:.3g} {shown}, but mixing every positively weighted feature "
                    f"reaches {possible:.3g}: a neuron is excited most by a blend."
                )
            if torch.allclose(x, absolute, atol=1e-4):
                fail(
                    f"You gave weight to features the neuron reads negatively (|w|) {shown}: "
                    "they lower w · x; leave them at 0."
                )
            k = int(x.argmax())
            if (w <= 0).all() and torch.allclose(x, torch.eye(len(w))[k], atol=1e-4):
                fail(
                    f"Your x puts everything on feature {k} (weight {float(w[k]):.3g}) "
                    f"{shown}; with no positive weight the best is the least negative "
                    f"feature alone, feature {int(w.argmax())} ({float(w.max()):.3g})."
                )
            fail(
                f"Your x reaches w · x = {reached:.3g} {shown}, but {possible:.3g} is "
                "possible with x >= 0 and |x| = 1."
            )
    passed(
        "most_exciting_input finds each test neuron's most exciting input (x >= 0, |x| = 1)."
    )
