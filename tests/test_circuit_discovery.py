"""Iterative node pruning, faithfulness, knockout and circuit overlap."""

import pytest
import torch

from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import patching, sequences
from neuralcircuits.science import toy_seq as ts
from neuralcircuits.science.hooks import hook_name
from neuralcircuits.science.patching import Component


@pytest.fixture(scope="module")
def random_model():
    """A toy-seq-shaped model with random weights: pruning must not depend on training."""
    return ts.build_model(ts.read_config()["model"], ts.load_tokenizer(), seed=3).eval()


@pytest.fixture(scope="module")
def data(model):
    return study.build_task_data(model, n=48)[0]


@pytest.fixture(scope="module")
def setups(model, data):
    return {
        t: cd.ablation_setup(model, data[t].clean, data[t].random)
        for t in sequences.TASKS
    }


def test_stacked_ablation_matches_the_patching_module(random_model):
    clean = sequences.make_dataset(random_model, "months", "clean", "done", n=16)
    ref = sequences.make_dataset(random_model, "months", "random", "done", n=16)
    setup = cd.ablation_setup(random_model, clean, ref)
    means = patching.mean_activations(random_model, ref.tokens)
    configs = [[], ["0.1"], ["MLP1", "1.1"], ["0.0", "1.1", "MLP0"]]
    stacked = cd.ablated_logit_diffs(random_model, setup, configs)
    for config, value in zip(configs, stacked, strict=True):
        want = patching.ablate(
            random_model,
            clean.tokens,
            config,
            means,
            lambda lg: sequences.logit_diff(lg, clean),
        )
        assert float(value) == pytest.approx(float(want), abs=1e-4)
    # one configuration per pass gives the same numbers
    one_by_one = cd.ablated_logit_diffs(random_model, setup, configs, max_rows=1)
    assert torch.allclose(stacked, one_by_one, atol=1e-4)


def test_means_are_taken_per_template(random_model):
    clean = sequences.make_dataset(random_model, "numerals", "clean", "all", n=12)
    ref = sequences.make_dataset(random_model, "numerals", "random", "all", n=12)
    setup = cd.ablation_setup(random_model, clean, ref)
    assert setup.group_names == ["born", "done", "lost"]
    born = [i for i, t in enumerate(ref.templates) if t == "born"]
    want = patching.mean_activations(random_model, ref.tokens[born])[
        Component("mlp", 0)
    ]
    assert torch.allclose(setup.means[Component("mlp", 0)][0], want, atol=1e-6)
    assert setup.groups.tolist() == [
        setup.group_names.index(t) for t in clean.templates
    ]


