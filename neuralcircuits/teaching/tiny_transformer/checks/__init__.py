"""Lesson 03's exercise checks (the induction heads' are in ``induction_checks``).

- ``forward``: one head as a QK and an OV circuit, the one-layer forward pass;
- ``predictions``: the direct path's top next tokens, where the story's answer
  is read from;
- ``last_member``: the last-member head, set by hand.

Every check is also importable from here.
"""

from neuralcircuits.teaching.tiny_transformer.checks.forward import (
    check_attention_head,
    check_one_layer_forward,
)
from neuralcircuits.teaching.tiny_transformer.checks.last_member import (
    check_last_member_head,
    head_weights,
)
from neuralcircuits.teaching.tiny_transformer.checks.predictions import (
    DIRECT_PATH_TOKENS,
    check_direct_path_prediction,
    check_head_reading,
    direct_path_top,
    head_reading,
)

__all__ = [
    "DIRECT_PATH_TOKENS",
    "check_attention_head",
    "check_direct_path_prediction",
    "check_head_reading",
    "check_last_member_head",
    "check_one_layer_forward",
    "direct_path_top",
    "head_reading",
    "head_weights",
]
