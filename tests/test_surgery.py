"""Circuit surgery: one edit moves all three tasks, and leaves non-sequence prompts alone."""

import pytest
import torch

from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import sequences, surgery
from neuralcircuits.science import toy_seq as ts
from neuralcircuits.science.patching import Component

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return ts.load()


@pytest.fixture(scope="module")
def movers(model):
    data = study.build_task_data(model, n=48)[0]
    att = torch.stack(
        [
            roles.attention_to_members(model, data[t].clean)[..., -1]
            for t in sequences.TASKS
        ]
    ).mean(0)
    heads = [
        Component("head", L, h)
        for L in range(model.cfg.n_layers)
        for h in range(model.cfg.n_heads)
        if att[L, h] >= 0.5 * att.max()
    ]
    fit = [getattr(data[t], k) for t in sequences.TASKS for k in ("clean", "random")]
    return heads, fit


def test_predecessor_edit_changes_all_three_tasks(model, movers):
    heads, fit = movers
    edit = surgery.fit_member_shift(model, heads, fit, shift=-2)
    new = study.build_task_data(model, n=48, seed=9)[0]
    for task in sequences.TASKS:
        effect = surgery.sequence_effect(model, edit, new[task].clean)
        assert effect["successor_before"] > 0.95
        assert effect["successor_after"] < 0.25, task
        assert effect["shifted_after"] > 0.75, task
        assert effect["logit_diff_after"] < effect["logit_diff_before"]


def test_skip_ahead_edit(model, movers):
    heads, fit = movers
    edit = surgery.fit_member_shift(model, heads, fit, shift=1)
    clean = study.build_task_data(model, n=48, seed=9)[0]["months"].clean
    assert surgery.sequence_effect(model, edit, clean)["shifted_after"] > 0.8


def test_non_sequence_prompts_are_unchanged(model, movers):
    heads, fit = movers
    edit = surgery.fit_member_shift(model, heads, fit, shift=-2)
    plain = surgery.non_sequence_dataset(model.tokenizer, n=24, seed=5)
    ids = torch.cat(
        [sequences.member_token_ids(model.tokenizer, t) for t in sequences.TASKS]
    )
    assert not torch.isin(plain.tokens, ids).any()
    for where in ("last", "all"):
        change = surgery.distribution_change(model, edit, plain.tokens, where)
        assert change["same_top1"] == 1.0
        assert change["max_prob_change"] < 1e-6


def test_corrections_touch_member_tokens_only(model, movers):
    heads, fit = movers
    edit = surgery.fit_member_shift(model, heads, fit, shift=-2)
    ids = torch.cat(
        [sequences.member_token_ids(model.tokenizer, t) for t in sequences.TASKS]
    )
    for table in edit.corrections.values():
        assert table.shape == (model.cfg.d_vocab, model.cfg.d_head)
        nonzero = table.abs().sum(-1).nonzero().flatten()
        assert torch.isin(nonzero, ids).all()
        # the first two members have no member two before them: no correction
        for task in sequences.TASKS:
            first = sequences.member_token_ids(model.tokenizer, task)[:2]
            assert (table[first] == 0).all()
    assert edit.heads == heads


def test_no_edit_is_the_model(model):
    tokens = sequences.make_dataset(model, "numerals", "clean", "done", n=4).tokens
    with torch.no_grad():
        assert torch.equal(
            surgery.edited_logits(model, tokens, None), model(tokens).float()
        )
    empty = surgery.MemberShift(-2)
    with torch.no_grad():
        assert torch.allclose(
            surgery.edited_logits(model, tokens, empty), model(tokens)
        )
