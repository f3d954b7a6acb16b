"""The on-disk result cache: a hit for the same model, data, arguments and code; a miss when any changes."""

import torch

from neuralcircuits.science import disk_cache
from neuralcircuits.science import toy_seq as ts


def _model(seed=3):
    return ts.build_model(
        ts.read_config()["model"], ts.load_tokenizer(), seed=seed
    ).eval()


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"value": torch.tensor([float(self.calls)])}


def test_hit_and_misses(tmp_path, monkeypatch):
    model = _model()
    data = [torch.arange(6).view(2, 3), "numerals"]
    compute = Counter()

    def get(model=model, data=data, args=None):
        return disk_cache.cached(
            "t", model, data, args or {"k": 1}, compute, folder=tmp_path
        )

    first = get()
    assert get()["value"].item() == first["value"].item() and compute.calls == 1  # hit
    get(data=[torch.arange(6).view(2, 3) + 1, "numerals"])  # other tokens
    assert compute.calls == 2
    get(args={"k": 2})  # other arguments
    assert compute.calls == 3
    get(model=_model(seed=4))  # other weights
    assert compute.calls == 4
    with torch.no_grad():  # the same model, one weight edited in place
        next(model.parameters())[0].add_(1.0)
    get()
    assert compute.calls == 5
    get()
    assert compute.calls == 5  # and that edited model is a hit again
    monkeypatch.setattr(disk_cache, "_code_version", "another version of the science")
    get()
    assert compute.calls == 6  # changed code


def test_code_version_covers_every_science_module():
    v = disk_cache.code_version()
    assert len(v) == 32 and v == disk_cache.code_version()


def test_off_and_folder_from_the_environment(tmp_path, monkeypatch):
    model, compute = _model(), Counter()
    monkeypatch.setenv("NEURALCIRCUITS_CACHE", "off")
    assert disk_cache.cache_dir() is None
    disk_cache.cached("t", model, [], {}, compute)
    disk_cache.cached("t", model, [], {}, compute)
    assert compute.calls == 2
    monkeypatch.setenv("NEURALCIRCUITS_CACHE", str(tmp_path))
    assert disk_cache.cache_dir() == tmp_path
    disk_cache.cached("t", model, [], {}, compute)
    disk_cache.cached("t", model, [], {}, compute)
    assert compute.calls == 3 and len(list(tmp_path.glob("t-*.pkl"))) == 1


def test_a_damaged_file_is_computed_again(tmp_path):
    model, compute = _model(), Counter()
    disk_cache.cached("t", model, [], {}, compute, folder=tmp_path)
    (path,) = tmp_path.glob("t-*.pkl")
    path.write_bytes(b"not a pickle")
    disk_cache.cached("t", model, [], {}, compute, folder=tmp_path)
    assert compute.calls == 2


def test_pruning_and_patching_results_are_cached(tmp_path, monkeypatch):
    from neuralcircuits.science import circuit_discovery as cd
    from neuralcircuits.science import circuit_study as study

    monkeypatch.setenv("NEURALCIRCUITS_CACHE", str(tmp_path))
    model = _model()
    data, _ = study.build_task_data(model, n=6, filter_rows=False)
    setup = study.ablation_setup(model, data["numerals"])
    first = cd.prune_circuit(model, setup, progress=False)
    again = cd.prune_circuit(model, setup, progress=False)
    assert again.circuit == first.circuit and again.performance == first.performance
    patched = study.patching_results(model, data["numerals"], progress=False)
    cached = study.patching_results(model, data["numerals"], progress=False)
    assert torch.equal(patched["heads"], cached["heads"])
    kinds = {p.name.rsplit("-", 1)[0] for p in tmp_path.glob("*.pkl")}
    assert kinds == {"ablation-means", "prune", "patching"}
    again_setup = study.ablation_setup(model, data["numerals"])  # means read back
    for comp, mean in setup.means.items():
        assert torch.equal(again_setup.means[comp], mean)


def test_results_remembered_in_memory_until_weights_or_data_change():
    model = _model()
    tokens = torch.arange(6).view(2, 3)
    compute = Counter()
    first = disk_cache.remembered("t", model, tokens, compute)
    assert disk_cache.remembered("t", model, tokens.clone(), compute) is first
    assert compute.calls == 1  # the same values are the same key
    disk_cache.remembered("t", model, tokens + 1, compute)
    assert compute.calls == 2
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # an in-place edit is another model
    disk_cache.remembered("t", model, tokens, compute)
    assert compute.calls == 3
