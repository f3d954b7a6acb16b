"""What lesson 04's prose says the learner will see, pinned on the models the learner runs.

Each test names the section whose sentences it checks. The numbers come
from the same library calls as the lesson's cells, on the same prompts
(toy-seq's held-out word pairs). Re-check them when a toy model is retrained.
"""

import pytest
import torch

from neuralcircuits.science import attribution, patching, sequences, surgery
from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import hand_built_transformer as hb
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import representations as rep
from neuralcircuits.science.models import load_model
from neuralcircuits.science.patching import Component

TASKS = sequences.TASKS
C = Component.parse


@pytest.fixture(scope="module")
def toy(model):
    data, rates = study.build_task_data(model)
    return model, data, rates


@pytest.fixture(scope="module")
def setups(toy):
    model, data, _ = toy
    return {t: study.ablation_setup(model, data[t]) for t in TASKS}


@pytest.fixture(scope="module")
def single(toy, setups):
    return {t: cd.single_ablation_scores(toy[0], setups[t]) for t in TASKS}


@pytest.fixture(scope="module")
def circuits(toy, setups):
    return {t: cd.prune_circuit(toy[0], setups[t], progress=False) for t in TASKS}


@pytest.fixture(scope="module")
def patched(toy):
    model, data, _ = toy
    return {t: study.patching_results(model, data[t]) for t in TASKS}


@pytest.fixture(scope="module")
def hand():
    model = hb.build()
    return model, study.build_task_data(model)[0]


@pytest.fixture(scope="module")
def separate():
    model = load_model("toy-seq-separate", verbose=False)
    return model, study.build_task_data(model)[0]


# -- section 1 ----------------------------------------------------------------------
def test_section_1_task_metric_and_the_corrupted_sign(toy):
    model, data, rates = toy
    for task in TASKS:
        d = data[task]
        assert rates[task] == 1.0 and sequences.accuracy(model, d.clean) == 1.0
        clean = sequences.logit_diff(
            sequences.last_logits(model, d.clean.tokens), d.clean
        )
        corrupted = sequences.logit_diff(
            sequences.last_logits(model, d.corrupted.tokens), d.clean
        )
        assert clean > 10 and corrupted < -10  # the revealed answer is "negative"
        assert study.answer_kept_when_earlier_members_change(model, d.clean) == 1.0


def test_toy_prompts_are_held_out_word_pairs(toy):
    from neuralcircuits.science import toy_seq

    _, data, _ = toy
    d = data["numerals"].clean
    assert all(
        toy_seq.held_out(w, t) for w, t in zip(d.words, d.templates, strict=True)
    )


# -- section 2 ----------------------------------------------------------------------
def test_section_2_logit_lens(toy, hand):
    model, data, _ = toy
    h, hd = hand
    assert study.lens_summary(h, hd["numerals"].clean)["answer_top1"].tolist() == [
        0,
        0,
        1,
    ]
    for task in TASKS:
        lens = study.lens_summary(model, data[task].clean)
        assert (lens["answer_top1"][2:] == 1).all()
        assert (lens["answer_top1"][:2] <= 0.125).all()
        assert (lens["last_member_top1"] <= 0.125).all()
        assert int((lens["answer_top1"] > 0.5).float().argmax()) == 2


# -- section 3 ----------------------------------------------------------------------
def test_section_3_the_last_member_head_and_the_first_member_head(toy):
    model, data, _ = toy
    for task in TASKS:
        att = roles.attention_to_members(model, data[task].clean)
        assert att[1, 3, -1] > 0.95 and att[1, 0, -1] > 0.85
        assert roles.top_heads(att[..., -1], 1)[0][0] == "1.3"
        assert att[1, 1, 0] > 0.95  # head 1.1: the first member and nothing else
        assert roles.top_heads(att[..., 0], 1)[0][0] == "1.1"


