"""Checks for lesson 04, sequence-continuation circuits."""

from __future__ import annotations

import functools
from typing import Any

import torch

from neuralcircuits.science import patching, sequences
from neuralcircuits.science.hooks import hook_name
from neuralcircuits.science.patching import Component
from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    close,
    fail,
    inputs_unchanged,
    passed,
)


# ---------------------------------------------------------------------------
# 1. The logit-difference metric
# ---------------------------------------------------------------------------
def _metric_case(seed: int = 0, batch: int = 6, pos: int = 5, d_vocab: int = 11):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, pos, d_vocab, generator=g) * 3  # [batch, pos, d_vocab]
    answers = torch.randint(0, d_vocab, (batch,), generator=g)
    wrong = (answers + torch.randint(1, d_vocab, (batch,), generator=g)) % d_vocab
    return logits, answers, wrong


def _diff(logits, answers, wrong, pos=-1):
    last = logits[:, pos]
    rows = torch.arange(len(answers))
    return last[rows, answers] - last[rows, wrong]  # [batch]


def check_logit_diff_metric(logit_diff_metric) -> None:
    """Check logit(correct) - logit(incorrect) at the last position, averaged over prompts."""
    for case in ((0, 6, 5, 11), (1, 9, 3, 17)):
        _check_metric_case(logit_diff_metric, *case)
    passed(
        "logit_diff_metric gives the mean last-position logit difference (6 and 9 prompts)."
    )


def _check_metric_case(logit_diff_metric, seed, batch, pos, d_vocab) -> None:
    logits, answers, wrong = _metric_case(seed, batch, pos, d_vocab)
    given = {
        "logits": logits.clone(),
        "answers": answers.clone(),
        "wrong_answers": wrong.clone(),
    }
    got = call(logit_diff_metric, *given.values(), name="logit_diff_metric")
    inputs_unchanged(
        {"logits": logits, "answers": answers, "wrong_answers": wrong},
        given,
        "logit_diff_metric",
    )
    if (
        isinstance(got, torch.Tensor)
        and got.dim() == 1
        and got.shape[0] == len(answers)
    ):
        fail(
            f"`logit_diff_metric` returns one value per prompt (shape {tuple(got.shape)}); "
            "average them into one number with .mean()."
        )
    value = as_tensor(got, "the result of logit_diff_metric", shape=())
    want = _diff(logits, answers, wrong).mean()
    if close(value, want):
        return
    if close(value, -want):
        fail(
            "The sign is flipped: it computes logit(incorrect) - logit(correct); "
            "the correct answer's logit comes first."
        )
    if close(value, _diff(logits, answers, wrong, pos=0).mean()):
        fail(
            "It reads the logits at position 0; the next token after the prompt is "
            "predicted at the last position, logits[:, -1]."
        )
    probs = logits[:, -1].softmax(-1)
    rows = torch.arange(len(answers))
    if close(value, (probs[rows, answers] - probs[rows, wrong]).mean()):
        fail(
            "It compares probabilities; the metric compares the raw logits "
            "(before the softmax)."
        )
    if close(value, _diff(logits, answers, wrong).sum()):
        fail(
            "It sums over the prompts; take the mean, so the metric does not grow "
            "with the batch size."
        )
    fail(
        f"On a test batch it gives {float(value):.4f} instead of {float(want):.4f}: take "
        "logits[:, -1], pick each row's correct and incorrect token, subtract, average."
    )


