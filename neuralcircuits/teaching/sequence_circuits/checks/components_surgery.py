"""Lesson 04's checks for the components and the surgery: the OV successor score,
the overlap of two circuits, the surgery's corrections.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from neuralcircuits.science.patching import Component
from neuralcircuits.teaching.checking import (
    as_tensor,
    brief,
    call,
    check,
    close,
    fail,
    passed,
)

# ---------------------------------------------------------------------------
# An OV successor score
# ---------------------------------------------------------------------------
# Twenty members whose successor shares differ from layer to layer and from k
# to k, and from each near miss below, so every answer is told apart (seed
# found by search).
_OV_SEED = 1316
_OV_CASES = ((1, 5), (2, 3), (0, 5), (1, 3), (2, 5), (0, 3))  # (layer, k)


def _ov_case(n: int = 20, n_layers: int = 3, d_model: int = 6, d_vocab: int = 14):
    """Per-layer inputs [n_layers, n, d_model], one head's W_V and W_O, a readout and successor ids."""
    g = torch.Generator().manual_seed(_OV_SEED)
    inputs = torch.randn(n_layers, n, d_model, generator=g)
    W_V = torch.randn(d_model, 3, generator=g)
    W_O = torch.randn(3, d_model, generator=g)
    W_U = torch.randn(d_model, d_vocab, generator=g)
    successor_ids = torch.randint(0, d_vocab, (n,), generator=g)

    def read(x):
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.norm(dim=-1, keepdim=True) + 1e-6)
        return x @ W_U

    return inputs, W_V, W_O, read, successor_ids


def _share(logits: torch.Tensor, succ: torch.Tensor, k: int) -> float:
    top = logits.topk(k, -1).indices
    return (top == succ[:, None]).any(-1).float().mean().item()


def _ov_diagnosis(got: dict, inputs, W_V, W_O, read, succ) -> str | None:
    """What the answers (a share per (layer, k)) did, when every case says the same."""
    n_layers, n = inputs.shape[:2]
    right = {
        (L, k): _share(read(inputs[L] @ W_V @ W_O), succ, k)
        for L in range(n_layers)
        for k in range(1, read(inputs[0, :1]).shape[-1] + 1)
    }

    def every(value) -> bool:
        return all(abs(got[L, k] - value(L, k)) < 1e-6 for L, k in _OV_CASES)

    if every(lambda L, k: right[L, k] * n) and max(got.values()) > 1:
        return (
            "It returns a count of members; return the share, a number between 0 "
            "and 1 (divide by the number of members)."
        )
    read_layer = {}
    for L in range(n_layers):
        same = [
            j
            for j in range(n_layers)
            if all(
                abs(got[L, k] - right[j, k]) < 1e-6 for LL, k in _OV_CASES if LL == L
            )
        ]
        read_layer[L] = same[0] if len(same) == 1 else None
    if None not in read_layer.values() and any(j != L for L, j in read_layer.items()):
        for step, which in ((-1, "the layer before"), (1, "the layer after")):
            if all(j == (L + step) % n_layers for L, j in read_layer.items()):
                return (
                    f"It reads {which}'s input, inputs[layer {'+' if step > 0 else '-'} 1]; "
                    "a head reads "
                    "the members as its own layer sees them, inputs[layer]."
                )
        if len(set(read_layer.values())) == 1:
            j = read_layer[0]
            return (
                f"It reads layer {j}'s input for every head, whatever `layer` is; a "
                "head reads the members as its own layer sees them, inputs[layer]."
            )
        L = next(L for L, j in read_layer.items() if j != L)
        return (
            f"For a layer-{L} head it reads layer {read_layer[L]}'s input; a head "
            f"reads the members as its own layer sees them, inputs[layer] = inputs[{L}]."
        )
    if every(lambda L, k: right[L, 1]):
        return (
            "It counts a member only when its successor is the top-1 token, whatever "
            "`k` is; count it anywhere in the top k."
        )
    d_vocab = read(inputs[0, :1]).shape[-1]
    for step in (1, -1):
        if every(lambda L, k, step=step: right[L, min(max(k + step, 1), d_vocab)]):
            return (
                f"It takes the top k {'+' if step > 0 else '-'} 1 tokens; take the "
                "top `k`, logits.topk(k, dim=-1)."
            )
    for k0 in range(2, d_vocab + 1):
        if every(lambda L, k, k0=k0: right[L, k0]):
            return f"It takes the top {k0} tokens whatever `k` is; take the top `k`."
    variants = {
        "ranks the OV output without `read` (the final LayerNorm and the "
        "unembedding): logits = read(inputs[layer] @ W_V @ W_O)": lambda L, k: _share(
            inputs[L] @ W_V @ W_O, succ, k
        ),
        "reads the members' own logits, read(inputs[layer]), without the head's OV "
        "circuit: logits = read(inputs[layer] @ W_V @ W_O)": lambda L, k: _share(
            read(inputs[L]), succ, k
        ),
        "averages the inputs over the layers; a head reads its own layer's, "
        "inputs[layer]": lambda L, k: _share(read(inputs.mean(0) @ W_V @ W_O), succ, k),
    }
    for what, value in variants.items():
        if every(value):
            return f"It {what}."
    return None


