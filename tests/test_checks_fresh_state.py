"""A fixed answer never keeps failing: every check starts from a state no earlier attempt changed.

A learner's wrong attempt may change what the check hands it (tokens, weights,
tensors, lists) in place, or leave hooks on a model. The next attempt, in the
same kernel, must be judged as if the first never ran: the right answer
passes, and a plausible mistake gets the very sentence it got before.
"""

import pytest
import torch
from check_answers import fails_with
from test_checks_linear_algebra import right_analogy
from test_checks_representations import right_similarity
from test_checks_sequence_circuits import (
    patch,
    right_hook,
    right_metric,
    right_ov,
    right_readout,
    right_shift,
)

from neuralcircuits.science import attention_only as aot
from neuralcircuits.science import attribution, superposition
from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import induction as ind
from neuralcircuits.science import relu_circuits as rc
from neuralcircuits.science import relu_training as rt
from neuralcircuits.science import representations as rep
from neuralcircuits.science import transformer_parts as tp
from neuralcircuits.teaching.checking import CheckFailed
from neuralcircuits.teaching.linear_algebra import checks as la
from neuralcircuits.teaching.relu_circuits import checks as relu
from neuralcircuits.teaching.sequence_circuits import checks as seq
from neuralcircuits.teaching.tiny_transformer import checks as tt
from neuralcircuits.teaching.tiny_transformer import induction_checks as ic

T = torch.tensor


# -- the two poisonings of issue 24, on the patching check --------------------------
def test_tokens_changed_in_place_do_not_poison_the_next_attempt(capsys):
    def corrupts_in_place(m, clean, corrupted, layer, head, metric):
        corrupted[:] = clean  # "patch" the tokens: now clean and corrupted agree
        return metric(m(corrupted))

    fails_with(seq.check_patch_one_head, corrupts_in_place, "`corrupted` in place")
    seq.check_patch_one_head(patch)  # the fixed answer passes ...
    assert "✔" in capsys.readouterr().out
    # ... and a wrong one is still told what it did, not "the clean run's metric"
    fails_with(
        seq.check_patch_one_head,
        lambda m, c, x, L, h, metric: patch(m, c, x, L, h, metric, reverse=True),
        "direction",
    )


def test_a_torch_hook_left_on_the_model_does_not_poison_the_next_attempt(capsys):
    def leaves_a_torch_hook(m, clean, corrupted, layer, head, metric):
        value = patch(m, clean, corrupted, layer, head, metric)
        point = m.hook_dict[f"blocks.{layer}.attn.hook_z"]
        point.register_forward_hook(lambda module, inputs, output: output * 0)
        return value

    fails_with(
        seq.check_patch_one_head,
        leaves_a_torch_hook,
        "leaves a hook",
        "blocks.1.attn.hook_z",
    )
    seq.check_patch_one_head(patch)
    assert "✔" in capsys.readouterr().out

    def leaves_a_module_hook(
        m, clean, corrupted, layer, head, metric
    ):  # not a hook point
        m.blocks[0].register_forward_pre_hook(lambda module, inputs: None)
        return patch(m, clean, corrupted, layer, head, metric)

    fails_with(seq.check_patch_one_head, leaves_a_module_hook, "leaves a hook")
    seq.check_patch_one_head(patch)
    assert "✔" in capsys.readouterr().out


def test_weights_changed_in_place_do_not_poison_the_next_attempt(capsys):
    def zeroes_the_weights(m, clean, corrupted, layer, head, metric):
        with torch.no_grad():
            for p in m.parameters():
                p.zero_()
        return metric(m(corrupted))

    fails_with(seq.check_patch_one_head, zeroes_the_weights, "instead of")
    seq.check_patch_one_head(patch)
    assert "✔" in capsys.readouterr().out


