"""Circuit surgery: an edit fitted on one task, its transfer, and its specificity."""

import pytest
import torch

from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import sequences, surgery
from neuralcircuits.science.hooks import hook_name
from neuralcircuits.science.patching import Component


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
    fit = {t: [data[t].clean, data[t].random] for t in sequences.TASKS}
    return heads, fit


@pytest.fixture(scope="module")
def tests(model):
    new = study.build_task_data(model, n=48, seed=9)[0]
    return {t: new[t].clean for t in sequences.TASKS}


@pytest.fixture(scope="module")
def transfer(model, movers, tests):
    heads, fit = movers
    return surgery.transfer_table(model, heads, fit, tests, shift=-2)


def test_an_edit_fitted_on_one_task_moves_that_task(transfer):
    for task in sequences.TASKS:
        effect = transfer[task][task]
        assert effect["successor_before"] > 0.95
        assert effect["successor_after"] < 0.25, task
        assert effect["shifted_after"] > 0.75, task
        assert effect["logit_diff_after"] < effect["logit_diff_before"]


def test_the_transfer_table_covers_every_pair(transfer):
    assert list(transfer) == list(sequences.TASKS)
    for row in transfer.values():
        assert list(row) == list(sequences.TASKS)
        for effect in row.values():
            assert 0 <= effect["shifted_after"] <= 1
            assert effect["successor_before"] > 0.95


def test_skip_ahead_edit(model, movers, tests):
    heads, fit = movers
    edit = surgery.fit_member_shift(model, heads, fit["months"], shift=1)
    assert edit.fitted_on == ("months",) and edit.applied_to == sequences.TASKS
    assert surgery.sequence_effect(model, edit, tests["months"])["shifted_after"] > 0.8


def test_non_sequence_prompts_are_unchanged(model, movers):
    heads, fit = movers
    edit = surgery.fit_member_shift(model, heads, fit["numerals"], shift=-2)
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
    edit = surgery.fit_member_shift(model, heads, fit["numerals"], shift=-2)
    tok = model.tokenizer
    ids = {t: sequences.member_token_ids(tok, t) for t in sequences.TASKS}
    assert torch.equal(surgery.edit_tokens(tok), torch.cat(list(ids.values())))
    row = {t: slice(12 * i, 12 * (i + 1)) for i, t in enumerate(sequences.TASKS)}
    for table in edit.corrections.values():
        assert table.shape == (36, model.cfg.d_head)  # one row per member token
        # fitted on numerals, applied by member index to every task
        assert torch.equal(table[row["numerals"]], table[row["months"]])
        assert torch.equal(table[row["numerals"]], table[row["number_words"]])
        assert table[row["numerals"]][5].abs().sum() > 0
        # the first two members have no member two before them: no correction
        assert (table[row["numerals"]][:2] == 0).all()
    assert edit.heads == heads
    only = surgery.fit_member_shift(
        model, heads, fit["numerals"], shift=-2, apply_to=["numerals"]
    )
    for table in only.corrections.values():
        assert (table[row["months"]] == 0).all()


def test_the_edit_adds_each_tokens_own_row_to_the_value(model, movers):
    heads, fit = movers
    edit = surgery.fit_member_shift(model, heads, fit["numerals"], shift=-2)
    tokens = fit["numerals"][0].tokens[:3]
    name = hook_name("v", heads[0].layer)
    seen = {}

    def keep(v, hook):
        seen["v"] = v.clone()
        return v

    with torch.no_grad():
        model.run_with_hooks(tokens, fwd_hooks=[(name, keep)])
        plain = seen["v"]
        model.run_with_hooks(
            tokens,
            fwd_hooks=[*surgery.surgery_hooks(model, edit, tokens), (name, keep)],
        )
        edited = seen["v"]
    rows = {int(t): i for i, t in enumerate(surgery.edit_tokens(model))}
    h = heads[0].head
    for b in range(tokens.shape[0]):
        for p in range(tokens.shape[1]):
            row = rows.get(int(tokens[b, p]))
            table = edit.corrections[heads[0]]
            want = torch.zeros(table.shape[1]) if row is None else table[row]
            assert torch.allclose(edited[b, p, h] - plain[b, p, h], want, atol=1e-5)


def test_member_outside_a_sequence_prompts(model):
    stories = surgery.member_outside_dataset(model.tokenizer, "months", n=24, seed=2)
    ids = sequences.member_token_ids(model.tokenizer, "months")
    rows = torch.arange(24)
    member = stories.member_ids[:, 0]
    assert torch.equal(stories.tokens[rows, stories.member_pos[:, 0]], ids[member])
    # exactly one member token per prompt, and the text says the same
    every = torch.cat(
        [sequences.member_token_ids(model.tokenizer, t) for t in sequences.TASKS]
    )
    assert (torch.isin(stories.tokens, every).sum(1) == 1).all()
    for prompt, tokens in zip(stories.prompts, stories.tokens, strict=True):
        assert [
            model.tokenizer.bos_token_id,
            *model.tokenizer(prompt, add_special_tokens=False)["input_ids"],
        ] == tokens.tolist()
    assert stories.kind == "member-outside"


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


def test_distribution_change_is_the_same_a_few_prompts_at_a_time(
    model, movers, monkeypatch
):
    heads, fit = movers
    edit = surgery.fit_member_shift(model, heads, fit["numerals"], shift=-2)
    stories = surgery.member_outside_dataset(model.tokenizer, "numerals", n=10, seed=3)
    whole = surgery.distribution_change(model, edit, stories.tokens, "all")
    monkeypatch.setattr(surgery, "DISTRIBUTION_PROMPTS", 3)  # 3 + 3 + 3 + 1
    parts = surgery.distribution_change(model, edit, stories.tokens, "all")
    assert whole["mean_kl"] > 0  # the members in the stories move
    for key in whole:
        assert parts[key] == pytest.approx(whole[key], rel=1e-5, abs=1e-7), key
