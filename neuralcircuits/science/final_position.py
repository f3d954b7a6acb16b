"""One clean run of a prompt set, kept at the final position, for every reading that looks there.

The logit lens, the attention from the final position, direct logit
attribution, the MLP neurons and the metric's logits all read one clean run
of the same prompts at the final position. :func:`final_position_run` makes
that run once and keeps, at the final position only, what they read:

- the residual stream before every block and after the last (the lens);
- every head's attention from the final position, averaged over the prompts
  (attention);
- every head's ``z`` and every MLP's output, and the final LayerNorm's scale
  (direct logit attribution);
- every MLP's neuron activations (the neurons);
- the logits, unembedded at the final position alone (the metric).

It is remembered for the model's weights and the tokens
(``disk_cache.remembered``), so the second reading costs no forward pass. The
numbers are the model's own: the same forward pass with hooks that copy what
they see, stopped after the last block, and the final LayerNorm and the
unembedding applied to the final position, as ``sequences.last_logits`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from neuralcircuits.science import disk_cache
from neuralcircuits.science.hooks import StopForward, hook_name, run_until


@dataclass
class FinalPositionRun:
    """What one clean run holds at the final position."""

    logits: torch.Tensor  # [batch, d_vocab] float
    resid: (
        torch.Tensor
    )  # [n_layers + 1, batch, d_model]: before each block, after the last
    z: list[torch.Tensor]  # per layer [batch, n_heads, d_head]
    mlp_out: list[torch.Tensor]  # per layer [batch, d_model]
    attention: (
        torch.Tensor
    )  # [n_layers, n_heads, pos]: from the final position, mean over prompts
    mlp_post: list[torch.Tensor] | None  # per layer [batch, d_mlp]; None without MLPs
    scale: (
        torch.Tensor | None
    )  # [batch, 1] the final LayerNorm's scale; None without one


def _has(model: Any, name: str) -> bool:
    return name in model.hook_dict


@torch.no_grad()
def _run(model: Any, tokens: torch.Tensor) -> FinalPositionRun:
    n = model.cfg.n_layers
    store: dict[tuple[str, int], torch.Tensor] = {}

    def keep(kind: str, L: int, stop: bool = False):
        def hook(act: torch.Tensor, hook: Any) -> torch.Tensor:
            if kind == "pattern":  # the final query's row, mean over prompts
                store[kind, L] = act.detach()[:, :, -1].float().mean(0)
            else:  # the final position only
                store[kind, L] = act[:, -1].detach().clone()
            if stop:
                raise StopForward
            return act

        return hook

    kinds = ["resid_pre", "z", "pattern", "mlp_out"]
    with_mlp = _has(model, hook_name("mlp_post", 0))
    if with_mlp:
        kinds.append("mlp_post")
    hooks = [(hook_name(k, L), keep(k, L)) for L in range(n) for k in kinds]
    hooks.append((hook_name("resid_post", n - 1), keep("resid_post", n - 1, True)))
    run_until(model, tokens, hooks)
    final = store["resid_post", n - 1]  # [batch, d_model]
    scales: dict[str, torch.Tensor] = {}
    scale_hook = "ln_final.hook_scale"
    with_ln = getattr(model.cfg, "normalization_type", None) is not None
    if with_ln and _has(model, scale_hook):

        def keep_scale(act: torch.Tensor, hook: Any) -> torch.Tensor:
            scales["s"] = act[:, 0].detach().clone()
            return act

        with model.hooks(fwd_hooks=[(scale_hook, keep_scale)]):
            logits = model.unembed(model.ln_final(final[:, None]))[:, 0]
    else:
        logits = model.unembed(model.ln_final(final[:, None]))[:, 0]
    resid = torch.stack([store["resid_pre", L] for L in range(n)] + [final])
    return FinalPositionRun(
        logits=logits.float(),
        resid=resid,
        z=[store["z", L] for L in range(n)],
        mlp_out=[store["mlp_out", L] for L in range(n)],
        attention=torch.stack([store["pattern", L] for L in range(n)]),
        mlp_post=[store["mlp_post", L] for L in range(n)] if with_mlp else None,
        scale=scales["s"].reshape(-1, 1) if "s" in scales else None,
    )


def final_position_run(model: Any, tokens: torch.Tensor) -> FinalPositionRun:
    """The clean run of ``tokens`` at the final position, made once per weights and tokens."""
    return disk_cache.remembered(
        "final_position_run", model, tokens, lambda: _run(model, tokens)
    )
