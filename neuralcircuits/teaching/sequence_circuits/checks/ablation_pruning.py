"""Lesson 04's checks for ablation and pruning: the mean-ablation hook, the paper's
iterative pruning loop.
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
# A mean-ablation hook
# ---------------------------------------------------------------------------
def check_mean_ablate_head(mean_ablate_head) -> None:
    """Check a hook that replaces one head's output (hook_z) by its reference mean."""
    g = torch.Generator().manual_seed(1)
    for batch, pos, n_heads, d_head, head in ((3, 4, 5, 2, 2), (2, 6, 3, 4, 0)):
        z = torch.randn(batch, pos, n_heads, d_head, generator=g)
        mean = torch.randn(pos, d_head, generator=g)  # [pos, d_head]
        want = z.clone()
        want[:, :, head] = mean
        got = call(
            mean_ablate_head,
            z.clone(),
            None,
            head,
            mean.clone(),
            name="mean_ablate_head",
            may_change=(0,),  # a hook may edit its activation in place
        )
        got = as_tensor(got, "the hook's result", shape=tuple(z.shape))
        if close(got, want):
            continue
        changed = [h for h in range(n_heads) if not close(got[:, :, h], z[:, :, h])]
        if close(got[:, :, head], torch.zeros_like(mean).expand(batch, -1, -1)):
            fail(
                f"Head {head} is set to zero: that is zero ablation; mean ablation writes "
                "the mean from the reference prompts, `mean`, there."
            )
        if close(got[:, :, head], z.mean(0)[:, head].expand(batch, -1, -1)):
            fail(
                f"Head {head} gets the mean of this batch; use the `mean` passed in (it "
                "comes from the reference prompts with random members)."
            )
        if len(changed) > 1:
            fail(
                f"It changes heads {changed}; only head {head} should change, the other "
                "heads keep their output."
            )
        if changed and changed[0] != head:
            fail(
                f"It changes head {changed[0]} instead of head {head}: index the head "
                "axis, z[:, :, head]."
            )
        if not changed:
            fail(f"It leaves head {head} unchanged; write `mean` into z[:, :, head].")
        fail(
            f"Head {head} does not hold `mean` at every prompt and position: assign "
            "z[:, :, head] = mean (it broadcasts over the batch)."
        )
    passed(
        "mean_ablate_head replaces exactly the chosen head by its mean, at every "
        "prompt and position."
    )


# ---------------------------------------------------------------------------
# The paper's iterative pruning loop
# ---------------------------------------------------------------------------
def _toy_components():
    heads = [Component("head", L, h) for L in range(3) for h in range(2)]
    mlps = [Component("mlp", L) for L in range(3)]
    return heads, mlps


def _toy_order(direction: str) -> list[Component]:
    heads, mlps = _toy_components()
    order = []
    layers = (2, 1, 0) if direction == "backward" else (0, 1, 2)
    for L in layers:
        hs = [h for h in heads if h.layer == L]
        m = [mlps[L]]
        order += m + hs if direction == "backward" else hs + m
    return order


def _toy_performance(circuit) -> float:
    """A made-up model: what its circuit keeps, by rules with backups and interactions."""
    c = {Component.parse(x) for x in circuit}
    H = lambda L, h: Component("head", L, h) in c  # noqa: E731
    M = lambda L: Component("mlp", L) in c  # noqa: E731
    score = 1.0
    if not M(2):
        score -= 0.7  # the last MLP is essential
    if not (H(2, 0) or H(0, 1)):
        score -= 0.6  # two heads back each other up
    score -= 0.125 * (not H(1, 1)) + 0.125 * (
        not H(0, 0)
    )  # each alone is fine, not both
    if not M(1) and H(1, 0):
        score -= 0.3  # head 1.0 hurts once MLP1 is gone
    if not H(2, 1):
        score -= 0.125  # a small cost that adds up with the others
    if not M(0) and M(1):
        score -= 0.3  # MLP0 can only go after MLP1
    return score


def _prune(
    order,
    performance,
    threshold,
    *,
    directions=("backward", "forward"),
    rounds=10,
    cumulative=True,
    relative=False,
    strict=False,
):
    heads, mlps = _toy_components()
    circuit = set(heads + mlps)
    full = performance(circuit)
    for _ in range(rounds):
        changed = False
        for direction in directions:
            for comp in order(direction):
                if comp not in circuit:
                    continue
                base = circuit if cumulative else set(heads + mlps)
                score = performance(base - {comp})
                ref = performance(circuit) if relative else full
                ok = score > threshold * ref if strict else score >= threshold * ref
                if ok:
                    circuit, changed = circuit - {comp}, True
        if not changed:
            break
    return circuit


_PRUNE_MISTAKES: dict[str, tuple[dict[str, Any], str]] = {
    "one pass": (
        dict(directions=("backward",), rounds=1),
        "it stops after the backward pass; visit forward too, and repeat the "
        "two passes until one removes nothing",
    ),
    "forward first": (
        dict(directions=("forward", "backward")),
        "it visits forward first; the paper goes backward (last layer "
        "first), then forward, so of two backup heads the later one goes",
    ),
    "not cumulative": (
        dict(cumulative=False),
        "it tests each component alone against the full model; ablate it "
        "together with everything removed so far",
    ),
    "relative": (
        dict(relative=True),
        "it compares with the current circuit's score; the threshold is a share "
        "of the full model's score, so the losses add up",
    ),
    "strict": (
        dict(strict=True),
        "it removes a component only when the score is strictly above the "
        "threshold; the paper keeps 'at least' the threshold (>=)",
    ),
    "one round": (
        dict(rounds=1),
        "it stops after one backward and one forward pass; repeat until a "
        "pass removes nothing",
    ),
}


def check_iterative_prune(iterative_prune) -> None:
    """Check the paper's pruning loop on a made-up model with backups and interactions."""
    heads, mlps = _toy_components()
    threshold = 0.75
    calls = []

    def performance(circuit):
        calls.append(1)
        if not isinstance(circuit, (set, frozenset, list, tuple)):
            fail("performance(...) takes the candidate circuit, a set of components.")
        return _toy_performance(circuit)

    got = call(
        iterative_prune, _toy_order, performance, threshold, name="iterative_prune"
    )
    if got is None:
        fail("`iterative_prune` returned None: return the circuit it keeps.")
    try:
        circuit = {Component.parse(c) for c in got}
    except (ValueError, TypeError):
        fail("The result should be a collection of components (the circuit kept).")
    want = _prune(_toy_order, _toy_performance, threshold)
    if circuit == want:
        passed(
            f"iterative_prune keeps {', '.join(str(c) for c in sorted(want))} on the "
            f"made-up model, as the paper's loop does."
        )
        return
    everything = set(heads + mlps)
    if circuit == everything - want:
        fail("It returns the components removed; return the ones kept (the circuit).")
    if circuit == everything:
        fail("It removes nothing: drop a component when the rest keeps >= threshold.")
    for options, message in _PRUNE_MISTAKES.values():
        if circuit == _prune(_toy_order, _toy_performance, threshold, **options):
            fail(f"Not the paper's loop yet: {message}.")
    shown = ", ".join(str(c) for c in sorted(circuit))
    fail(
        f"It keeps {shown or 'nothing'}; visit the components backward then forward, "
        "drop each whose removal (with all removed so far) keeps >= threshold x full, "
        "and repeat until a pass removes nothing."
    )
