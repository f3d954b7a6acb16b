"""Lesson 04's checks for the components and the surgery: the OV successor score,
the overlap of two circuits, the surgery's corrections.
"""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science.patching import Component
from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    close,
    fail,
    passed,
)


# ---------------------------------------------------------------------------
# An OV successor score
# ---------------------------------------------------------------------------
def _ov_case(layer: int, n_layers: int = 3, seed: int = 175):
    """Per-layer inputs; at ``layer``, ten members whose OV outputs rank the successor at ``ranks``."""
    d_model, d_vocab, n = 6, 14, 10
    g = torch.Generator().manual_seed(seed + layer)
    inputs = torch.randn(n_layers, n, d_model, generator=g)  # [n_layers, n, d_model]
    W_V = torch.randn(d_model, 3, generator=g)
    W_O = torch.randn(3, d_model, generator=g)
    W_U = torch.randn(d_model, d_vocab, generator=g)

    def read(x):
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.norm(dim=-1, keepdim=True) + 1e-6)
        return x @ W_U

    order = read(inputs[layer] @ W_V @ W_O).argsort(-1, descending=True)  # [n, d_vocab]
    ranks = [0, 2, 4, 5, 1, 8, 3, 7, 0, 6]  # 0-based rank of each member's successor
    successor_ids = torch.tensor([int(order[i, r]) for i, r in enumerate(ranks)])
    return inputs, W_V, W_O, read, successor_ids, ranks


def _ov_hits(inputs_l, W_V, W_O, read, succ, k):
    top = read(inputs_l @ W_V @ W_O).topk(k, -1).indices
    return (top == succ[:, None]).any(-1).float().mean().item()


def check_ov_successor_score(ov_successor_score) -> None:
    """Check the share of members whose OV output, from the head's own layer's input, ranks the successor in the top k."""
    for layer, k in ((1, 5), (2, 3), (0, 5)):
        inputs, W_V, W_O, read, succ, ranks = _ov_case(layer)
        given = inputs.clone()
        got = call(
            ov_successor_score,
            given,
            layer,
            W_V,
            W_O,
            read,
            succ,
            k,
            name="ov_successor_score",
        )
        if not torch.equal(given, inputs):
            fail("`ov_successor_score` changes `inputs` in place; work on a copy.")
        value = float(as_tensor(got, "the score", shape=()))
        want = sum(r < k for r in ranks) / len(ranks)
        if abs(value - want) < 1e-6:
            continue
        where = f"For a layer-{layer} head with k = {k} it gives {value:.3f} instead of {want:.3f}"
        if abs(value - sum(r < k for r in ranks)) < 1e-6 and value > 1:
            fail(
                f"It returns {value:g}, a count of members; return the share, a number "
                "between 0 and 1 (divide by the number of members)."
            )
        if abs(value - sum(r == 0 for r in ranks) / len(ranks)) < 1e-6:
            fail(
                f"{where}: the share whose successor is the top-1 token; count a hit "
                f"when it is anywhere in the top {k}."
            )
        others = [L for L in range(inputs.shape[0]) if L != layer]
        for L in others:
            if abs(value - _ov_hits(inputs[L], W_V, W_O, read, succ, k)) < 1e-6:
                fail(
                    f"{where}: it reads layer {L}'s input; a head reads the members as its "
                    f"own layer sees them, inputs[layer] = inputs[{layer}]."
                )
        raw = (inputs[layer] @ W_V @ W_O).topk(k, -1).indices
        if abs(value - (raw == succ[:, None]).any(-1).float().mean().item()) < 1e-6:
            fail(
                "It ranks the OV output without `read` (the final LayerNorm and the "
                "unembedding): logits = read(inputs[layer] @ W_V @ W_O)."
            )
        fail(
            f"{where}: compute read(inputs[layer] @ W_V @ W_O), take each row's top k "
            "tokens, and count the rows that contain their successor."
        )
    passed(
        "ov_successor_score reads each head's own layer's input (layers 0-2; k = 5, 3)."
    )


# ---------------------------------------------------------------------------
# The overlap of two circuits
# ---------------------------------------------------------------------------
_OVERLAP_CASES = [
    (["0.1", "4.4", "9.1", "MLP9", "MLP0"], ["9.1", "0.1", "MLP0", "7.11"]),
    (["MLP1", "0.3", "0.0"], ["0.3", "MLP1", "MLP0", "0.3"]),
    (["1.5"], ["4.4"]),
]


