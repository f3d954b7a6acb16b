"""The facts lesson 04's prose states about toy-seq, pinned (re-check them when toy-seq is retrained)."""

import math

import pytest
import torch

from neuralcircuits.science import attribution, patching, sequences, surgery
from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import hand_built_transformer as hb
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import representations as rep
from neuralcircuits.science import transformer_parts as tp
from neuralcircuits.science.hooks import hook_name
from neuralcircuits.science.patching import Component

TASKS = sequences.TASKS


@pytest.fixture(scope="module")
def toy(model):
    data, _ = study.build_task_data(model)
    return model, data


def _carriers(model, data):
    """The heads that carry the last member, as section 9 picks them."""
    mean_last = torch.stack(
        [roles.attention_to_members(model, data[t].clean)[..., -1] for t in TASKS]
    ).mean(0)
    return [
        Component("head", L, h)
        for L, h in (mean_last >= 0.5 * mean_last.max()).nonzero().tolist()
    ]


# -- section 0 -----------------------------------------------------------------------
def test_residual_stream_is_a_sum_and_layer_norm_matches(toy):
    model, _ = toy
    ds = sequences.make_dataset(model, "numerals", "clean", "done", n=4, seed=0)
    _, cache = model.run_with_cache(ds.tokens)
    for L in range(model.cfg.n_layers):
        pre, mid, post = (
            cache[hook_name(k, L)] for k in ("resid_pre", "resid_mid", "resid_post")
        )
        assert torch.allclose(pre + cache[hook_name("attn_out", L)], mid, atol=1e-5)
        assert torch.allclose(mid + cache[hook_name("mlp_out", L)], post, atol=1e-5)
    ln = model.blocks[0].ln1
    mine = tp.layer_norm(cache[hook_name("resid_pre", 0)], ln.w, ln.b)
    assert torch.allclose(mine, cache["blocks.0.ln1.hook_out"], atol=1e-5)


def test_folded_biases_reproduce_head_0_0(toy):
    model, _ = toy
    ds = sequences.make_dataset(model, "numerals", "clean", "done", n=4, seed=0)
    _, cache = model.run_with_cache(ds.tokens)
    x = cache["blocks.0.ln1.hook_out"]
    x1 = torch.cat([x, torch.ones(*x.shape[:2], 1)], -1)
    with torch.no_grad():
        W = [
            torch.cat([w[0, 0], b[0, 0][None]])
            for w, b in (
                (model.W_Q, model.b_Q),
                (model.W_K, model.b_K),
                (model.W_V, model.b_V),
            )
        ]
        pattern, out = tp.attention_head(x1, *W, model.W_O[0, 0])
        z = cache[hook_name("z", 0)][:, :, 0]
    assert (pattern - cache[hook_name("pattern", 0)][:, 0]).abs().max() < 1e-4
    assert (out - z @ model.W_O[0, 0]).abs().max() < 1e-4


def test_the_hand_set_head_and_its_numbers():
    assert abs(math.exp(8) - 3000) < 50  # "a factor e^8 ~ 3000"
    streams = tp.member_streams(n=64, length=24, seed=0)
    s = tp.score_last_member_head(tp.last_member_head(), streams)
    assert s["attention"] > 0.99 and s["copied"] == 1.0


# -- sections 3 and 4 ------------------------------------------------------------------
def test_prediction_from_attention_is_patchings_top_head(toy):
    model, data = toy
    to_last = roles.attention_to_members(model, data["numerals"].clean)[..., -1]
    patched = study.patching_results(model, data["numerals"])
    assert (
        roles.top_heads(to_last, 1)[0][0] == roles.top_heads(patched["heads"], 1)[0][0]
    )


def test_direct_attribution_adds_up(toy):
    model, data = toy
    for task in TASKS:
        r = attribution.logit_attribution(model, data[task].clean)
        total = (
            r["heads"].sum()
            + r["mlps"].sum()
            + r["embed"]
            + r["attn_biases"]
            + r["constant"]
        )
        with torch.no_grad():
            actual = sequences.logit_diff(
                model(data[task].clean.tokens), data[task].clean
            )
        assert abs(float(total) - float(actual)) < 1e-3


