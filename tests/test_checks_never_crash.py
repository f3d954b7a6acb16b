"""No check of lessons 01 to 04 crashes, whatever the learner's function returns:
each answer below is wrong, and each gets one sentence (a CheckFailed), never a
traceback from inside the check."""

import pytest
import torch
from check_answers import fails_with

from neuralcircuits.teaching import checking
from neuralcircuits.teaching.linear_algebra import checks as la
from neuralcircuits.teaching.relu_circuits import checks as rc
from neuralcircuits.teaching.sequence_circuits import checks as seq
from neuralcircuits.teaching.tiny_transformer import checks as tt
from neuralcircuits.teaching.tiny_transformer import induction_checks as ic

GARBAGE = [
    "a string",
    3,
    2.5,
    True,
    {"W_in": 1},
    [],
    [None],
    (None, None),
    (1, 2, 3),
    torch.tensor(float("nan")),
    torch.zeros(0),
    torch.zeros(2, 2, 2),
    torch.tensor([True]),
    torch.ones(3, dtype=torch.complex64),
    [[1.0], [-1.0]],
    (torch.ones(2, 1), "W_out"),
    (torch.ones(2, 1), torch.full((1, 2), float("nan"))),
    [torch.ones(1)] * 3,
    torch.tensor([0, 1]),
    object(),
]

CHECKS = [
    la.check_neuron_output,
    la.check_linear_layer,
    la.check_coordinates_in_basis,
    la.check_rotate_hidden,
    la.check_analogy,
    la.check_leak,
    la.check_most_exciting_input,
    rc.check_abs_weights,
    rc.check_min_weights,
    rc.check_match_units,
    rc.check_silent_inputs,
    rc.check_min_counterexample,
    tt.check_attention_head,
    tt.check_one_layer_forward,
    tt.check_direct_path_prediction,
    tt.check_head_reading,
    tt.check_last_member_head,
    ic.check_previous_token_head,
    ic.check_induction_head,
    ic.check_two_copies,
    ic.check_diagnosis,
    seq.check_logit_diff_metric,
    seq.check_attention_to_last_member,
    seq.check_patch_one_head,
    seq.check_head_dla,
    seq.check_mean_ablate_head,
    seq.check_iterative_prune,
    seq.check_ov_successor_score,
    seq.check_shared_components,
    seq.check_shift_corrections,
    seq.check_format_similarity,
    seq.check_patch_subspace,
]


def check_head_prediction(prediction):
    """Lesson 04's prediction check, against a patching table of 2 layers x 4 heads."""
    seq.check_head_prediction(prediction, torch.tensor([[0.1, 0.0, 0.2, 0.9]] * 2))


def check_choice(prediction):
    """Lesson 04's multiple-choice predictions."""
    checking.check_choice(prediction, ("more", "less"), "less", "it removes more.")


CHECKS += [check_head_prediction, check_choice]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", GARBAGE, ids=range(len(GARBAGE)))
def test_a_strange_answer_gets_one_sentence(check, value):
    fails_with(check, lambda *args, **kwargs: value)