# -- section 4 ----------------------------------------------------------------------
def test_section_4_patching_attribution_and_the_prediction(toy, patched):
    model, data, _ = toy
    for task in TASKS:
        heads = patched[task]["heads"].clone()
        assert heads[1, 3] > 0.9
        heads[1, 3] = 0
        assert heads.max() <= 0.05
        d = patched[task]["data"]
        span = patched[task]["clean"] - patched[task]["corrupted"]
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
            torch.stack([attr.flatten(), patched[task]["heads"].flatten()])
        )
        assert corr[0, 1] > 0.9 and roles.top_heads(attr, 1)[0][0] == "1.3"
        r = attribution.logit_attribution(model, data[task].clean)
        total = float(r["heads"].sum() + r["mlps"].sum())
        assert 0.2 < float(r["heads"].sum()) / total < 0.5
        assert float(r["heads"][1, 3]) < total / 5
        # exercise 4's prediction, from attention alone, is patching's top head
        to_last = roles.attention_to_members(model, data["numerals"].clean)[..., -1]
        assert (
            roles.top_heads(to_last, 1)[0][0]
            == roles.top_heads(patched["numerals"]["heads"], 1)[0][0]
        )


def test_direct_attribution_adds_up_and_credits_the_hand_built_successor(toy, hand):
    model, data, _ = toy
    for task in TASKS:
        r = attribution.logit_attribution(model, data[task].clean)
        total = r["heads"].sum() + r["mlps"].sum() + r["embed"] + r["attn_biases"]
        total = total + r["constant"]
        actual = sequences.logit_diff(
            sequences.last_logits(model, data[task].clean.tokens), data[task].clean
        )
        assert abs(float(total) - float(actual)) < 1e-3
    h, hd = hand
    heads = attribution.logit_attribution(h, hd["numerals"].clean)["heads"]
    assert abs(float(heads[0, 0])) < 0.005 and float(heads[1, 0]) > 9.9


# -- section 5 ----------------------------------------------------------------------
def test_section_5_single_ablations(toy, single):
    model, _, _ = toy
    for task in TASKS:
        assert single[task][C("MLP0")] < 0.2
        assert single[task][C("1.3")] <= 0.4  # costs at least 60%
        assert single[task][C("1.1")] >= 0.97
    others = [
        c for c in cd.all_components(model) if min(single[t][c] for t in TASKS) >= 0.97
    ]
    assert len(others) == 15


def test_section_5_carriers_and_their_weak_backup(toy, setups):
    model, data, _ = toy
    carriers = roles.carriers(model, data)
    assert carriers == [C("1.0"), C("1.2"), C("1.3")]
    assert roles.strongest_carrier(model, data) == C("1.3")
    for task in TASKS:
        s = setups[task]
        alone, backups, both = (
            cd.ablated_logit_diffs(
                model, s, [[C("1.3")], [C("1.0"), C("1.2")], carriers]
            )
            / s.full
        )
        assert backups >= 0.97 and both <= alone - 0.08


def test_section_5_zero_mean_resample(toy, setups, patched):
    model, data, _ = toy
    top = C(roles.top_heads(patched["numerals"]["heads"], 1)[0][0])
    kinds = attribution.ablation_kinds(
        model, top, setups["numerals"].dataset, data["numerals"].random
    )
    assert kinds["zero"]["kept"] < kinds["mean"]["kept"] - 0.03  # the answer: "less"
    assert (
        kinds["resample"]["kept"] < kinds["zero"]["kept"]
    )  # resampling takes the most
    assert kinds["mean"]["spread"] == 0.0 and kinds["resample"]["spread"] > 0


# -- section 6 ----------------------------------------------------------------------
def test_section_6_circuits_their_knockouts_and_random_sets(toy, setups, circuits):
    model = toy[0]
    found = {t: cd.format_circuit(r.circuit) for t, r in circuits.items()}
    assert found == {
        "numerals": "heads 1.3, 2.1, 2.3, 3.2; MLPs 0, 1, 2",
        "number_words": "heads 1.3, 2.1, 2.2; MLPs 0, 1, 3",
        "months": "heads 1.3; MLPs 0, 1, 2",
    }
    for task, r in circuits.items():
        assert 0.8 <= r.performance <= 0.9
        ko = cd.knockout_comparison(model, setups[task], r.circuit, n_draws=20)
        assert ko.knockout <= 0.1 and ko.margin >= 0.3
    loop = cd.iterative_prune(
        lambda d: cd.visit_order(model, d),
        lambda c: cd.circuit_performance(model, setups["numerals"], c),
    )
    assert loop == set(circuits["numerals"].circuit)