@check
def check_ov_successor_score(ov_successor_score) -> None:
    """Check the share of members whose OV output, from the head's own layer's input, ranks the successor in the top k."""
    got = {}
    for layer, k in _OV_CASES:
        inputs, W_V, W_O, read, succ = _ov_case()
        given = inputs.clone()
        value = call(
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
        got[layer, k] = float(as_tensor(value, "the score", shape=()))
    inputs, W_V, W_O, read, succ = _ov_case()
    want = {(L, k): _share(read(inputs[L] @ W_V @ W_O), succ, k) for L, k in _OV_CASES}
    if all(abs(got[c] - want[c]) < 1e-6 for c in _OV_CASES):
        passed(
            "ov_successor_score reads each head's own layer's input (layers 0-2; "
            "k = 5 and 3)."
        )
        return
    problem = _ov_diagnosis(got, inputs, W_V, W_O, read, succ)
    if problem:
        fail(problem)
    L, k = next(c for c in _OV_CASES if abs(got[c] - want[c]) >= 1e-6)
    fail(
        f"For a layer-{L} head with k = {k} it gives {got[L, k]:.3f} instead of "
        f"{want[L, k]:.3f}: compute read(inputs[layer] @ W_V @ W_O), take each row's "
        "top k tokens, and count the rows that contain their successor."
    )


# ---------------------------------------------------------------------------
# The overlap of two circuits
# ---------------------------------------------------------------------------
_OVERLAP_CASES: list[tuple[list[Any], list[Any]]] = [
    # model order, text order and each circuit's own order all differ
    (["9.1", "4.4", "MLP0", "0.1", "MLP9"], ["MLP0", "9.1", "7.11", "0.1"]),
    # repeats in both circuits
    (["MLP1", "0.3", "0.0", "0.3", "MLP1"], ["0.3", "MLP1", "MLP0", "0.3", "0.0"]),
    # Components and strings mixed: the same component written two ways
    (
        [Component("head", 9, 1), "MLP2", Component("mlp", 0), "5.5"],
        ["9.1", Component("mlp", 2), "MLP0", "5.5"],
    ),
    # many components in one layer, out of model order in both circuits
    (
        ["MLP3", "3.4", "3.2", "3.0", "3.1", "MLP5", "5.3", "5.0", "5.2"],
        ["3.1", "MLP5", "3.0", "5.2", "3.4", "MLP3", "5.0", "3.2", "5.3"],
    ),
    (["1.5"], ["4.4"]),
]


def _names(items: Any) -> list[str]:
    return [str(Component.parse(i)) for i in items]


def _show(items: list[Any]) -> str:
    """A circuit as given, each item in the form the learner's function saw."""
    shown = [repr(i) if isinstance(i, str) else f"Component {i}" for i in items]
    return "[" + ", ".join(shown) + "]"


def _in_order_of(items: list[Any], want: list[str]) -> list[str]:
    """The shared components in the order they first come in ``items``."""
    return list(dict.fromkeys(c for c in _names(items) if c in want))


def _order_problem(answers: list[tuple[Any, Any, list[str], list[str]]]) -> str | None:
    """How the answers (right components, wrong order) order them, when all agree."""
    ordered = [(a, b, got, want) for a, b, got, want in answers if len(want) > 1]
    rules = {
        "it sorts them as text ('MLP0' after '9.1')": lambda a, b, w: sorted(w),
        "it keeps circuit_a's order": lambda a, b, w: _in_order_of(a, w),
        "it keeps circuit_b's order": lambda a, b, w: _in_order_of(b, w),
    }
    for what, rule in rules.items():
        if all(got == rule(a, b, want) for a, b, got, want in ordered):
            return what
    if all(
        [Component.parse(c).layer for c in got]
        == sorted(Component.parse(c).layer for c in got)
        for _, _, got, _ in ordered
    ):
        for _, _, got, want in ordered:
            for x, y in itertools.pairwise(got):
                if want.index(x) > want.index(y):
                    return (
                        f"it orders them by layer, but in layer "
                        f"{Component.parse(x).layer} it lists {x} before {y}; in a "
                        "layer the heads come by index, then the MLP"
                    )
    return None


@check
def check_shared_components(shared_components) -> None:
    """Check the components two circuits share, once each, in model order."""
    from neuralcircuits.science.circuit_discovery import shared_components as reference

    answers = []
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
                f"The result {brief(list(got))} holds something that is not a component "
                "(use the circuits' own items, like '9.1' or 'MLP0')."
            )
        want = _names(reference(a, b))
        case = f"For {_show(a)} and {_show(b)}"
        extra = [c for c in got_names if c not in want]
        missing = [c for c in want if c not in got_names]
        if extra:
            only = "circuit_a" if extra[0] in _names(a) else "circuit_b"
            fail(
                f"{case} it includes {extra[0]}, which is only in {only}; keep the "
                "components in both."
            )
        if missing:
            comp = Component.parse(missing[0])
            forms = [
                next(i for i in side if Component.parse(i) == comp) for side in (a, b)
            ]
            if type(forms[0]) is not type(forms[1]):
                fail(
                    f"{case} it misses {comp}, which is in both, written "
                    f"{_show(forms[:1])[1:-1]} in one and {_show(forms[1:])[1:-1]} in "
                    "the other: parse both sides with Component.parse before comparing."
                )
            fail(f"{case} it misses {missing[0]}, which is in both circuits.")
        if len(got_names) != len(set(got_names)):
            twice = next(c for c in got_names if got_names.count(c) > 1)
            fail(f"{case} it lists {twice} twice; each shared component once.")
        answers.append((a, b, got_names, want))
    wrong = [(a, b, got, want) for a, b, got, want in answers if got != want]
    if wrong:
        a, b, got, want = wrong[0]
        problem = _order_problem(answers) or f"it returns {got}"
        fail(
            f"For {_show(a)} and {_show(b)} {problem}; list them in model order, "
            f"{want} (sort with circuit_discovery.component_key)."
        )
    passed(
        f"shared_components finds the overlap of all {len(_OVERLAP_CASES)} test pairs "
        "(repeats, Components and strings mixed, many per layer), in model order."
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


def _shift_problem(value: torch.Tensor, means: torch.Tensor, shift: int) -> str:
    """What a wrong table of corrections did, read from the table."""
    want = _shift_want(means, shift)
    if close(value, -want):
        return (
            "the sign is flipped: the correction is mean[m + shift] - mean[m] "
            "(target minus source)"
        )
    if close(value, _shift_want(means, -shift)):
        return "it shifts the wrong way: member m should read as member m + shift"
    if close(value, -_shift_want(means, -shift)):
        return (
            "row m holds mean[m] - mean[m - shift], the correction of member "
            "m - shift written in its target's row; row m is mean[m + shift] - mean[m]"
        )
    for s in range(-11, 12):
        if s != shift and close(value, _shift_want(means, s)):
            return (
                f"it gives the corrections of a shift of {s:+d}, not of the `shift` "
                f"passed in ({shift:+d})"
            )
    if (value.abs() >= 1e8).any():
        return (
            "some corrections are NaN: a member never seen (a NaN row) gets a zero "
            "correction"
        )
    unseen = means.isnan().any(-1)
    for m in range(12):
        t = m + shift
        if not 0 <= t < 12 or close(value[m], torch.zeros_like(value[m])):
            continue
        if unseen[m]:
            return (
                f"row {m}, a member never seen (its mean is NaN), gets a correction; "
                "give it zero"
            )
        if unseen[t]:
            return (
                f"row {m} gets a correction although its target, row {t}, was never "
                "seen (NaN); give it zero"
            )
    edge = [m for m in range(12) if not 0 <= m + shift < 12]
    moved = [m for m in edge if not close(value[m], torch.zeros_like(value[m]))]
    if moved:
        m = moved[0]
        wrapped = means[(m + shift) % 12] - means[m]
        how = (
            f", mean[{(m + shift) % 12}] - mean[{m}]: it wraps around"
            if close(value[m], wrapped)
            else ""
        )
        return (
            f"row {m} has no member {shift:+d} places away, yet it gets a "
            f"correction{how}; a row without a target gets zero"
        )
    return (
        "the corrections differ from mean[m + shift] - mean[m] for the members whose "
        "target exists"
    )


@check
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
        problem = _shift_problem(value, means, shift)
        fail(f"{case} {problem}.")
    passed(
        "shift_corrections gives target minus source, zero without a target (shifts -2, +1, -1)."
    )
