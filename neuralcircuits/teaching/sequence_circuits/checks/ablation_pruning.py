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
    check,
    close,
    fail,
    passed,
)


# ---------------------------------------------------------------------------
# A mean-ablation hook
# ---------------------------------------------------------------------------
@check
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
        patched = got[:, :, head]  # [batch, pos, d_head]
        if close(patched, z[:, :, head] + mean):
            fail(
                f"It adds `mean` to head {head}'s output; mean ablation replaces the "
                "output by the mean: z[:, :, head] = mean."
            )
        if close(patched, mean.mean(0).expand_as(patched)):
            fail(
                f"Head {head} gets one vector, `mean` averaged over the positions; "
                "`mean` has a row per position: write it as it is."
            )
        kept = [p for p in range(pos) if close(patched[:, p], z[:, p, head])]
        if kept and close(patched[:, -1], mean[-1].expand_as(patched[:, -1])):
            fail(
                f"It writes the mean at some positions only (position {kept[0]} keeps "
                "its output); write it at every position, z[:, :, head] = mean."
            )
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


# A made-up model: what its circuit keeps, by rules with backups and
# interactions; (rule, a, b, cost) with the costs in sixteenths, so that
# scores land exactly on a threshold. Chosen (by search) so that every loop
# in _PRUNE_MISTAKES keeps a different circuit at one threshold or the other.
_TOY_RULES = [
    ("after", "1.1", "1.0", 0.75),  # losing 1.1 costs 0.75 while 1.0 is there
    ("after", "MLP2", "0.1", 0.5),
    ("after", "2.0", "0.1", 0.0625),
    ("backup", "1.1", "MLP1", 0.0625),  # losing both costs 0.0625
    ("backup", "0.0", "MLP1", 0.3125),
    ("need", "MLP0", None, 0.1875),  # losing MLP0 costs 0.1875
    ("after", "1.0", "1.1", 0.1875),
    ("after", "0.1", "2.0", 0.125),
]
_TOY_THRESHOLDS = (0.75, 0.5)


def _toy_performance(circuit) -> float:
    """The made-up model's share of its full score, kept by ``circuit``."""
    c = {Component.parse(x) for x in circuit}
    score = 1.0
    for rule, a, b, cost in _TOY_RULES:
        lost = Component.parse(a) not in c
        other = b is not None and Component.parse(b) in c
        if (
            (rule == "need" and lost)
            or (rule == "backup" and lost and not other)
            or (rule == "after" and lost and other)
        ):
            score -= cost
    return score


def _prune(
    order,
    performance,
    threshold,
    *,
    directions=("backward", "forward"),
    first_round=None,
    rounds=10,
    cumulative=True,
    relative=False,
    strict=False,
    fixed_threshold=None,
    leave_in=False,
):
    """The paper's loop, or (with an option) one of its plausible variants."""
    heads, mlps = _toy_components()
    everything = set(heads + mlps)
    circuit = set(everything)
    full = performance(circuit)
    cut = threshold if fixed_threshold is None else fixed_threshold
    for rnd in range(rounds):
        changed = False
        for direction in first_round if first_round and rnd == 0 else directions:
            for comp in order(direction):
                if comp not in circuit:
                    continue
                base = circuit if cumulative else everything
                score = performance(set(circuit) if leave_in else base - {comp})
                ref = performance(circuit) if relative else full
                ok = score > cut * ref if strict else score >= cut * ref
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
    "backward only": (
        dict(directions=("backward",)),
        "it repeats the backward pass only; each round is a backward pass, then a "
        "forward pass (first layer first, heads before the MLP)",
    ),
    "forward only": (
        dict(directions=("forward",)),
        "it visits forward only; each round is a backward pass (last layer first, "
        "the MLP before the heads), then a forward pass",
    ),
    "forward first": (
        dict(directions=("forward", "backward")),
        "it visits forward first; the paper goes backward (last layer "
        "first), then forward, so of two backup heads the later one goes",
    ),
    "then forward only": (
        dict(first_round=("backward", "forward"), directions=("forward",)),
        "after the first round it repeats the forward pass only; every round is "
        "a backward pass, then a forward pass",
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
        "it keeps a component whose removal leaves exactly the threshold; the "
        "paper removes it when the rest keeps at least the threshold (>=)",
    ),
    "one round": (
        dict(rounds=1),
        "it stops after one backward and one forward pass; repeat until a "
        "pass removes nothing",
    ),
    "leave in": (
        dict(leave_in=True),
        "it asks performance about the circuit with the component still in it; "
        "ask about the circuit without it, performance(circuit - {comp})",
    ),
    "fixed threshold": (
        dict(fixed_threshold=0.8),
        "it keeps what the loop keeps at threshold 0.8 whatever `threshold` is; "
        "compare with the `threshold` passed in",
    ),
}


def _first_questions(options: dict[str, Any]) -> list[frozenset]:
    """The first three circuits a variant of the loop asks performance about."""
    calls: list[frozenset] = []

    def performance(circuit):
        calls.append(frozenset(circuit))
        return _toy_performance(circuit)

    _prune(_toy_order, performance, _TOY_THRESHOLDS[0], **options)
    return _questions(calls)


def _questions(calls: list[frozenset], n: int = 3) -> list[frozenset]:
    """The first ``n`` candidates asked about (not the whole model, no repeats in a row)."""
    everything = frozenset().union(*_toy_components())
    asked: list[frozenset] = []
    for candidate in calls:
        if candidate != everything and (not asked or asked[-1] != candidate):
            asked.append(candidate)
    return asked[:n]


