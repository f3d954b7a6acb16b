"""The shared check machinery: input guards, a check that never crashes, clean models."""

import pytest
import torch
from check_answers import fails_with

from neuralcircuits.teaching.checking import (
    CheckFailed,
    call,
    check,
    clean_model,
    fresh_copy,
    passed,
)


def test_call_names_an_input_changed_in_place():
    def scales_in_place(x, w):
        w *= 2
        return x @ w

    with pytest.raises(CheckFailed, match=r"changed its input `w` in place"):
        call(scales_in_place, torch.ones(2, 3), torch.ones(3))


def test_call_catches_shape_changes_list_changes_and_keywords():
    with pytest.raises(CheckFailed, match="`W` in place"):
        call(lambda x, W: x @ W.t_(), torch.ones(2, 3), torch.ones(4, 3))
    with pytest.raises(CheckFailed, match="`vocab` in place"):
        call(lambda E, vocab: vocab.pop(), torch.ones(2), ["a", "b"])
    with pytest.raises(CheckFailed, match=r"`min_cosine`|`learned`"):
        call(
            lambda learned, min_cosine=0.9: learned.zero_(),
            torch.ones(2),
            min_cosine=0.5,
        )


def test_call_accepts_functions_that_leave_inputs_alone():
    x = torch.tensor([1.0, float("nan")])
    assert call(lambda v: v + 1, x).shape == (
        2,
    )  # NaN inputs compare equal to themselves
    assert call(lambda v: v.clone().add_(1), x) is not None


def test_a_crash_inside_a_check_becomes_one_sentence():
    @check
    def check_something(fn):
        value = call(fn)
        passed(f"value {value[3]}")  # the check itself assumes a sequence of 4

    message = fails_with(check_something, lambda: 5, "could not read")
    assert "TypeError" in message


def test_clean_model_removes_leftover_torch_hooks():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    model[0].register_forward_hook(lambda module, inputs, output: output * 0)
    model[1].register_forward_pre_hook(lambda module, inputs: None)
    x = torch.ones(1, 2)
    assert model(x).abs().sum() == 0  # the leftover hook breaks every later attempt
    copy = fresh_copy(model)
    assert copy is not model and not copy[0]._forward_hooks
    assert model[0]._forward_hooks  # the copy leaves the original alone
    clean_model(model)
    assert not model[0]._forward_hooks and not model[1]._forward_pre_hooks
    assert torch.equal(model(x), copy(x))


def test_clean_model_resets_transformer_lens_hooks():
    from neuralcircuits.science import toy_seq
    from neuralcircuits.science.hooks import hook_name

    model = toy_seq.load()
    tokens = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        clean = model(tokens)
        model.add_hook(hook_name("z", 0), lambda z, hook: z * 0)  # left by an attempt
        assert not torch.allclose(model(tokens), clean)
        clean_model(model)
        assert torch.allclose(model(tokens), clean)


def test_a_hook_may_edit_its_activation_when_the_check_says_so():
    def hook(z, hook, head):
        z[:, head] = 0
        return z

    z = torch.ones(2, 3)
    with pytest.raises(CheckFailed, match="`z` in place"):
        call(hook, z.clone(), None, 1)
    assert call(hook, z.clone(), None, 1, may_change=(0,))[:, 1].abs().sum() == 0


def test_a_check_runs_on_one_thread_and_gives_the_threads_back():
    seen = []

    @check
    def threads_inside(answer):
        seen.append(torch.get_num_threads())
        if answer != 1:
            raise ValueError("a crash")

    before = torch.get_num_threads()
    threads_inside(1)
    with pytest.raises(CheckFailed):
        threads_inside(2)
    assert seen == [1, 1] and torch.get_num_threads() == before
