"""Attention to members, OV successor scores and MLP neuron analysis."""

import pytest
import torch

from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import sequences
from neuralcircuits.science import toy_seq as ts

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return ts.load()


@pytest.fixture(scope="module")
def data(model):
    return study.build_task_data(model, n=48)[0]


def test_attention_to_members_on_toy_seq(model, data):
    for task in sequences.TASKS:
        att = roles.attention_to_members(model, data[task].clean)
        assert att.shape == (model.cfg.n_layers, model.cfg.n_heads, 4)
        assert (att >= 0).all() and (att.sum(-1) <= 1 + 1e-5).all()
        # ground truth: the answer depends on the last member, and some head reads it
        assert float(att[..., -1].max()) > 0.8
    top = roles.top_heads(torch.tensor([[0.1, 0.9], [0.5, 0.2]]), 2)
    assert [h for h, _ in top] == ["0.1", "1.0"]
    assert [v for _, v in top] == pytest.approx([0.9, 0.5])


def test_ov_successor_score_on_a_built_case():
    # resid rows are one-hot members; W_V W_O maps member i to member i + 1
    n, d = 5, 6
    resid = torch.eye(d)[:n]
    shift = torch.roll(torch.eye(d), 1, dims=1)  # e_i -> e_{i+1}
    succ = torch.arange(1, n + 1)
    assert (
        roles.ov_successor_score(resid, shift, torch.eye(d), lambda x: x, succ, k=1)
        == 1.0
    )
    assert (
        roles.ov_successor_score(
            resid, torch.eye(d), torch.eye(d), lambda x: x, succ, k=1
        )
        == 0.0
    )  # a copying head
    half = succ.clone()
    half[:2] = 0
    assert roles.ov_successor_score(
        resid, shift, torch.eye(d), lambda x: x, half, k=1
    ) == pytest.approx(3 / 5)


def test_ov_successor_scores_of_every_head(model, data):
    ids = sequences.member_token_ids(model.tokenizer, "numerals")
    datasets = [data["numerals"].clean, data["numerals"].random]
    inputs = roles.ov_inputs(model, datasets)
    L = model.cfg.n_layers
    assert inputs.shape == (L, 12, model.cfg.d_model) and not inputs.isnan().any()
    scores = roles.ov_successor_scores(model, inputs, ids)
    assert scores.shape == (L, model.cfg.n_heads)
    assert ((scores >= 0) & (scores <= 1)).all()
    # the library's per-head score equals the exercise formula fed that layer's input
    for layer, head in ((0, 1), (L - 1, 0)):
        W_V, W_O = model.W_V[layer, head].float(), model.W_O[layer, head].float()
        one = roles.ov_successor_score(
            inputs[layer, :11], W_V, W_O, roles.readout(model), ids[1:], 5
        )
        assert scores[layer, head] == pytest.approx(one)
    top = roles.ov_top_tokens(model, 0, 1, inputs, k=2)
    assert top.shape == (12, 2)
    assert torch.equal(top, roles.ov_top_tokens(model, 0, 1, inputs[0], k=2))


def test_ov_inputs_read_each_layer_through_its_layernorm(model, data):
    """Layer 0 reads ln1(embedding); later layers ln1(residual after block 0)."""
    d = data["months"].clean
    inputs = roles.ov_inputs(model, [d])
    names = ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_post"]
    _, cache = model.run_with_cache(d.tokens, names_filter=lambda n: n in names)
    rows = torch.arange(len(d))[:, None].expand_as(d.member_ids)
    at = d.member_ids == 2  # every occurrence of the third member
    for layer in range(model.cfg.n_layers):
        xs = cache[names[0] if layer == 0 else names[1]][rows[at], d.member_pos[at]]
        want = model.blocks[layer].ln1(xs).mean(0)
        assert torch.allclose(inputs[layer, 2], want, atol=1e-5)
    # LayerNorm makes the rows differ from the raw residual
    raw = roles.member_residuals(model, [d])
    assert not torch.allclose(inputs[1, :11], raw[:11], atol=1e-2)


def test_member_residuals_mark_unseen_members(model):
    clean = sequences.make_dataset(model, "months", "clean", "done", n=8)  # starts 0..7
    resid = roles.member_residuals(model, [clean])
    assert resid[11].isnan().all() and not resid[:11].isnan().any()


def test_profile_decomposition():
    member = torch.arange(12.0)[None, :, None].expand(3, 12, 1)  # same in every task
    task = torch.tensor([0.0, 1.0, 5.0])[:, None, None].expand(3, 12, 1)
    both = torch.cat([member, task, member * task], dim=-1)  # [3, 12, 3]
    m, t, x = roles.decompose_profiles(both)
    assert m[0] == pytest.approx(1) and t[1] == pytest.approx(1)
    assert torch.allclose(m + t + x, torch.ones(3))
    assert x[2] > 0.05


def test_neuron_reports_on_toy_seq(model, data):
    both = {t: [data[t].clean, data[t].random] for t in sequences.TASKS}
    layer = model.cfg.n_layers - 1
    profiles = roles.neuron_profiles(model, both, layer)
    assert profiles.shape == (3, 12, model.cfg.d_mlp)
    ids = {t: sequences.member_token_ids(model.tokenizer, t) for t in sequences.TASKS}
    reports = roles.neuron_reports(model, profiles, layer, ids, k=5)
    assert len(reports) == 5
    assert reports[0].spread >= reports[-1].spread
    for r in reports:
        assert r.kind in ("member", "task", "mixed")
        assert r.member_share + r.task_share + r.mixed_share == pytest.approx(
            1, abs=1e-4
        )
    assert roles.describe_member(3) == "4 / four / April"