# -- section 7 ----------------------------------------------------------------------
def test_section_7_ov_scores_against_chance(toy, hand):
    model, data, _ = toy
    for task in TASKS:
        inputs = roles.ov_inputs(model, [data[task].clean, data[task].random])
        ids = sequences.member_token_ids(model.tokenizer, task)
        among = roles.ov_successor_scores(model, inputs, ids, among_members=True)
        assert among[1, 3] > 0.8 and roles.top_heads(among, 1)[0][0] == "1.3"
        assert among.mean() < 0.3  # "the average head stays far lower"
        top5 = roles.ov_successor_scores(model, inputs, ids)
        assert top5.mean() > 0.1  # far above GPT-2's 3%
    h, hd = hand
    for task in TASKS:
        inputs = roles.ov_inputs(h, [hd[task].clean, hd[task].random])
        ids = sequences.member_token_ids(h.tokenizer, task)
        among = roles.ov_successor_scores(h, inputs, ids, among_members=True)
        assert among[1, 0] == 1.0
        for L, head in ((0, 0), (0, 1), (1, 1)):
            assert among[L, head] <= 1 / 11 + 1e-6  # no better than chance


def test_section_7_the_successor_heads_mapping_is_format_free(toy):
    model, data, _ = toy
    inputs = roles.ov_inputs(model, [data["numerals"].clean, data["numerals"].random])
    top = roles.ov_top_tokens(model, 1, 3, inputs, k=1)[:, 0]
    written = [model.tokenizer.decode([int(t)]).strip() for t in top.tolist()]
    formats = {
        next(t for t in TASKS if w in sequences.members(t)) for w in written if w
    }
    assert len(formats) == 3  # 3->4, 4->five, 6->July


def test_section_7_neurons(toy, circuits):
    model, data, _ = toy
    both = {t: [data[t].clean, data[t].random] for t in TASKS}
    ids = {t: sequences.member_token_ids(model.tokenizer, t) for t in TASKS}
    shared_mlps = {
        c.layer
        for c in cd.circuit_overlap({t: r.circuit for t, r in circuits.items()})
        if c.kind == "mlp"
    }
    assert shared_mlps == {0, 1}

    def report(layer):
        return roles.neuron_reports(
            model, roles.neuron_profiles(model, both, layer), layer, ids, k=6
        )

    assert sum(r.kind == "task" for r in report(0)) >= 4
    mlp1 = report(1)
    assert sum(r.kind == "member" for r in mlp1) >= 4
    assert sum(r.successor_like for r in mlp1) >= 2  # chance: 0.5 of 6


# -- section 8 ----------------------------------------------------------------------
def test_section_8_shared_by_pruning_and_by_function(
    toy, setups, single, patched, circuits
):
    model, _, _ = toy
    shared = cd.circuit_overlap({t: r.circuit for t, r in circuits.items()})
    assert shared == [C("MLP0"), C("1.3"), C("MLP1")]
    for task in TASKS:
        assert cd.knockout_performance(model, setups[task], shared) < 0.1
    needed = {
        c
        for c in cd.all_components(model)
        if min(1 - single[t][c] for t in TASKS) >= 0.2
    }
    assert needed == {C("1.3"), C("MLP0")}
    restores = {
        (L, h)
        for L in range(model.cfg.n_layers)
        for h in range(model.cfg.n_heads)
        if min(float(patched[t]["heads"][L, h]) for t in TASKS) >= 0.2
    }
    assert restores == {(1, 3)}
    assert min(1 - single[t][C("MLP1")] for t in TASKS) < 0.2


# -- section 9 ----------------------------------------------------------------------
def _numerals_edit(model, data, heads):
    fit_on = [data["numerals"].clean, data["numerals"].random]
    return surgery.fit_member_shift(model, heads, fit_on, shift=-2)


def _transfer(model, data, heads):
    edit = _numerals_edit(model, data, heads)
    fresh, _ = study.build_task_data(model, seed=7)
    return {t: surgery.sequence_effect(model, edit, fresh[t].clean) for t in TASKS}