# -- sections 5 and 6 ------------------------------------------------------------------
def test_ablation_kinds_on_the_costliest_component(toy):
    model, data = toy
    setup = study.ablation_setup(model, data["numerals"])
    single = cd.single_ablation_scores(model, setup)
    worst = min(single, key=single.get)
    kinds = attribution.ablation_kinds(
        model, worst, setup.dataset, data["numerals"].random
    )
    assert kinds["mean"]["spread"] == 0.0 and kinds["resample"]["spread"] > 0
    assert all(0 <= r["kept"] <= 1.2 for r in kinds.values())
    # one pooled mean against one per template: "differs a little"
    assert 0 < abs(kinds["mean"]["kept"] - single[worst]) < 0.05


def test_the_loop_and_prune_circuit_agree(toy):
    model, data = toy
    setup = cd.ablation_setup(model, data["numerals"].clean, data["numerals"].random)
    loop = cd.iterative_prune(
        lambda d: cd.visit_order(model, d),
        lambda c: cd.circuit_performance(model, setup, c),
    )
    assert loop == set(cd.prune_circuit(model, setup, progress=False).circuit)


# -- section 9 -------------------------------------------------------------------------
def test_a_numerals_only_fit_transfers_on_the_hand_built_model_not_on_toy_seq(toy):
    model, data = toy
    new_data, _ = study.build_task_data(model, seed=7)
    movers = _carriers(
        model, data
    )  # the heads section 9 edits, found as the lesson finds them
    edit = surgery.fit_member_shift(
        model, movers, [data["numerals"].clean, data["numerals"].random]
    )
    assert (
        surgery.sequence_effect(model, edit, new_data["numerals"].clean)[
            "shifted_after"
        ]
        >= 0.9
    )
    for task in ("number_words", "months"):
        assert (
            surgery.sequence_effect(model, edit, new_data[task].clean)["shifted_after"]
            <= 0.125
        )
    hand = hb.build()
    hand_data, _ = study.build_task_data(hand)
    hand_edit = surgery.fit_member_shift(
        hand, [hb.MOVER], [hand_data["numerals"].clean, hand_data["numerals"].random]
    )
    for task in TASKS:
        assert (
            surgery.sequence_effect(hand, hand_edit, hand_data[task].clean)[
                "shifted_after"
            ]
            == 1.0
        )


def test_direct_attribution_on_the_hand_built_model():
    hand = hb.build()
    hand_data, _ = study.build_task_data(hand)
    heads = attribution.logit_attribution(hand, hand_data["numerals"].clean)["heads"]
    assert abs(float(heads[0, 0])) < 0.005 and float(heads[1, 0]) > 9.9


# -- section 10: what toy-seq shows ----------------------------------------------------
def test_one_is_1_on_toy_seq(toy):
    model, data = toy
    centred = rep.centre(rep.member_streams(model, data))
    n_depths = centred.shape[0]
    gaps = [
        float(
            rep.cosine_by_layer(centred[:, f], centred[:, g])[d]
            - rep.mismatched_cosine(centred[:, f], centred[:, g])[d]
        )
        for f, g in ((0, 1), (0, 2), (1, 2))
        for d in range(n_depths)
    ]
    assert max(gaps) < 0.15  # "about as low as between different values"
    for probe in rep.value_probe_transfer(model, data):
        assert probe["numerals"]["exact"] >= 0.5  # reads the numerals
        assert probe["number_words"]["exact"] <= 0.25  # near chance elsewhere
        assert probe["months"]["exact"] <= 0.25
    steps = rep.plus_one_direction(centred)
    cos = torch.nn.functional.cosine_similarity
    for d in range(n_depths):
        assert (
            abs(float(cos(steps[d, 0], steps[d, 1], dim=0))) < 0.5
        )  # far from parallel
        assert abs(float(cos(steps[d, 0], steps[d, 2], dim=0))) < 0.5
    for task in TASKS:
        effect = rep.steering_effect(
            model, data[task].clean, steps[1, 0], 1, (0.0, 1.0, 4.0)
        )
        assert (
            max(r["plus_two"] for r in effect.values()) <= 0.05
        )  # does not move the answer


# -- the science functions themselves ----------------------------------------------------
def test_probe_recovers_a_linear_value():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.0, 0.5, 3.0]) + 4
    w = rep.fit_probe(x, y, ridge=1e-6)
    assert rep.probe_scores(rep.probe_predict(w, x), y)["r2"] > 0.999


