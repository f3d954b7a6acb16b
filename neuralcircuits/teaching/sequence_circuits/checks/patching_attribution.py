"""Lesson 04's checks for patching and attribution: one head patched by hand, each
head's direct logit attribution.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from neuralcircuits.science import patching, sequences
from neuralcircuits.science.hooks import hook_name
from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    check,
    close,
    fail,
    fresh_copy,
    inputs_unchanged,
    passed,
)


# ---------------------------------------------------------------------------
# Patching one head by hand
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _PatchReference:
    """toy-seq, its prompts and the numbers of every way to patch a head.

    The model here is never handed to a learner's function: each attempt gets
    a fresh copy of it and of the tokens, so nothing an earlier attempt did
    (a hook left on, tokens changed in place) reaches a later one.
    """

    model: Any
    clean: sequences.SequenceDataset
    corrupted: sequences.SequenceDataset
    table: torch.Tensor  # [n_layers, n_heads]: each head's clean z patched in
    reverse: torch.Tensor  # [n_layers, n_heads]: corrupted z into the clean run
    final_only: torch.Tensor  # [n_layers, n_heads]: at the final position only
    layer_values: list[float]  # every head of the layer patched
    base_clean: float
    base_corrupted: float
    heads: list[tuple[int, int]]  # every head, the largest effect first


def _hooked_patch(model, src, dst, metric, layer, heads, positions=slice(None)):
    name = hook_name("z", layer)
    with torch.no_grad():
        _, cache = model.run_with_cache(src, names_filter=lambda n: n == name)

        def hook(z, hook):
            z = z.clone()
            for h in heads:
                z[:, positions, h] = cache[name][:, positions, h]
            return z

        return float(metric(model.run_with_hooks(dst, fwd_hooks=[(name, hook)])))


@functools.lru_cache(maxsize=1)
def _patch_reference() -> _PatchReference:
    from neuralcircuits.science.models import load_model

    model = load_model("toy-seq")
    clean = sequences.make_dataset(model, "numerals", "clean", "all", n=12, seed=5)
    corrupted = sequences.make_dataset(
        model, "numerals", "corrupted", "all", n=12, seed=5
    )
    metric = sequences.logit_diff_metric(clean)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    ct, xt = clean.tokens, corrupted.tokens
    with torch.no_grad():
        table = patching.patch_heads(model, ct, xt, metric)
        reverse = patching.patch_heads(model, xt, ct, metric)
        base_clean = float(metric(model(ct)))
        base_corrupted = float(metric(model(xt)))
    final_only = torch.tensor(
        [
            [_hooked_patch(model, ct, xt, metric, L, [h], -1) for h in range(n_heads)]
            for L in range(n_layers)
        ]
    )
    layer_values = [
        _hooked_patch(model, ct, xt, metric, L, range(n_heads)) for L in range(n_layers)
    ]
    order = (table - base_corrupted).abs().flatten().argsort(descending=True)
    heads = [(int(i) // n_heads, int(i) % n_heads) for i in order]
    return _PatchReference(
        model,
        clean,
        corrupted,
        table,
        reverse,
        final_only,
        layer_values,
        base_clean,
        base_corrupted,
        heads,
    )


_HOOK_TABLES = (
    "fwd_hooks",  # TransformerLens's
    "bwd_hooks",
    "_forward_hooks",  # torch's own
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
)


def _hooks_left(model) -> str:
    """Where a hook of any kind (TransformerLens's or torch's own) is still attached, or ''."""
    hook_names: dict[int, list[str]] = {}
    for name, point in getattr(model, "hook_dict", {}).items():
        hook_names.setdefault(id(point), []).append(name)
    for name, module in model.named_modules():
        if any(getattr(module, kind, None) for kind in _HOOK_TABLES):
            # the shortest of the hook point's names (a bridge gives it aliases)
            return min(hook_names.get(id(module), [name or "the model"]), key=len)
    return ""


def _same(a: float, b: float, rtol: float = 1e-3) -> bool:
    return abs(a - b) <= rtol * max(1.0, abs(b))


def _patch_problem(ref: _PatchReference, layer: int, head: int, value: float) -> str:
    """What a wrong patched metric is, read from the numbers every way of patching gives."""
    n_layers, n_heads = ref.table.shape
    ways = [
        (
            ref.base_corrupted,
            "that is the corrupted run unchanged; the hook must return the patched z "
            "(and be attached to the corrupted run)",
        ),
        (
            ref.base_clean,
            f"that is the clean run's metric; run the *corrupted* tokens and patch "
            f"only head {head}'s clean output into them",
        ),
        (
            float(ref.reverse[layer, head]),
            "that patches the corrupted output into the clean run; the direction is "
            "clean -> corrupted",
        ),
        (
            ref.layer_values[layer],
            f"that patches every head of layer {layer}; replace only z[:, :, {head}]",
        ),
        (
            float(ref.final_only[layer, head]),
            "that patches the final position only; copy the head's output at every "
            f"position, z[:, :, {head}]",
        ),
    ]
    for L in range(n_layers):
        for h in range(n_heads):
            if (L, h) == (layer, head):
                continue
            if L == layer:
                what = (
                    f"that is head {L}.{h}'s number; index the head axis of hook_z "
                    "([batch, pos, head, d_head]) with `head`"
                )
            elif h == head:
                what = (
                    f"that is head {L}.{h}'s number: it patches layer {L}, not layer "
                    f"{layer}; build the hook's name from `layer`, "
                    "f'blocks.{layer}.attn.hook_z'"
                )
            else:
                what = (
                    f"that is head {L}.{h}'s number; patch layer `layer`, head `head`"
                )
            ways.append((float(ref.table[L, h]), what))
    # the same computation done another way agrees to about 1e-6; the whole-run
    # readings come first, since many heads of a model restore nothing and so
    # share the corrupted run's number
    for group in (ways[:5], ways[5:]):
        named = [what for number, what in group if _same(value, number, rtol=1e-4)]
        if len(named) == 1:
            return named[0]
    return (
        f"cache the clean run's blocks.{layer}.attn.hook_z, then run the corrupted "
        f"tokens with a hook that copies head {head} from the cache"
    )


@check
def check_patch_one_head(patch_one_head) -> None:
    """Check patching one head's clean output into the corrupted run, on toy-seq (every head)."""
    ref = _patch_reference()
    for layer, head in ref.heads:
        model = fresh_copy(ref.model)  # nothing an earlier attempt did is left on it
        metric = sequences.logit_diff_metric(ref.clean.subset(slice(None)))
        got = call(
            patch_one_head,
            model,
            ref.clean.tokens.clone(),
            ref.corrupted.tokens.clone(),
            layer,
            head,
            metric,
            name="patch_one_head",
        )
        left = _hooks_left(model)
        if left:
            fail(
                f"`patch_one_head` leaves a hook on the model ({left}); attach it with "
                "run_with_hooks, which removes it after the run, not with add_hook or "
                "register_forward_hook."
            )
        value = float(as_tensor(got, "the result of patch_one_head", shape=()))
        want = float(ref.table[layer, head])
        if _same(value, want):
            continue
        fail(
            f"For head {layer}.{head} it gives {value:.3f} instead of {want:.3f}: "
            f"{_patch_problem(ref, layer, head, value)}."
        )
    n = len(ref.heads)
    passed(
        f"patch_one_head matches the library's patching on all {n} heads of toy-seq."
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


@check
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
        if close(value, (per / scale**2).mean(0)):
            fail("It divides by the LayerNorm's scale twice; divide once.")
        mean_direction = (
            (out / scale[:, :, None]) * directions.mean(0)[None, None]
        ).sum(-1)
        if close(value, mean_direction.mean(0)):
            fail(
                "It dots every prompt's output with the mean direction; each prompt "
                "has its own answer direction, directions[i]."
            )
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