# -- every check: an attempt that changes everything it is handed ----------------------
def _poison(value) -> None:
    """Change a value the check handed over, in place, as a careless attempt might."""
    if isinstance(value, torch.Tensor):
        with torch.no_grad():
            if value.dtype == torch.bool:
                value.logical_not_()
            else:
                value.add_(1)
    elif isinstance(value, list) and value:
        value.reverse()
        value.append(value[0])
    elif isinstance(value, dict):
        for item in value.values():
            _poison(item)
    elif isinstance(value, torch.nn.Module):
        for module in value.modules():
            module.register_forward_hook(lambda module, inputs, output: None)
        with torch.no_grad():
            for p in value.parameters():
                p.mul_(0.5)


def poison_everything(*args, **kwargs):
    for value in [*args, *kwargs.values()]:
        _poison(value)
    return "not an answer"


def _wrong_abs():
    return T([[1.0], [-1.0]]), T([[1.0, -1.0]])


def _right_abs():
    return T([[1.0], [-1.0]]), T([[1.0, 1.0]])


def _right_min():
    return T([[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]]), T([[1.0, -1.0, -1.0]])


def _wrong_min():
    return T([[1.0, 0.0], [-1.0, 0.0], [-1.0, 1.0]]), T([[1.0, -1.0, 1.0]])


def _right_prune(order, performance, threshold=0.8):
    return cd.iterative_prune(order, performance, threshold)


def _wrong_prune(order, performance, threshold=0.8):
    return cd.iterative_prune(order, performance, 0.8)


def _weak_last_member_head():
    W_Q, W_K, W_V, W_O = tp.last_member_head()
    return W_Q, W_K, W_V, W_O * 0.1


DIRECT_PATH = {
    "Desk": "was",
    "was": "verb",
    "done": "in",
    "in": "member",
    "5": ".",
    ".": "<bos>",
}