# ---------------------------------------------------------------------------
# 2. A mean-ablation hook
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
# 3. Patching one head by hand
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _patch_setup():
    from neuralcircuits.science.models import load_model

    model = load_model("toy-seq")
    clean = sequences.make_dataset(model, "numerals", "clean", "all", n=12, seed=5)
    corrupted = sequences.make_dataset(
        model, "numerals", "corrupted", "all", n=12, seed=5
    )

    metric = sequences.logit_diff_metric(clean)

    with torch.no_grad():
        table = patching.patch_heads(model, clean.tokens, corrupted.tokens, metric)
        reverse = patching.patch_heads(model, corrupted.tokens, clean.tokens, metric)
        base_clean = float(metric(model(clean.tokens)))
        base_corrupted = float(metric(model(corrupted.tokens)))
    effect = (table - base_corrupted).abs().flatten()
    order = effect.argsort(descending=True)[:2].tolist()
    heads = [(i // model.cfg.n_heads, i % model.cfg.n_heads) for i in order]
    return (
        model,
        clean,
        corrupted,
        metric,
        table,
        reverse,
        base_clean,
        base_corrupted,
        heads,
    )


def _hooks_left(model) -> str:
    """The name of a hook point that still has a forward hook attached, or ''."""
    for name, point in model.hook_dict.items():
        if getattr(point, "fwd_hooks", None) or getattr(point, "_forward_hooks", None):
            return name
    return ""


def _layer_patch(model, clean, corrupted, metric, layer):
    name = hook_name("z", layer)
    with torch.no_grad():
        _, cache = model.run_with_cache(clean.tokens, names_filter=lambda n: n == name)
        logits = model.run_with_hooks(
            corrupted.tokens, fwd_hooks=[(name, lambda z, hook: cache[name].clone())]
        )
    return float(metric(logits))


def check_patch_one_head(patch_one_head) -> None:
    """Check patching one head's clean output into the corrupted run, on toy-seq."""
    model, clean, corrupted, metric, table, reverse, b_clean, b_corr, heads = (
        _patch_setup()
    )
    for layer, head in heads:
        model.reset_hooks()  # a hook left on the shared model by an earlier attempt
        got = call(
            patch_one_head,
            model,
            clean.tokens,
            corrupted.tokens,
            layer,
            head,
            metric,
            name="patch_one_head",
        )
        left = _hooks_left(model)
        model.reset_hooks()
        if left:
            fail(
                f"`patch_one_head` leaves a hook on the model ({left}); attach it with "
                "run_with_hooks, which removes it after the run, not with add_hook."
            )
        value = float(as_tensor(got, "the result of patch_one_head", shape=()))
        want = float(table[layer, head])
        if abs(value - want) <= 1e-3 * max(1.0, abs(want)):
            continue
        where = f"For head {layer}.{head} it gives {value:.3f} instead of {want:.3f}"
        if abs(value - b_corr) < 1e-3:
            fail(
                f"{where}: that is the corrupted run unchanged; the hook must return the "
                "patched z (and be attached to the corrupted run)."
            )
        layer_value = _layer_patch(model, clean, corrupted, metric, layer)
        if abs(value - b_clean) < 1e-3:
            also = (
                f" (patching every head of layer {layer} gives it too)"
                if abs(layer_value - b_clean) < 1e-3
                else ""
            )
            fail(
                f"{where}: that is the clean run's metric{also}; run the *corrupted* "
                f"tokens and patch only head {head}'s clean output into them."
            )
        if abs(value - float(reverse[layer, head])) < 1e-3:
            fail(
                f"{where}: that patches the corrupted output into the clean run; the "
                "direction is clean -> corrupted."
            )
        if abs(value - layer_value) < 1e-3:
            fail(
                f"{where}: that patches every head of layer {layer}; replace only "
                f"z[:, :, {head}]."
            )
        others = [
            (h, float(table[layer, h])) for h in range(model.cfg.n_heads) if h != head
        ]
        for h, v in others:
            if abs(value - v) < 1e-3:
                fail(
                    f"{where}: that is head {layer}.{h}; index the head axis of "
                    "hook_z ([batch, pos, head, d_head])."
                )
        fail(
            f"{where}: cache the clean run's blocks.{layer}.attn.hook_z, then run the "
            f"corrupted tokens with a hook that copies head {head} from the cache."
        )
    passed(
        f"patch_one_head matches the library's patching on heads "
        f"{', '.join(f'{L}.{h}' for L, h in heads)} of toy-seq."
    )


# ---------------------------------------------------------------------------
# 4. An OV successor score
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
# 5. The overlap of two circuits
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
# The attention-to-last-member readout
# ---------------------------------------------------------------------------
def _readout_case(seed: int, batch: int, n_heads: int, pos: int):
    g = torch.Generator().manual_seed(seed)
    pattern = torch.randn(batch, n_heads, pos, pos, generator=g).exp()
    future = torch.ones(pos, pos, dtype=torch.bool).triu(1)
    pattern = pattern.masked_fill(future, 0)
    pattern = pattern / pattern.sum(-1, keepdim=True)
    member_pos = torch.stack(
        [
            torch.randperm(pos - 2, generator=g)[:4].sort().values + 1
            for _ in range(batch)
        ]
    )
    return pattern, member_pos


def check_attention_to_last_member(attention_to_last_member) -> None:
    """Check the mean attention from the final position to each row's last member, per head."""
    for seed, shape in ((0, (5, 3, 12)), (1, (4, 6, 9))):
        pattern, member_pos = _readout_case(seed, *shape)
        given = {"pattern": pattern.clone(), "member_pos": member_pos.clone()}
        got = call(
            attention_to_last_member, *given.values(), name="attention_to_last_member"
        )
        inputs_unchanged(
            {"pattern": pattern, "member_pos": member_pos},
            given,
            "attention_to_last_member",
        )
        batch, n_heads, _ = shape
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (batch, n_heads):
            fail(
                "It returns one value per prompt and head; average over the prompts "
                f"(shape [n_heads] = ({n_heads},))."
            )
        value = as_tensor(got, "the result", shape=(n_heads,))
        rows = torch.arange(batch)
        final = pattern[:, :, -1]  # [batch, head, key]
        want = final[rows, :, member_pos[:, -1]].mean(0)
        if close(value, want):
            continue
        guesses = {
            "the first member": final[rows, :, member_pos[:, 0]].mean(0),
            "the final position itself": final[:, :, -1].mean(0),
            "row 0's last-member position in every row": final[
                :, :, member_pos[0, -1]
            ].mean(0),
            "every member together": final.gather(
                2, member_pos[:, None, :].expand(-1, n_heads, -1)
            )
            .sum(-1)
            .mean(0),
            "the last member's own query row": pattern[
                rows, :, member_pos[:, -1], member_pos[:, -1]
            ].mean(0),
        }
        for what, v in guesses.items():
            if close(value, v):
                fail(
                    f"It reads the attention to {what}; read query -1 (the final position) "
                    "at key member_pos[:, -1], row by row."
                )
        if close(value, want * batch):
            fail("It sums over the prompts; take the mean.")
        fail(
            "Not the attention to the last member yet: take pattern[:, :, -1] (query = the "
            "final position), pick each row's key member_pos[row, -1], average over rows."
        )
    passed(
        "attention_to_last_member reads query -1 at each row's own last member (two shapes)."
    )


def check_head_prediction(prediction, head_table: torch.Tensor) -> None:
    """Check a prediction ("L.H", or a function returning it) of the head patching ranks first."""
    if callable(prediction):
        prediction = call(
            prediction, name=getattr(prediction, "__name__", "your function")
        )
    if prediction is None or prediction == "":
        fail('Return your prediction, e.g. return "0.3" (layer 0, head 3).')
    try:
        comp = Component.parse(prediction)
    except (ValueError, TypeError):
        fail(f'{prediction!r} is not a head; write it as "layer.head", e.g. "0.3".')
    if comp.kind != "head" or comp.head is None:
        fail(f'{comp} is an MLP; the prediction is about a head ("layer.head").')
    n_layers, n_heads = head_table.shape
    if not (0 <= comp.layer < n_layers and 0 <= comp.head < n_heads):
        fail(f"{comp} is not in this model ({n_layers} layers x {n_heads} heads).")
    flat = int(head_table.flatten().argmax())
    top = Component("head", flat // n_heads, flat % n_heads)
    score = float(head_table[comp.layer, comp.head])
    if comp != top:
        fail(
            f"Patching ranks head {top} first ({float(head_table[top.layer, top.head]):.2f}); "
            f"{comp} restores {score:.2f}: look again at which head attends to the last "
            "member from the final position."
        )
    passed(
        f"Right: patching ranks {top} first, restoring {score:.2f} of the clean answer."
    )


# ---------------------------------------------------------------------------
# Direct logit attribution of each head
# ---------------------------------------------------------------------------
def _dla_case(seed: int, batch: int, n_heads: int, d_head: int, d_model: int):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, n_heads, d_head, generator=g)
    W_O = torch.randn(n_heads, d_head, d_model, generator=g)
    scale = torch.rand(batch, 1, generator=g) * 3 + 0.5
    directions = torch.randn(batch, d_model, generator=g)
    return z, W_O, scale, directions


def check_head_dla(head_dla) -> None:
    """Check each head's mean direct contribution to the logit difference."""
    for seed, shape in ((0, (5, 3, 4, 6)), (1, (7, 4, 2, 5))):
        z, W_O, scale, directions = _dla_case(seed, *shape)
        given = {
            "z": z.clone(),
            "W_O": W_O.clone(),
            "scale": scale.clone(),
            "directions": directions.clone(),
        }
        got = call(head_dla, *given.values(), name="head_dla")
        inputs_unchanged(
            {"z": z, "W_O": W_O, "scale": scale, "directions": directions},
            given,
            "head_dla",
        )
        batch, n_heads = shape[:2]
        out = torch.einsum("bhd,hdm->bhm", z, W_O)
        per = (out * directions[:, None]).sum(-1)  # [batch, heads], unscaled
        want = (per / scale).mean(0)
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (batch, n_heads):
            fail(
                "It returns one value per prompt and head; average over the prompts "
                f"(shape [n_heads] = ({n_heads},))."
            )
        value = as_tensor(got, "the result of head_dla", shape=(n_heads,))
        if close(value, want):
            continue
        if close(value, -want):
            fail(
                "The sign is flipped: the direction already points from the wrong answer "
                "to the right one, so take the dot product as it is."
            )
        if close(value, per.mean(0)):
            fail(
                "It forgets the final LayerNorm: divide each prompt's output by its "
                "`scale` before the dot product."
            )
        if close(value, (per * scale).mean(0)):
            fail("It multiplies by the LayerNorm's scale; the LayerNorm divides by it.")
        if close(value, (per / scale).sum(0)):
            fail("It sums over the prompts; take the mean.")
        if close(value, (per.mean(0) / scale.mean())):
            fail(
                "It divides by the mean scale; divide each prompt by its own scale "
                "(the scale differs from prompt to prompt)."
            )
        fail(
            "Not the direct attribution yet: write each head's output z @ W_O, divide by "
            "the prompt's scale, dot it with the prompt's direction, average over prompts."
        )
    passed("head_dla gives every head's mean direct contribution, on two shapes.")


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