def test_section_9_a_numerals_only_edit_on_three_models(toy, hand, separate):
    model, data, _ = toy
    h, hd = hand
    assert all(e["shifted_after"] == 1.0 for e in _transfer(h, hd, [hb.MOVER]).values())
    toy_t = _transfer(model, data, roles.carriers(model, data))
    assert toy_t["numerals"]["shifted_after"] == 1.0
    assert toy_t["number_words"]["shifted_after"] >= 0.9
    assert toy_t["months"]["shifted_after"] >= 0.9
    s, sd = separate
    sep = _transfer(s, sd, roles.carriers(s, sd))
    assert sep["numerals"]["shifted_after"] == 1.0
    assert (
        sep["number_words"]["shifted_after"] == 0
        and sep["months"]["shifted_after"] == 0
    )


def test_section_9_the_shared_carrier_alone_and_members_outside_sequences(toy):
    model, data, _ = toy
    edit = _numerals_edit(model, data, [C("1.3")])
    fresh, _ = study.build_task_data(model, seed=7)
    for task in TASKS:
        assert (
            surgery.sequence_effect(model, edit, fresh[task].clean)["shifted_after"]
            >= 0.9
        )
    everywhere = _numerals_edit(model, data, roles.carriers(model, data))
    for task in TASKS:
        outside = surgery.member_outside_dataset(
            model.tokenizer, task, n=study.N_PROMPTS, seed=5
        )
        change = surgery.distribution_change(model, everywhere, outside.tokens, "all")
        assert 0.8 < change["same_top1"] < 0.95  # "about one prediction in eight"
    plain = surgery.non_sequence_dataset(model.tokenizer, n=study.N_PROMPTS, seed=5)
    assert (
        surgery.distribution_change(model, everywhere, plain.tokens, "all")["mean_kl"]
        == 0
    )


# -- section 10 ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def three(toy, hand, separate):
    model, data, _ = toy
    out = {}
    for label, (m, d) in {
        "hand-built": hand,
        "toy-seq": (model, data),
        "toy-seq-separate": separate,
    }.items():
        out[label] = (
            m,
            d,
            rep.member_streams(m, d),
            roles.strongest_carrier(m, d).layer,
        )
    return out


def test_section_10_cosines(three):
    layers = {label: v[3] for label, v in three.items()}
    assert layers == {"hand-built": 0, "toy-seq": 1, "toy-seq-separate": 1}
    for label, (_, _, streams, L) in three.items():
        c = rep.centre_by_format(streams)[L]
        for g in (1, 2):
            same = float(rep.cosine_by_layer(c[None, 0], c[None, g]))
            diff = float(rep.mismatched_cosine(c[None, 0], c[None, g]))
            if label == "hand-built":
                assert same > 0.999
            elif label == "toy-seq":
                assert same > 0.7 and diff < 0
            else:
                assert same < 0.2


def test_section_10_probe_and_its_control(three):
    m, d, _, L = three["toy-seq"]
    probe = rep.value_probe_transfer(m, d)
    control = rep.value_probe_transfer(m, d, shuffled=True)
    assert probe[L]["number_words"] > 0.5 and probe[L]["months"] > 0.5
    for depth in control:
        assert depth["number_words"] <= 0.1 and depth["months"] <= 0.1
    hm, hd, _, hL = three["hand-built"]
    assert all(v == 1.0 for v in rep.value_probe_transfer(hm, hd)[hL].values())
    sm, sd, _, sL = three["toy-seq-separate"]
    at = rep.value_probe_transfer(sm, sd)[sL]
    assert at["number_words"] <= 0.15 and at["months"] <= 0.15


def test_section_10_value_subspace_patching(three):
    for label, (m, d, streams, L) in three.items():
        basis = rep.value_subspace(streams[L, 0])
        control = rep.random_subspace(basis.shape[0], m.cfg.d_model)
        for task in TASKS:
            e = rep.subspace_patch_effect(
                m, d["numerals"].clean, d[task].clean, L, basis
            )
            r = rep.subspace_patch_effect(
                m, d["numerals"].clean, d[task].clean, L, control
            )
            assert r["source"] == 0 and r["own"] >= 0.95, (label, task)
            if label != "toy-seq-separate" or task == "numerals":
                assert e["source"] >= 0.95, (label, task)
            else:
                assert e["source"] == 0, (label, task)