def test_ablation_values():
    ref = torch.arange(24.0).reshape(4, 3, 2)
    assert attribution.ablation_values("zero", ref, 5).abs().sum() == 0
    assert torch.equal(attribution.ablation_values("mean", ref, 5)[3], ref.mean(0))
    rows = attribution.ablation_values("resample", ref, 5, seed=1)
    assert all(any(torch.equal(r, q) for q in ref) for r in rows)
    with pytest.raises(ValueError):
        attribution.ablation_values("noise", ref, 5)


def test_steering_with_alpha_zero_is_the_model(toy):
    model, data = toy
    ds = data["months"].clean
    zero = torch.zeros(model.cfg.d_model)
    effect = rep.steering_effect(model, ds, zero, 1, (0.0, 3.0))
    assert effect[0.0]["answer"] == pytest.approx(1.0)
    # alpha 0 reads the remembered clean run; 3 x nothing runs the hook
    for key, value in effect[0.0].items():
        assert effect[3.0][key] == pytest.approx(value, abs=1e-5), key


# -- "What you should see on toy-seq", section by section ---------------------------------
def test_section_1_task_and_metric(toy):
    model, data = toy
    _, rates = study.build_task_data(model)
    for task in TASKS:
        d = data[task]
        assert rates[task] == 1.0 and sequences.accuracy(model, d.clean) == 1.0
        with torch.no_grad():
            assert sequences.logit_diff(model(d.clean.tokens), d.clean) > 10
            assert sequences.logit_diff(model(d.corrupted.tokens), d.clean) < -10


def test_section_2_logit_lens(toy):
    model, data = toy
    for task in TASKS:
        lens = study.lens_summary(model, data[task].clean)
        assert (lens["answer_top1"][2:] == 1).all() and (
            lens["answer_top1"][:2] <= 0.125
        ).all()
        assert (
            lens["last_member_top1"][0] <= 0.125
            and (lens["last_member_top1"][1:] == 0).all()
        )


def _layer_1(model):
    return [(1, h) for h in range(model.cfg.n_heads)]


def test_sections_3_and_4_the_layer_1_heads(toy):
    model, data = toy
    assert model.cfg.n_layers >= 3 and model.cfg.n_heads == 2
    for task in TASKS:
        to_members = roles.attention_to_members(model, data[task].clean)
        assert all(to_members[L, h, -1] >= 0.95 for L, h in _layer_1(model))
        assert ((to_members[2, :, -1] >= 0.5) & (to_members[2, :, -1] <= 0.8)).all()
        assert to_members[..., :-1].sum(-1).max() <= 0.25
        patched = study.patching_results(model, data[task])
        heads = patched["heads"].clone()
        assert sum(float(heads[L, h]) for L, h in _layer_1(model)) > 0.7
        heads[1] = 0
        assert heads.max() <= 0.1
        span = patched["clean"] - patched["corrupted"]
        d = data[task]
        attr = (
            patching.attribution_patch_heads(
                model,
                d.clean.tokens,
                d.corrupted.tokens,
                sequences.logit_diff_metric(d.clean),
            )
            / span
        )
        corr = torch.corrcoef(
            torch.stack([attr.flatten(), patched["heads"].flatten()])
        )[0, 1]
        top = roles.top_heads(patched["heads"], 1)[0][0]
        assert corr > 0.9 and roles.top_heads(attr, 1)[0][0] == top
        r = attribution.logit_attribution(model, d.clean)
        total = float(r["heads"].sum() + r["mlps"].sum())
        assert 0.2 < float(r["heads"].sum()) / total < 0.5
        L, h = (int(x) for x in top.split("."))
        assert float(r["heads"][L, h]) < total / 7
    tops = {
        roles.top_heads(study.patching_results(model, data[t])["heads"], 1)[0][0]
        for t in TASKS
    }
    assert len(tops) == 2  # the two layer-1 heads share the job


