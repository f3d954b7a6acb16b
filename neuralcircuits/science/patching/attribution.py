"""Attribution patching: a first-order estimate of every head's patching effect (Nanda 2023)."""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science.hooks import hook_name, run_until, store_hook
from neuralcircuits.science.patching.inputs import Metric, check_pair, scalar


def _clean_z(model: Any, tokens: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's z on tokens, stopping the forward pass after the last layer's z."""
    n_layers = model.cfg.n_layers
    names = [hook_name("z", L) for L in range(n_layers)]
    store: dict[str, torch.Tensor] = {}
    hooks = [
        (name, store_hook(store, name, stop=L == n_layers - 1))
        for L, name in enumerate(names)
    ]
    run_until(model, tokens, hooks)
    return [store[name] for name in names]


def attribution_patch_heads(
    model: Any,
    clean_tokens: torch.Tensor,
    corrupted_tokens: torch.Tensor,
    metric: Metric,
    by_pos: bool = False,
) -> torch.Tensor:
    """Gradient x (clean - corrupted) head output: [n_layers, n_heads] or [n_layers, pos, n_heads].

    A first-order estimate of ``patch_heads(...) - metric(corrupted logits)``
    (Nanda 2023, "Attribution patching"), from one clean forward pass (stopped
    after the last layer's z) and one corrupted forward and backward pass.
    """
    check_pair(model, clean_tokens, corrupted_tokens)
    nL = model.cfg.n_layers
    z_clean = _clean_z(model, clean_tokens)
    z_corr: dict[int, torch.Tensor] = {}  # layer -> corrupted z, filled by the hooks
    probes: dict[int, torch.Tensor] = {}  # layer -> the zero added to z

    def grab(L):
        # z + 0: the gradient with respect to the zero is the metric's gradient
        # with respect to z, and the graph through later layers stays whole.
        def hook(act, hook):
            z_corr[L] = act.detach()
            probes[L] = torch.zeros_like(act, requires_grad=True)
            return act + probes[L]

        return hook

    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            logits = model.run_with_hooks(
                corrupted_tokens,
                fwd_hooks=[(hook_name("z", L), grab(L)) for L in range(nL)],
            )
            value = scalar(metric, logits)
            if not value.requires_grad:
                raise ValueError(
                    "metric must be computed from the logits with torch operations"
                )
            grads = torch.autograd.grad(value, [probes[L] for L in range(nL)])
    finally:
        for p in params:
            p.requires_grad_(True)
    out = []
    for L in range(nL):
        contrib = grads[L] * (z_clean[L] - z_corr[L])  # [batch, pos, H, dh]
        out.append(contrib.sum(dim=(0, 3)) if by_pos else contrib.sum(dim=(0, 1, 3)))
    return torch.stack(out).detach()