def test_section_10_the_mean_step_and_steering(three):
    m, d, streams, L = three["toy-seq"]
    values = streams[L, 0]
    steps = values[1:] - values[:-1]
    assert torch.allclose(steps.mean(0), (values[-1] - values[0]) / 11, atol=1e-5)
    assert 0.01 < float(steps.mean(0).norm() / steps.norm(dim=-1).median()) < 0.5
    for label, (m, d, streams, L) in three.items():
        for task in TASKS:
            r = rep.step_steering(m, d[task].clean, streams[L, 0], L)
            if label == "hand-built":
                assert r["plus_two"] == 1.0, (label, task)
            elif label == "toy-seq" or task == "numerals":
                assert r["plus_two"] >= 0.8, (label, task)
            else:
                assert r["plus_two"] <= 0.2, (label, task)


# -- the hand-built transformer: every method finds what was built ---------------------
def test_every_method_recovers_the_hand_built_circuit(hand):
    h, hd = hand
    d = hd["numerals"]
    to_last = roles.attention_to_members(h, d.clean)[..., -1]
    assert to_last[0, 0] > 0.99 and abs(float(to_last[1, 1]) - 0.25) < 0.01
    patched = study.patching_results(h, d)["heads"]
    planted = {(c.layer, c.head) for c in hb.PLANTED_CIRCUIT}
    for L in range(2):
        for head in range(2):
            want = 1.0 if (L, head) in planted else 0.0
            assert abs(float(patched[L, head]) - want) < 0.01
    setup = cd.ablation_setup(h, d.clean, d.random)
    for comp, kept in cd.single_ablation_scores(h, setup).items():
        assert (kept < 0.05) if comp in hb.PLANTED_CIRCUIT else (kept > 0.95)
    loop = cd.iterative_prune(
        lambda x: cd.visit_order(h, x),
        lambda c: cd.circuit_performance(h, setup, c),
    )
    assert loop == set(hb.PLANTED_CIRCUIT)


# -- the science functions themselves ---------------------------------------------------
def test_value_probe_reads_a_planted_code():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(12, 16, generator=g)  # as many directions as values need
    values = torch.arange(12).repeat(20)
    x = codes[values] + 0.1 * torch.randn(240, 16, generator=g)
    w = rep.fit_value_probe(x - x.mean(0), values, ridge=1e-3)
    assert (rep.probe_values(w, x - x.mean(0)) == values).float().mean() == 1.0


def test_value_subspace_keeps_the_directions_that_explain_the_variance():
    means = torch.zeros(12, 6)
    means[:, 0] = torch.arange(12.0)  # one direction holds all of it
    basis = rep.value_subspace(means)
    assert basis.shape == (1, 6) and abs(float(basis[0, 0])) == pytest.approx(1.0)
    assert torch.allclose(
        rep.random_subspace(3, 6) @ rep.random_subspace(3, 6).T, torch.eye(3), atol=1e-5
    )


def test_partner_rows_pick_another_value_with_a_successor():
    source = torch.tensor([3, 3, 11, 5])
    target = torch.tensor([3, 5, 5, 3])
    partner = rep.partner_rows(source, target)
    assert all(
        int(source[p]) != int(t) and int(source[p]) < 11
        for p, t in zip(partner, target, strict=True)
    )


def test_ablation_values():
    ref = torch.arange(24.0).reshape(4, 3, 2)
    assert attribution.ablation_values("zero", ref, 5).abs().sum() == 0
    assert torch.equal(attribution.ablation_values("mean", ref, 5)[3], ref.mean(0))
    rows = attribution.ablation_values("resample", ref, 5, seed=1)
    assert all(any(torch.equal(r, q) for q in ref) for r in rows)
    with pytest.raises(ValueError):
        attribution.ablation_values("noise", ref, 5)


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
