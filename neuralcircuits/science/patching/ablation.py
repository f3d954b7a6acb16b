"""Mean ablation: replace components' outputs by their mean over reference prompts (Wang et al. 2022)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from neuralcircuits.science.hooks import activations, hook_name, mean_ablation_hook
from neuralcircuits.science.patching.components import Component
from neuralcircuits.science.patching.inputs import (
    Metric,
    check_model,
    check_tokens,
    scalar,
)
from neuralcircuits.science.patching.sweep import Sweep
from neuralcircuits.science.patching.sweeps import head_sweep


def mean_activations(
    model: Any, reference_tokens: torch.Tensor
) -> dict[Component, torch.Tensor]:
    """Mean over the reference batch, by position, of every head's z [pos, d_head], MLP and attention output [pos, d_model]."""
    check_model(model)
    check_tokens(reference_tokens, "reference_tokens")
    kinds = ("z", "mlp_out", "attn_out")
    n_layers = model.cfg.n_layers
    acts = activations(
        model,
        reference_tokens,
        [hook_name(k, L) for k in kinds for L in range(n_layers)],
    )
    means: dict[Component, torch.Tensor] = {}
    for L in range(n_layers):
        z = acts[hook_name("z", L)].mean(0)  # [pos, H, dh]
        for h in range(model.cfg.n_heads):
            means[Component("head", L, h)] = z[:, h]
        means[Component("mlp", L)] = acts[hook_name("mlp_out", L)].mean(0)
        means[Component("attn", L)] = acts[hook_name("attn_out", L)].mean(0)
    return means


def _ablation_hooks(
    model: Any, components: list[Any], means: dict[Component, torch.Tensor], n_pos: int
) -> list[tuple[str, Any]]:
    by_hook: dict[str, list[tuple[int | None, torch.Tensor]]] = {}
    for comp in map(Component.parse, components):
        if not 0 <= comp.layer < model.cfg.n_layers:
            raise ValueError(
                f"component {comp} is outside the model's {model.cfg.n_layers} layers"
            )
        if comp not in means:
            raise KeyError(
                f"no mean for component {comp}; build means with mean_activations"
            )
        mean = means[comp]
        if mean.shape[0] != n_pos:
            raise ValueError(
                f"the mean of {comp} covers {mean.shape[0]} positions but the tokens have "
                f"{n_pos}; use reference prompts of the same length"
            )
        kind = {"head": "z", "mlp": "mlp_out", "attn": "attn_out"}[comp.kind]
        by_hook.setdefault(hook_name(kind, comp.layer), []).append((comp.head, mean))
    return [(name, mean_ablation_hook(todo)) for name, todo in by_hook.items()]


def ablate(
    model: Any,
    tokens: torch.Tensor,
    components: Iterable[Any],
    means: dict[Component, torch.Tensor],
    metric: Metric,
) -> torch.Tensor:
    """Return metric(logits) with all the given components mean-ablated at once (a scalar tensor)."""
    check_model(model)
    check_tokens(tokens, "tokens")
    hooks = _ablation_hooks(model, list(components), means, tokens.shape[1])
    with torch.no_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
    return scalar(metric, logits).detach()


def ablate_each_head(
    model: Any,
    tokens: torch.Tensor,
    means: dict[Component, torch.Tensor],
    metric: Metric,
    by_pos: bool = False,
    *,
    progress: bool | None = None,
    fast: bool | None = None,
) -> torch.Tensor:
    """Mean-ablate one head at a time: the metric, [n_layers, n_heads] or [n_layers, pos, n_heads] by position."""
    check_model(model)
    check_tokens(tokens, "tokens")
    nL, H = model.cfg.n_layers, model.cfg.n_heads
    batch, P = tokens.shape
    source = []
    for L in range(nL):
        z = torch.stack(
            [means[Component("head", L, h)] for h in range(H)], dim=1
        )  # [pos, H, dh]
        if z.shape[0] != P:
            raise ValueError(f"means cover {z.shape[0]} positions but tokens have {P}")
        source.append(z.unsqueeze(0).expand(batch, *z.shape))
    sw = Sweep(model, tokens, tokens, metric, corrupted_kinds=["z"], fast=fast)
    return head_sweep(sw, source, by_pos=by_pos, progress=progress, desc="ablate heads")