def _names(items: Any) -> list[str]:
    return [str(Component.parse(i)) for i in items]


def check_shared_components(shared_components) -> None:
    """Check the components two circuits share, once each, in model order."""
    from neuralcircuits.science.circuit_discovery import shared_components as reference

    for a, b in _OVERLAP_CASES:
        got = call(shared_components, list(a), list(b), name="shared_components")
        if got is None:
            fail("`shared_components` returned None: return a list of components.")
        if not isinstance(got, (list, tuple)):
            fail(
                f"`shared_components` should return a list, got a {type(got).__name__}."
            )
        try:
            got_names = _names(got)
        except (ValueError, TypeError, AttributeError):
            fail(
                f"The result {list(got)!r} holds something that is not a component "
                "(use the circuits' own items, like '9.1' or 'MLP0')."
            )
        want = _names(reference(a, b))
        if got_names == want:
            continue
        case = f"For {a} and {b}"
        extra = [c for c in got_names if c not in want]
        missing = [c for c in want if c not in got_names]
        if extra:
            only = "circuit_a" if extra[0] in _names(a) else "circuit_b"
            fail(
                f"{case} it includes {extra[0]}, which is only in {only}; keep the "
                "components in both."
            )
        if missing:
            fail(f"{case} it misses {missing[0]}, which is in both circuits.")
        if len(got_names) != len(set(got_names)):
            twice = next(c for c in got_names if got_names.count(c) > 1)
            fail(f"{case} it lists {twice} twice; each shared component once.")
        fail(
            f"{case} it returns {got_names}; list them in model order, {want} (sort with "
            "circuit_discovery.component_key)."
        )
    passed(
        f"shared_components finds the overlap of all {len(_OVERLAP_CASES)} test pairs, "
        "in model order."
    )


# ---------------------------------------------------------------------------
# Fitting the surgery's corrections
# ---------------------------------------------------------------------------
def _shift_case(seed: int, d: int, missing: tuple[int, ...]):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(12, d, generator=g)
    means[list(missing)] = float("nan")
    return means


def _shift_want(means, shift):
    out = torch.zeros_like(means)
    for m in range(12):
        t = m + shift
        if 0 <= t < 12 and not means[m].isnan().any() and not means[t].isnan().any():
            out[m] = means[t] - means[m]
    return out


def check_shift_corrections(shift_corrections) -> None:
    """Check the value corrections that make a head read member m as member m + shift."""
    for seed, d, missing, shift in (
        (0, 4, (11,), -2),
        (1, 3, (0, 5), 1),
        (2, 5, (), -1),
    ):
        means = _shift_case(seed, d, missing)
        given = means.clone()
        got = call(shift_corrections, given, shift, name="shift_corrections")
        if not torch.equal(given.nan_to_num(123.0), means.nan_to_num(123.0)):
            fail("`shift_corrections` changes `value_means` in place; work on a copy.")
        value = got if not isinstance(got, torch.Tensor) else got.nan_to_num(1e9)
        value = as_tensor(value, "the result of shift_corrections", shape=(12, d))
        want = _shift_want(means, shift)
        if close(value, want):
            continue
        case = f"With shift {shift:+d}"
        if close(value, -want):
            fail(
                f"{case} the sign is flipped: the correction is mean[m + shift] - mean[m] "
                "(target minus source)."
            )
        if close(value, _shift_want(means, -shift)):
            fail(
                f"{case} it shifts the wrong way: member m should read as member m + shift."
            )
        if (value.abs() >= 1e8).any():
            fail(
                f"{case} some corrections are NaN: a member never seen (a NaN row) gets "
                "a zero correction."
            )
        inside = [m for m in range(12) if 0 <= m + shift < 12]
        edge = [m for m in range(12) if m not in inside]
        if edge and not close(value[edge], torch.zeros_like(value[edge])):
            fail(
                f"{case} members with no member {shift:+d} places away (e.g. {edge[0] + 1}) "
                "get a correction; they have no target, so give them zero (no wrap-around)."
            )
        fail(
            f"{case} the corrections differ from mean[m + shift] - mean[m] for the members "
            "whose target exists."
        )
    passed(
        "shift_corrections gives target minus source, zero without a target (shifts -2, +1, -1)."
    )