# check: (a right answer, a plausible mistake)
CHECKS = {
    "neuron_output": (
        la.check_neuron_output,
        lambda x, w, b: x @ w + b,
        lambda x, w, b: x @ w,
    ),
    "linear_layer": (
        la.check_linear_layer,
        lambda x, W, b: x @ W.T + b,
        lambda x, W, b: torch.relu(x @ W.T + b),
    ),
    "coordinates_in_basis": (
        la.check_coordinates_in_basis,
        lambda v, B: torch.linalg.solve(B, v),
        lambda v, B: B.T @ v,
    ),
    "rotate_hidden": (
        la.check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (R @ W_in, R @ b_in, W_out @ R.T),
        lambda W_in, b_in, W_out, R: (R @ W_in, b_in, W_out @ R.T),
    ),
    "analogy": (
        la.check_analogy,
        right_analogy,
        lambda E, vocab, a, b, c: right_analogy(E, vocab, b, a, c),
    ),
    "leak": (
        la.check_leak,
        lambda W, b, i, j: torch.relu(W[:, i] @ W[:, j] + b[j]),
        lambda W, b, i, j: torch.relu(W[:, i] @ W[:, j] + b[i]),
    ),
    "most_exciting_input": (
        la.check_most_exciting_input,
        superposition.most_exciting_input,
        lambda w: w / w.norm(),
    ),
    "abs_weights": (relu.check_abs_weights, _right_abs, _wrong_abs),
    "min_weights": (relu.check_min_weights, _right_min, _wrong_min),
    "match_units": (
        relu.check_match_units,
        rt.match_units,
        lambda learned, reference, min_cosine=0.99: rt.match_units(reference, learned),
    ),
    "silent_inputs": (
        relu.check_silent_inputs,
        lambda W_in, x: (x @ W_in.T <= 0).all(dim=1),
        lambda W_in, x: (x @ W_in.T <= 0).any(dim=1),
    ),
    "min_counterexample": (
        relu.check_min_counterexample,
        rc.min_counterexample,
        lambda W_in, W_out: T([1.0, -1.0]),
    ),
    "logit_diff_metric": (
        seq.check_logit_diff_metric,
        right_metric,
        lambda *a: -right_metric(*a),
    ),
    "attention_to_last_member": (
        seq.check_attention_to_last_member,
        right_readout,
        lambda p, m: p[:, :, -1, -1].mean(0),
    ),
    "patch_one_head": (
        seq.check_patch_one_head,
        patch,
        lambda *a: patch(*a, reverse=True),
    ),
    "head_dla": (
        seq.check_head_dla,
        attribution.head_dla,
        lambda z, W, s, d: -attribution.head_dla(z, W, s, d),
    ),
    "mean_ablate_head": (
        seq.check_mean_ablate_head,
        right_hook,
        lambda z, hook, head, mean: right_hook(z, hook, head, torch.zeros_like(mean)),
    ),
    "iterative_prune": (seq.check_iterative_prune, _right_prune, _wrong_prune),
    "ov_successor_score": (
        seq.check_ov_successor_score,
        right_ov,
        lambda inputs, layer, *a: right_ov(inputs, 0, *a),
    ),
    "shared_components": (
        seq.check_shared_components,
        cd.shared_components,
        lambda a, b: cd.sort_components([*a, *b]),
    ),
    "shift_corrections": (
        seq.check_shift_corrections,
        right_shift,
        lambda m, s: -right_shift(m, s),
    ),
    "format_similarity": (
        seq.check_format_similarity,
        right_similarity,
        lambda s, f, g: torch.nn.functional.cosine_similarity(
            s[:, f], s[:, g], dim=-1
        ).mean(-1),
    ),
    "patch_subspace": (
        seq.check_patch_subspace,
        rep.patch_subspace,
        lambda t, s, b: s.clone(),
    ),
    "attention_head": (
        tt.check_attention_head,
        tp.attention_head,
        lambda x, W_Q, *w: tp.attention_head(x, W_Q * W_Q.shape[1] ** 0.5, *w),
    ),
    "one_layer_forward": (
        tt.check_one_layer_forward,
        lambda w, tokens: aot.forward(w, tokens)[0],
        lambda w, tokens: aot.forward({**w, "W_pos": 0 * w["W_pos"]}, tokens)[0],
    ),
    "direct_path_prediction": (
        tt.check_direct_path_prediction,
        lambda: dict(DIRECT_PATH),
        lambda: {**DIRECT_PATH, ".": "word"},
    ),
    "head_reading": (tt.check_head_reading, lambda: (23, "7"), lambda: (23, "6")),
    "last_member_head": (
        tt.check_last_member_head,
        tp.last_member_head,
        _weak_last_member_head,
    ),
    "previous_token_head": (
        ic.check_previous_token_head,
        ind.previous_token_head,
        lambda: ind.previous_token_head(score=1.0),
    ),
    "induction_head": (
        ic.check_induction_head,
        ind.induction_head,
        lambda: ind.broken_heads()["a"],
    ),
    "two_copies": (ic.check_two_copies, lambda: (0.5, 0.5), lambda: (0.0, 1.0)),
    "diagnosis": (
        ic.check_diagnosis,
        lambda: dict(ind.BROKEN_FAULTS),
        lambda: {**ind.BROKEN_FAULTS, "a": "W_Q"},
    ),
}


@pytest.mark.parametrize("name", CHECKS)
def test_an_attempt_that_changes_everything_changes_nothing_for_the_next(name, capsys):
    check, right, wrong = CHECKS[name]
    before = fails_with(check, wrong)
    with pytest.raises(CheckFailed):
        check(poison_everything)
    check(right)
    assert "✔" in capsys.readouterr().out, f"{name}: the right answer fails after"
    assert fails_with(check, wrong) == before, f"{name}: a mistake is told otherwise"


# -- lesson 03: the trained model's weights are handed out, and read by three checks ---
def test_weights_changed_in_place_do_not_poison_lesson_03(capsys):
    def zeroes_the_weights(w, tokens):
        for tensor in w.values():
            tensor.zero_()
        return aot.forward(w, tokens)[0]

    fails_with(tt.check_one_layer_forward, zeroes_the_weights, "`w` in place")
    tt.check_one_layer_forward(lambda w, tokens: aot.forward(w, tokens)[0])
    tt.check_direct_path_prediction(lambda: dict(DIRECT_PATH))
    tt.check_head_reading(lambda: (23, "7"))
    assert capsys.readouterr().out.count("✔") == 3