def test_sections_5_6_8_ablation_and_circuits(toy):
    model, data = toy
    circuits = {}
    setups = {}
    for task in TASKS:
        setup = setups[task] = cd.ablation_setup(
            model, data[task].clean, data[task].random
        )
        single = cd.single_ablation_scores(model, setup)
        assert single[Component("mlp", 0)] < 0.3
        for comp, kept in single.items():
            if comp.kind == "head":
                assert kept >= 0.7
                if comp.layer != 1:
                    assert kept >= 0.97
        found = cd.prune_circuit(model, setup, progress=False)
        assert 0.8 <= found.performance <= 0.9
        assert cd.knockout_performance(model, setup, found.circuit) <= 0.11
        assert {c.layer for c in found.circuit if c.kind == "head"} == {1}
        assert {c.layer for c in found.circuit if c.kind == "mlp"} == {0, 1, 2}
        circuits[task] = found.circuit
    assert len({tuple(c) for c in circuits.values()}) > 1  # not all the same
    heads_in = [sum(c.kind == "head" for c in circ) for circ in circuits.values()]
    assert heads_in == [2, 1, 2]
    shared = cd.circuit_overlap(circuits)
    assert sum(c.kind == "head" for c in shared) == 1
    assert {c.layer for c in shared if c.kind == "mlp"} == {0, 1, 2}
    for task in TASKS:
        assert cd.circuit_performance(model, setups[task], shared) >= 0.6
        assert cd.knockout_performance(model, setups[task], shared) <= 0.11


def test_section_7_successor_heads_on_toy_seq(toy):
    model, data = toy
    for task in TASKS:
        inputs = roles.ov_inputs(model, [data[task].clean, data[task].random])
        ids = sequences.member_token_ids(model.tokenizer, task)
        scores = roles.ov_successor_scores(model, inputs, ids)
        assert (scores[1] == 1.0).all() and (scores[2] > 0.7).all()
        assert scores.mean() > 0.1  # "far above GPT-2's 3%"


def test_section_9_surgery_on_every_task(toy):
    model, data = toy
    new_data, _ = study.build_task_data(model, seed=7)
    carriers = _carriers(model, data)
    setups = {t: cd.ablation_setup(model, data[t].clean, data[t].random) for t in TASKS}
    circuits = {
        t: cd.prune_circuit(model, setups[t], progress=False).circuit for t in TASKS
    }
    shared = set(cd.circuit_overlap(circuits))

    def fit_each_task(heads):
        edit = surgery.MemberShift(-2)
        for task in TASKS:
            part = surgery.fit_member_shift(
                model, heads, [data[task].clean, data[task].random], apply_to=(task,)
            )
            for head, table in part.corrections.items():
                edit.corrections[head] = edit.corrections.get(head, 0) + table
        return edit

    everywhere = fit_each_task(carriers)
    shared_only = fit_each_task([c for c in carriers if c in shared])
    for task in TASKS:
        test = new_data[task].clean
        assert surgery.sequence_effect(model, everywhere, test)["shifted_after"] >= 0.95
        assert (
            surgery.sequence_effect(model, shared_only, test)["successor_after"] > 0.5
        )
    plain = surgery.non_sequence_dataset(model.tokenizer, n=study.N_PROMPTS, seed=5)
    for where in ("last", "all"):
        assert (
            surgery.distribution_change(model, everywhere, plain.tokens, where)[
                "mean_kl"
            ]
            == 0
        )


def test_member_pca_figure_has_both_colourings():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neuralcircuits.teaching.sequence_circuits.figures import draw_member_pca

    points = torch.randn(36, 2)
    fig = draw_member_pca(points, TASKS, title="t")
    titles = [ax.get_title() for ax in fig.axes]
    assert "coloured by value" in titles and "coloured by format" in titles
    plt.close(fig)


def test_every_method_recovers_the_hand_built_circuit():
    hand = hb.build()
    hand_data, _ = study.build_task_data(hand)
    d = hand_data["numerals"]
    lens = study.lens_summary(hand, d.clean)["answer_top1"]
    assert lens.tolist() == [0.0, 0.0, 1.0]
    to_last = roles.attention_to_members(hand, d.clean)[..., -1]
    assert to_last[0, 0] > 0.99 and abs(float(to_last[1, 1]) - 0.25) < 0.01
    patched = study.patching_results(hand, d)["heads"]
    planted = {(c.layer, c.head) for c in hb.PLANTED_CIRCUIT}
    for L in range(2):
        for h in range(2):
            want = 1.0 if (L, h) in planted else 0.0
            assert abs(float(patched[L, h]) - want) < 0.01
    setup = cd.ablation_setup(hand, d.clean, d.random)
    for comp, kept in cd.single_ablation_scores(hand, setup).items():
        assert (kept < 0.05) if comp in hb.PLANTED_CIRCUIT else (kept > 0.95)
    loop = cd.iterative_prune(
        lambda x: cd.visit_order(hand, x),
        lambda c: cd.circuit_performance(hand, setup, c),
    )
    assert loop == set(hb.PLANTED_CIRCUIT)