def _first_other_question(calls: list[frozenset], threshold: float) -> str | None:
    """Where the loop's questions first part from the paper's loop's, said in a sentence."""
    right: list[frozenset] = []

    def performance(circuit):
        right.append(frozenset(circuit))
        return _toy_performance(circuit)

    _prune(_toy_order, performance, threshold)
    theirs, ours = _questions(calls, len(calls)), _questions(right, len(right))
    circuit = frozenset().union(*_toy_components())
    last_dropped = False
    for i, (a, b) in enumerate(zip(theirs, ours, strict=False)):
        if a != b:
            skipped, instead = circuit - b, circuit - a
            if len(instead) != 1 or not a < circuit:
                return None
            also = (
                " (removing from a list while looping over it skips the next item)"
                if last_dropped
                else ""
            )
            return (
                f"it asks about the circuit without {min(instead)} where the paper's "
                f"order asks about the circuit without {min(skipped)}{also}"
            )
        (tested,) = circuit - b
        last_dropped = i + 1 < len(ours) and tested not in ours[i + 1]
        if last_dropped:
            circuit = b
    return None


def _first_wrong_decision(calls: list[frozenset], kept: frozenset, threshold: float):
    """The first component the loop kept or dropped against the rule, read from its questions.

    Each question that leaves one component out of the circuit so far tests
    that component; the next question (or the result) shows whether it went.
    """
    circuit = frozenset().union(*_toy_components())
    for i, candidate in enumerate(calls):
        if candidate == circuit:
            continue  # the circuit itself (its score, or a component already gone)
        out = circuit - candidate
        if len(out) != 1 or not candidate < circuit:
            return None  # not a question the analysis can read
        (comp,) = out
        later = [c for c in calls[i + 1 :] if c != candidate]  # the same question again
        after = later[0] if later else kept
        dropped = comp not in after
        score = _toy_performance(candidate)
        if dropped and score < threshold:
            return (
                f"it drops {comp} although the circuit without it keeps only "
                f"{score:g} of the full score, below the threshold"
            )
        if not dropped and score >= threshold:
            return (
                f"it keeps {comp} although the circuit without it keeps {score:g} "
                f"of the full score, at least the threshold"
            )
        if dropped:
            circuit = candidate
    return None


@check
def check_iterative_prune(iterative_prune) -> None:
    """Check the paper's pruning loop on a made-up model with backups and interactions."""
    heads, mlps = _toy_components()
    everything = set(heads + mlps)
    got, asked = [], []
    for threshold in _TOY_THRESHOLDS:
        calls: list[frozenset] = []

        def performance(circuit, calls=calls):
            if not isinstance(circuit, (set, frozenset, list, tuple)):
                fail(
                    "performance(...) takes the candidate circuit, a set of components."
                )
            calls.append(frozenset(Component.parse(c) for c in circuit))
            return _toy_performance(circuit)

        result = call(
            iterative_prune, _toy_order, performance, threshold, name="iterative_prune"
        )
        if result is None:
            fail("`iterative_prune` returned None: return the circuit it keeps.")
        try:
            got.append(frozenset(Component.parse(c) for c in result))
        except (ValueError, TypeError):
            fail("The result should be a collection of components (the circuit kept).")
        asked.append(calls)
    want = [frozenset(_prune(_toy_order, _toy_performance, t)) for t in _TOY_THRESHOLDS]
    if got == want:
        passed(
            "iterative_prune keeps "
            + " and ".join(
                f"{', '.join(str(c) for c in sorted(w))} at threshold {t}"
                for w, t in zip(want, _TOY_THRESHOLDS, strict=True)
            )
            + " on the made-up model, as the paper's loop does."
        )
        return
    if all(g == everything - w for g, w in zip(got, want, strict=True)):
        fail("It returns the components removed; return the ones kept (the circuit).")
    if all(g == everything for g in got):
        fail("It removes nothing: drop a component when the rest keeps >= threshold.")
    if not asked[0]:
        fail("It never calls performance(...): score each candidate circuit with it.")
    questions = _questions(asked[0])
    if not questions:
        fail(
            "It only ever asks performance about the whole circuit, with nothing "
            "left out: ask about the circuit without the component visited, "
            "performance(circuit - {comp})."
        )
    for options, message in _PRUNE_MISTAKES.values():
        if got == [
            frozenset(_prune(_toy_order, _toy_performance, t, **options))
            for t in _TOY_THRESHOLDS
        ] and _first_questions(options) == _questions(asked[0]):
            fail(f"Not the paper's loop yet: {message}.")
    start = _toy_order("backward")[0]
    if questions[0] != everything - {start}:
        left_out = ", ".join(str(c) for c in sorted(everything - questions[0]))
        fail(
            f"Its first question leaves out {left_out}; the backward pass starts with "
            f"the last layer's MLP, so the first candidate is the circuit without {start}."
        )
    for threshold, calls, kept in zip(_TOY_THRESHOLDS, asked, got, strict=True):
        problem = _first_wrong_decision(calls, kept, threshold)
        if problem:
            fail(f"At threshold {threshold} {problem}.")
    for threshold, calls in zip(_TOY_THRESHOLDS, asked, strict=True):
        problem = _first_other_question(calls, threshold)
        if problem:
            fail(f"At threshold {threshold} {problem}.")
    i = 0 if got[0] != want[0] else 1
    shown = ", ".join(str(c) for c in sorted(got[i])) or "nothing"
    fail(
        f"At threshold {_TOY_THRESHOLDS[i]} it keeps {shown}; visit the components "
        "backward then forward, drop each whose removal (with all removed so far) "
        "keeps >= threshold x full, and repeat until a pass removes nothing."
    )
