"""Lesson 04's exercise checks, one module per part of the lesson.

- ``task_attention``: the logit-difference metric, the attention-to-last-member
  readout, the prediction of the top head;
- ``patching_attribution``: patching one head by hand, direct logit
  attribution;
- ``ablation_pruning``: the mean-ablation hook, the pruning loop;
- ``components_surgery``: the OV successor score, the overlap of two circuits,
  the surgery's corrections;
- ``representations``: the same value across formats (One is 1), and
  value-subspace patching.

Predictions are checked by ``teaching.checking.check_choice``.

Every check is also importable from here.
"""

from neuralcircuits.teaching.sequence_circuits.checks.ablation_pruning import (
    check_iterative_prune,
    check_mean_ablate_head,
)
from neuralcircuits.teaching.sequence_circuits.checks.components_surgery import (
    check_ov_successor_score,
    check_shared_components,
    check_shift_corrections,
)
from neuralcircuits.teaching.sequence_circuits.checks.patching_attribution import (
    check_head_dla,
    check_patch_one_head,
)
from neuralcircuits.teaching.sequence_circuits.checks.representations import (
    check_format_similarity,
    check_patch_subspace,
)
from neuralcircuits.teaching.sequence_circuits.checks.task_attention import (
    check_attention_to_last_member,
    check_head_prediction,
    check_logit_diff_metric,
)

__all__ = [
    "check_attention_to_last_member",
    "check_format_similarity",
    "check_head_dla",
    "check_head_prediction",
    "check_iterative_prune",
    "check_logit_diff_metric",
    "check_mean_ablate_head",
    "check_ov_successor_score",
    "check_patch_one_head",
    "check_patch_subspace",
    "check_shared_components",
    "check_shift_corrections",
]
