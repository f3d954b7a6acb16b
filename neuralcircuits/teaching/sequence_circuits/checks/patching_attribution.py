"""Lesson 04's checks for patching and attribution: one head patched by hand, each
head's direct logit attribution.
"""

from __future__ import annotations

import functools

import torch

from neuralcircuits.science import patching, sequences
from neuralcircuits.science.hooks import hook_name
from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    close,
    fail,
    inputs_unchanged,
    passed,
)


# ---------------------------------------------------------------------------
# Patching one head by hand
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