def test_hooked_last_logits_equal_the_model_and_leave_it_clean(random_model):
    tokens = sequences.make_dataset(
        random_model, "numerals", "clean", "lost", n=5
    ).tokens
    with torch.no_grad():
        want = random_model(tokens)[:, -1]
    assert torch.allclose(sequences.last_logits(random_model, tokens), want, atol=1e-5)
    # a hook that ablates nothing changes nothing; the hooked run is one batch
    same = [(hook_name("resid_pre", 1), lambda x, hook: x)]
    got = sequences.last_logits(random_model, tokens, batch_size=2, fwd_hooks=same)
    assert torch.allclose(got, want, atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(random_model(tokens)[:, -1], want)  # no hook left behind


def test_pruning_finds_faithful_circuits_on_toy_seq(model, setups):
    for task, setup in setups.items():
        result = cd.prune_circuit(model, setup, progress=False)
        assert result.performance >= 0.8, task
        assert cd.knockout_performance(model, setup, result.circuit) <= 0.2, task
        assert len(result.circuit) < len(cd.all_components(model))
        removed = [s.component for s in result.steps if s.removed]
        assert set(removed).isdisjoint(result.circuit)
        assert all(s.performance >= 0.8 for s in result.steps if s.removed)


def test_circuits_share_the_carrier_of_the_last_member(model, setups, data):
    circuits = {
        t: cd.prune_circuit(model, s, progress=False).circuit for t, s in setups.items()
    }
    shared = cd.circuit_overlap(circuits)
    assert shared, "the three tasks should share part of their circuits"
    from neuralcircuits.science import head_roles

    att = head_roles.attention_to_members(model, data["numerals"].clean)[..., -1]
    heads = [c for c in shared if c.kind == "head"]
    assert any(float(att[c.layer, c.head]) > 0.5 for c in heads)


def test_visit_order_is_the_papers():
    class Cfg:
        n_layers, n_heads, attn_only = 2, 2, False

    class M:
        cfg = Cfg

    back = [str(c) for c in cd._visit_order(M, "backward")]
    fwd = [str(c) for c in cd._visit_order(M, "forward")]
    assert back == ["MLP1", "1.0", "1.1", "MLP0", "0.0", "0.1"]
    assert fwd == ["0.0", "0.1", "MLP0", "1.0", "1.1", "MLP1"]


def test_overlap_and_formatting():
    a = ["0.1", "4.4", "9.1", "MLP9", "MLP0"]
    b = [Component("head", 9, 1), "0.1", "MLP0", "7.11", "0.1"]
    assert [str(c) for c in cd.shared_components(a, b)] == ["0.1", "MLP0", "9.1"]
    assert cd.circuit_overlap({"a": a, "b": b, "c": ["9.1"]}) == [
        Component("head", 9, 1)
    ]
    assert cd.format_circuit(a) == "heads 0.1, 4.4, 9.1; MLPs 0, 9"
    assert cd.overlap_matrix({"a": a, "b": b}).tolist() == [[5, 3], [3, 4]]
    table = dict(cd.membership_table({"a": a, "b": b}))
    assert table[Component("head", 7, 11)] == [False, True]


def test_paper_circuits_share_the_eight_heads_of_the_reference():
    shared = cd.circuit_overlap({t: cd.paper_circuit(t) for t in sequences.TASKS})
    heads = [str(c) for c in shared if c.kind == "head"]
    assert heads == ["0.1", "4.4", "6.1", "6.6", "6.10", "7.11", "8.8", "9.1"]
    assert len(cd.paper_circuit("number_words")) == 19 + 12


def test_random_component_sets_are_seeded_and_distinct(random_model):
    sets = cd.random_component_sets(random_model, 3, n_draws=20, seed=1)
    assert len(sets) == 20 and all(len(set(s)) == 3 for s in sets)
    assert sets == cd.random_component_sets(random_model, 3, n_draws=20, seed=1)
    assert len({tuple(s) for s in sets}) > 5
    every = set(cd.all_components(random_model))
    assert all(set(s) <= every for s in sets)
    with pytest.raises(ValueError, match="cannot draw"):
        cd.random_component_sets(random_model, 99)


def test_knockout_comparison_matches_single_runs(random_model):
    clean = sequences.make_dataset(random_model, "numerals", "clean", "done", n=12)
    ref = sequences.make_dataset(random_model, "numerals", "random", "done", n=12)
    setup = cd.ablation_setup(random_model, clean, ref)
    circuit = ["0.1", "MLP0"]
    comp = cd.knockout_comparison(random_model, setup, circuit, n_draws=20, seed=2)
    assert len(comp.random) == len(comp.random_sets) == 20
    assert comp.knockout == pytest.approx(
        cd.knockout_performance(random_model, setup, circuit), abs=1e-4
    )
    for s, v in list(zip(comp.random_sets, comp.random, strict=True))[:3]:
        assert v == pytest.approx(
            cd.knockout_performance(random_model, setup, s), abs=1e-4
        )
    assert comp.margin == pytest.approx(comp.random_mean - comp.knockout)
    assert comp.random_std >= 0 and "random sets" in str(comp)


def test_the_loop_shows_a_bar_on_a_model_as_large_as_gpt2_small(capsys):
    def run(n):
        comps = [Component("head", i // 12, i % 12) for i in range(n)]
        return cd.iterative_prune(
            lambda d: comps if d == "backward" else comps[::-1],
            lambda circuit: 1.0 if len(circuit) >= 2 else 0.0,  # keeps any two
        )

    assert len(run(156)) == 2
    assert "the loop: round 1 backward" in capsys.readouterr().err
    assert len(run(6)) == 2
    assert "the loop" not in capsys.readouterr().err  # a small model: no bar
