"""The hand-built transformer: exact by construction, and every method recovers its circuit."""

import pytest
import torch

from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import hand_built_transformer as hb
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import patching, sequences, surgery
from neuralcircuits.science.patching import Component

torch.set_num_threads(1)
TASKS = sequences.TASKS
PLANTED = set(hb.PLANTED_CIRCUIT)


@pytest.fixture(scope="module")
def model():
    return hb.build()


@pytest.fixture(scope="module")
def data(model):
    return study.build_task_data(model, n=48)[0]


@pytest.fixture(scope="module")
def setups(model, data):
    return {t: cd.ablation_setup(model, data[t].clean, data[t].random) for t in TASKS}


def _top(scores: torch.Tensor, k: int) -> set[Component]:
    return {Component.parse(name) for name, _ in roles.top_heads(scores, k)}


def test_it_is_a_bridge_with_hand_set_weights(model):
    assert model.cfg.model_name == hb.MODEL_NAME and not model.training
    assert (model.cfg.n_layers, model.cfg.n_heads) == (2, 2)
    again = hb.build(model.tokenizer)
    for (name, a), (_, b) in zip(
        model.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    # every hook of the course is there
    _, cache = model.run_with_cache(
        sequences.make_dataset(model, "months", "clean", "done", n=2).tokens
    )
    assert {
        "blocks.1.attn.hook_z",
        "blocks.0.hook_mlp_out",
        "blocks.1.attn.hook_pattern",
    } <= set(cache)


@pytest.mark.parametrize("template", sequences.TEMPLATES)
@pytest.mark.parametrize("task", TASKS)
def test_exact_on_clean_prompts(model, task, template):
    clean = sequences.make_dataset(model, task, "clean", template, n=96, seed=3)
    assert sequences.accuracy(model, clean) == 1.0
    assert sequences.filter_correct(model, clean).all()
    # logit difference = INDEX_VOTE x the mover's attention to the last member
    diff = sequences.logit_diff(model(clean.tokens), clean, per_prompt=True)
    assert diff.min() > 0.99 * hb.INDEX_VOTE and diff.max() <= hb.INDEX_VOTE + 1e-4


@pytest.mark.parametrize("kind", ["corrupted", "random"])
def test_other_prompts_get_what_the_construction_implies(model, kind):
    for task in TASKS:
        ds = sequences.make_dataset(model, task, kind, "all", n=96, seed=4)
        want = hb.expected_answer(model.tokenizer, ds.tokens)
        top = sequences.last_logits(model, ds.tokens).argmax(-1)
        defined = want >= 0
        assert defined.float().mean() > 0.8
        assert torch.equal(top[defined], want[defined]), (task, kind)
    # corrupted: the successor of the repeated member is the clean wrong answer
    corrupted = sequences.make_dataset(model, "numerals", "corrupted", "all", n=48)
    assert sequences.predicts_successor_of_last(model, corrupted) == 1.0
    assert sequences.logit_diff(model(corrupted.tokens), corrupted) < -9


def test_the_planted_heads_attend_as_built(model, data):
    for task in TASKS:
        att = roles.attention_to_members(model, data[task].clean)  # [L, H, 4]
        assert att[0, 0, -1] > 0.99  # the mover: the last member
        assert att[1, 1].sum() > 0.99 and att[1, 1].std() < 0.01  # the averager
        assert att[1, 0].sum() < 1e-3  # the successor head reads its own position
        final = roles.final_attention(model, data[task].clean)
        assert final[1, 0, -1] > 0.99


def test_patching_and_attribution_rank_the_planted_heads_first(model, data):
    for task in TASKS:
        d = data[task]
        metric = sequences.logit_diff_metric(d.clean)
        with torch.no_grad():
            corrupted = float(metric(model(d.corrupted.tokens)))
        patched = patching.patch_heads(
            model, d.clean.tokens, d.corrupted.tokens, metric
        )
        effect = patched - corrupted
        assert _top(effect, 2) == PLANTED, task
        for c in hb.BYSTANDERS:
            if c.kind == "head":
                assert abs(float(effect[c.layer, c.head])) < 1e-3
        attr = patching.attribution_patch_heads(
            model, d.clean.tokens, d.corrupted.tokens, metric
        )
        assert _top(attr, 2) == PLANTED, task
        # the construction is linear in what the mover carries: attribution is exact
        assert torch.allclose(attr, effect, atol=1e-2)
        mlp = patching.patch_mlp_out(model, d.clean.tokens, d.corrupted.tokens, metric)
        assert (mlp - corrupted).abs().max() < 1e-3  # MLPs carry nothing of the answer


def test_pruning_returns_exactly_the_planted_circuit(model, setups):
    for task, setup in setups.items():
        result = cd.prune_circuit(model, setup, progress=False)
        assert set(result.circuit) == PLANTED, task
        assert result.performance > 0.99
        comparison = cd.knockout_comparison(model, setup, result.circuit, n_draws=20)
        assert abs(comparison.knockout) < 0.02
        # a random pair of the six components misses both planted heads 6 times in 15
        assert comparison.margin > 0.3
        single = cd.single_ablation_scores(model, setup)
        assert all(abs(single[c] - 1) < 1e-3 for c in hb.BYSTANDERS)
        assert all(abs(single[c]) < 0.02 for c in PLANTED)


def test_ov_successor_score_finds_the_successor_head_only(model, data):
    for task in TASKS:
        inputs = roles.ov_inputs(model, [data[task].clean, data[task].random])
        scores = roles.ov_successor_scores(
            model, inputs, sequences.member_token_ids(model.tokenizer, task)
        )
        assert scores[1, 0] >= 0.9, task
        others = scores.clone()
        others[1, 0] = 0
        assert others.max() <= 0.1, task


def test_ov_inputs_are_what_each_layer_reads(model, data):
    d = data["months"]
    inputs = roles.ov_inputs(model, [d.clean, d.random])
    assert inputs.shape == (2, 12, model.cfg.d_model)
    # layer 0 reads the embedding: the member's token embedding plus its position
    ids = sequences.member_token_ids(model.tokenizer, "months")
    embed = model.W_E[ids].float()
    r = hb.RESIDUAL
    other = [i for i in range(model.cfg.d_model) if i != r["position"].start]
    assert torch.allclose(inputs[0][:, other], embed[:, other], atol=1e-5)
    # layer 1 reads the effective embedding: here the embedding plus MLP 0's "." vote
    assert torch.allclose(
        inputs[1][:, r["index_in"]], embed[:, r["index_in"]], atol=1e-3
    )
    assert (inputs[1][:, r["dot_out"]] > 0.99).all()


@pytest.mark.parametrize("fit_task", TASKS)
def test_surgery_on_the_mover_moves_the_answer_in_every_task(model, data, fit_task):
    new = study.build_task_data(model, n=48, seed=9)[0]
    tests = {t: new[t].clean for t in TASKS}
    fit = {fit_task: [data[fit_task].clean, data[fit_task].random]}
    table = surgery.transfer_table(model, [hb.MOVER], fit, tests, shift=-2)[fit_task]
    for task, effect in table.items():
        assert effect["successor_before"] == 1.0
        assert effect["successor_after"] == 0.0, (fit_task, task)
        assert effect["shifted_after"] == 1.0, (fit_task, task)  # the predecessor


def test_surgery_on_a_bystander_changes_nothing(model, data):
    new = study.build_task_data(model, n=48, seed=9)[0]
    edit = surgery.fit_member_shift(
        model, [hb.MEMBER_AVERAGER], [data["numerals"].clean, data["numerals"].random]
    )
    for task in TASKS:
        effect = surgery.sequence_effect(model, edit, new[task].clean)
        assert effect["successor_after"] == 1.0


def test_a_member_outside_a_sequence_is_read_too(model, data):
    """The mover finds any member, so the edit moves stories with one member as predicted."""
    edit = surgery.fit_member_shift(
        model, [hb.MOVER], [data["months"].clean, data["months"].random], shift=-2
    )
    for task in TASKS:
        stories = surgery.member_outside_dataset(model.tokenizer, task, n=48, seed=2)
        ids = sequences.member_token_ids(model.tokenizer, task)
        m = stories.member_ids[:, 0]
        assert torch.equal(
            stories.tokens[torch.arange(48), stories.member_pos[:, 0]], ids[m]
        )
        before = sequences.last_logits(model, stories.tokens).argmax(-1)
        after = surgery.edited_logits(model, stories.tokens, edit)[:, -1].argmax(-1)
        ok = m < 11
        assert torch.equal(
            before[ok], ids[m[ok] + 1]
        )  # its successor, as in a sequence
        moved = ok & (m >= 2)
        assert torch.equal(after[moved], ids[m[moved] - 1])  # now its predecessor
        plain = surgery.non_sequence_dataset(model.tokenizer, n=24, seed=5)
        change = surgery.distribution_change(model, edit, plain.tokens, "all")
        assert change["max_prob_change"] == 0.0
