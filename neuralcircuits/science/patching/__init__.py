"""Exact activation patching, fast: the same numbers as ``transformer_lens.patching``.

``transformer_lens.patching`` runs one full forward pass per patched cell. The
functions here compute the same values (clean activation patched into the
corrupted run, ``metric(logits)`` a scalar) without recomputing what a patch
cannot change:

- layers before the patched one: every sweep starts from the corrupted run's
  cached residual stream at the patched layer;
- positions before the patched one: with causal attention they never see the
  patch, so their keys and values are reused from the corrupted run and only
  positions from the patched one on are recomputed;
- positions and logits the metric never reads: before a sweep, the metric is
  probed once (each position's logits replaced by NaN) to find the positions
  it reads, and through its gradient (then NaN in every other entry) to find
  the vocabulary entries it reads there; logits are computed only there, and
  positions after the last one read are never computed (they cannot
  influence earlier positions);
- and many patched runs are stacked into one big batch, in chunks that bound
  memory.

Exactness is checked, not assumed: every sweep first re-runs the corrupted
input through the fast path and compares each layer's residual stream and the
logits with the model's own forward pass (which also catches hooks the user
attached to the model). If they differ, or the architecture is not one the
fast path knows (rotary, grouped-query or parallel attention, ...), the sweep
falls back to patching through the model's hooks, still batched.

The package, one concern per module:

- ``components``: what can be patched or ablated (``Component``, ``heads``);
- ``inputs``: checks on models, tokens and metrics, and which positions a
  metric reads;
- ``engine``: the fast path (attention from the weights, the model's own
  norms and MLPs);
- ``sweep``: one sweep's shared state and its two runners (fast, hooks);
- ``sweeps``: the public sweeps, each a declaration over that engine, and
  ``shared_sweep``: one clean and one corrupted run several sweeps share;
- ``ablation``, ``attribution``, ``logit_lens``: mean ablation, attribution
  patching (Nanda 2023) and the logit lens.
"""

from neuralcircuits.science.patching.ablation import (
    ablate,
    ablate_each_head,
    mean_activations,
)
from neuralcircuits.science.patching.attribution import attribution_patch_heads
from neuralcircuits.science.patching.components import Component, heads
from neuralcircuits.science.patching.inputs import Metric, metric_positions
from neuralcircuits.science.patching.logit_lens import logit_lens
from neuralcircuits.science.patching.sweeps import (
    patch_attn_out,
    patch_attn_out_all_pos,
    patch_heads,
    patch_mlp_out,
    patch_mlp_out_all_pos,
    patch_resid,
    shared_sweep,
)

__all__ = [
    "Component",
    "Metric",
    "ablate",
    "ablate_each_head",
    "attribution_patch_heads",
    "heads",
    "logit_lens",
    "mean_activations",
    "metric_positions",
    "patch_attn_out",
    "patch_attn_out_all_pos",
    "patch_heads",
    "patch_mlp_out",
    "patch_mlp_out_all_pos",
    "patch_resid",
    "shared_sweep",
]
