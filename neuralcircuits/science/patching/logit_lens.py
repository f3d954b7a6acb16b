"""The logit lens: read the residual stream after each layer as if it were the last (nostalgebraist 2020)."""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science.patching.inputs import check_model, check_tokens
from neuralcircuits.science.patching.sweep import run_cache


def logit_lens(
    model: Any, tokens: torch.Tensor, pos: int | None = None
) -> torch.Tensor:
    """The residual stream after the embedding and after each layer, through ln_final and the unembedding.

    Returns ``[n_layers + 1, batch, pos, d_vocab]``, or ``[n_layers + 1, batch, d_vocab]``
    at one position ``pos`` (e.g. -1 for the last). Row ``n_layers`` equals the model's logits.
    """
    check_model(model)
    check_tokens(tokens, "tokens")
    _, acts = run_cache(model, tokens, ["resid_pre", "resid_post"])
    stack = torch.stack(
        acts["resid_pre"] + [acts["resid_post"][-1]]
    )  # [L+1, batch, pos, d]
    if pos is not None:
        stack = stack[:, :, pos]
    with torch.no_grad():
        return model.unembed(model.ln_final(stack))
