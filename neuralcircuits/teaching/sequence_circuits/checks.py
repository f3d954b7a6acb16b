"""Checks for lesson 03, sequence-continuation circuits."""

from __future__ import annotations

import functools
from typing import Any

import torch

from neuralcircuits.science import patching, sequences
from neuralcircuits.science.patching import Component
from neuralcircuits.teaching.checking import as_tensor, call, close, fail, passed


# ---------------------------------------------------------------------------
# 1. The logit-difference metric
# ---------------------------------------------------------------------------
def _metric_case(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(6, 5, 11, generator=g) * 3  # [batch, pos, d_vocab]
    answers = torch.tensor([1, 4, 7, 2, 9, 0])
    wrong = torch.tensor([0, 3, 6, 1, 8, 10])
    return logits, answers, wrong


def _diff(logits, answers, wrong, pos=-1):
    last = logits[:, pos]
    rows = torch.arange(len(answers))
    return last[rows, answers] - last[rows, wrong]  # [batch]


def check_logit_diff_metric(logit_diff_metric) -> None:
    """Check logit(correct) - logit(incorrect) at the last position, averaged over prompts."""
    logits, answers, wrong = _metric_case()
    got = call(
        logit_diff_metric, logits.clone(), answers, wrong, name="logit_diff_metric"
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
        passed(
            f"logit_diff_metric gives {float(want):.4f} on a test batch of 6 prompts, "
            "as it should."
        )
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
    batch, pos, n_heads, d_head = 3, 4, 5, 2
    for head in (2, 0):
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

    def metric(logits):
        return sequences.logit_diff(logits, clean)

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


def _layer_patch(model, clean, corrupted, metric, layer):
    name = f"blocks.{layer}.attn.hook_z"
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
def _ov_case():
    """Six members whose OV outputs rank the successor 1st, 3rd, 5th, 6th, 2nd, 9th."""
    d_model, d_vocab, n = 6, 14, 6
    g = torch.Generator().manual_seed(3)
    resid = torch.randn(n, d_model, generator=g)
    W_V = torch.randn(d_model, 3, generator=g)
    W_O = torch.randn(3, d_model, generator=g)
    out = resid @ W_V @ W_O  # [n, d_model]
    W_U = torch.randn(d_model, d_vocab, generator=g)

    def read(x):
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.norm(dim=-1, keepdim=True) + 1e-6)
        return x @ W_U

    logits = read(out)
    order = logits.argsort(-1, descending=True)  # [n, d_vocab]
    ranks = [0, 2, 4, 5, 1, 8]  # 0-based rank of each member's successor
    successor_ids = torch.tensor([int(order[i, r]) for i, r in enumerate(ranks)])
    self_ids = torch.tensor([int(order[i, 0]) for i in range(n)])
    return resid, W_V, W_O, read, successor_ids, self_ids, ranks


def check_ov_successor_score(ov_successor_score) -> None:
    """Check the share of members whose OV output ranks the successor in the top k."""
    resid, W_V, W_O, read, succ, _, ranks = _ov_case()
    for k in (5, 3):
        want = sum(r < k for r in ranks) / len(ranks)
        got = call(
            ov_successor_score,
            resid,
            W_V,
            W_O,
            read,
            succ,
            k,
            name="ov_successor_score",
        )
        value = float(as_tensor(got, "the score", shape=()))
        if abs(value - want) < 1e-6:
            continue
        if abs(value - sum(r < k for r in ranks)) < 1e-6 and value > 1:
            fail(
                f"It returns {value:g}, a count of members; return the share, a number "
                "between 0 and 1 (divide by the number of members)."
            )
        if abs(value - sum(r == 0 for r in ranks) / len(ranks)) < 1e-6:
            fail(
                f"With k = {k} it gives {value:.3f}, the share of members whose successor "
                f"is the top-1 token; count a hit when it is anywhere in the top {k}."
            )
        raw = (resid @ W_V @ W_O).topk(min(k, resid.shape[1]), -1).indices
        if abs(value - (raw == succ[:, None]).any(-1).float().mean().item()) < 1e-6:
            fail(
                "It ranks the OV output without `read` (the final LayerNorm and the "
                "unembedding): logits = read(resid @ W_V @ W_O)."
            )
        fail(
            f"With k = {k} it gives {value:.3f} instead of {want:.3f}: compute "
            "read(resid @ W_V @ W_O), take each row's top k tokens, and count the rows "
            "that contain their successor."
        )
    passed(
        "ov_successor_score counts the successors in the top k "
        "(k = 5 and k = 3, six test members)."
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
