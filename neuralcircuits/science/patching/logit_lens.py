"""The logit lens: read the residual stream after each layer as if it were the last (nostalgebraist 2020)."""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science.hooks import activations, hook_name
from neuralcircuits.science.patching.inputs import check_model, check_tokens


def logit_lens(
    model: Any, tokens: torch.Tensor, pos: int | None = None
) -> torch.Tensor:
    """The residual stream after the embedding and after each layer, through ln_final and the unembedding.

    Returns ``[n_layers + 1, batch, pos, d_vocab]``, or ``[n_layers + 1, batch, d_vocab]``
    at one position ``pos`` (e.g. -1 for the last). Row ``n_layers`` equals the model's logits.
    """
    check_model(model)
    check_tokens(tokens, "tokens")
    n = model.cfg.n_layers
    names = [hook_name("resid_pre", L) for L in range(n)]
    names.append(hook_name("resid_post", n - 1))
    acts = activations(model, tokens, names)  # the lens unembeds them itself
    stack = torch.stack([acts[name] for name in names])  # [L+1, batch, pos, d]
    if pos is not None:
        stack = stack[:, :, pos]
    with torch.no_grad():
        return model.unembed(model.ln_final(stack))
