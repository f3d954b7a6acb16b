"""How lesson 04's study scales to a model as large as GPT-2 small: prompts, columns, notices."""

from unittest import mock

import torch

from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import sequences
from neuralcircuits.science import toy_seq as ts


class Large:
    """A stand-in with GPT-2 small's size, for the choices that depend on size alone."""

    class cfg:
        d_model, n_layers = 768, 12


def test_analysis_rows_keep_everything_on_a_small_model_and_spread_templates_on_a_large_one():
    small = ts.load()
    data, _ = study.build_task_data(small, n=24, filter_rows=False)
    assert len(study.analysis_rows(small, data["numerals"], "patching")) == 24
    rows = study.analysis_rows(Large, data["numerals"], "patching")
    assert len(rows) == study.ANALYSIS_PROMPTS["patching"]
    counts = {t: rows.clean.templates.count(t) for t in sequences.VERBS}
    assert max(counts.values()) - min(counts.values()) <= 1
    # clean, corrupted and random rows stay aligned
    assert torch.equal(rows.clean.answers, rows.corrupted.answers)
    assert rows.clean.prompts[0] in data["numerals"].clean.prompts


def test_a_section_over_a_minute_says_so_first(monkeypatch, capsys, tmp_path):
    model = ts.load()
    data, _ = study.build_task_data(model, n=6, filter_rows=False)
    monkeypatch.setitem(study.SECTION_COST, "pruning", 1000.0)
    monkeypatch.setattr(study, "forward_seconds", lambda model, data: 0.5)
    monkeypatch.setenv("NEURALCIRCUITS_CACHE", str(tmp_path))
    assert study.announce(model, data["numerals"], "pruning") == 500.0
    said = capsys.readouterr().out
    assert "about 8 minutes" in said
    assert str(tmp_path) in said.replace("\n", " ")  # where a second run reads from
    assert max(len(line) for line in said.splitlines()) <= 78
    monkeypatch.setenv("NEURALCIRCUITS_CACHE", "off")
    study.announce(model, data["numerals"], "pruning")
    assert "second run" not in capsys.readouterr().out  # no cache, no promise
    monkeypatch.setitem(study.SECTION_COST, "surgery", 1000.0)
    monkeypatch.setenv("NEURALCIRCUITS_CACHE", str(tmp_path))
    study.announce(model, data["numerals"], "surgery")
    said = capsys.readouterr().out
    assert "about 8 minutes" in said  # a section without bars or cache says no more
    assert "Progress bars" not in said and "second run" not in said
    monkeypatch.setattr(study, "forward_seconds", lambda model, data: 0.01)
    study.announce(model, data["numerals"], "pruning")
    assert capsys.readouterr().out == ""  # ten seconds: nothing to say


def test_heads_by_position_on_a_large_model_patch_the_changed_and_final_positions(
    model,
):
    # no more prompts than a large model's patching keeps, so the rows are the same
    n = study.ANALYSIS_PROMPTS["patching"]
    data, _ = study.build_task_data(model, n=n, filter_rows=False)
    d = data["numerals"]
    clean, corrupted = d.clean.tokens, d.corrupted.tokens
    assert study.by_position_columns(model, clean, corrupted) is None  # toy-seq: all
    differ = (clean != corrupted).any(0).nonzero().flatten().tolist()
    kept = study.by_position_columns(Large, clean, corrupted)
    assert kept == sorted({*differ, clean.shape[1] - 1})
    assert len(kept) < clean.shape[1] - differ[0]  # columns after the change are cut

    full = study.patching_results(model, d, progress=False, cache=False)
    with mock.patch.object(study, "is_large", lambda m: True):
        cut = study.patching_results(model, d, progress=False, cache=False)
    by_pos, want = cut["heads by position"], full["heads by position"]  # [L, pos, H]
    skipped = [p for p in range(clean.shape[1]) if p not in kept]
    assert by_pos[:, skipped].isnan().all()
    assert torch.allclose(by_pos[:, kept], want[:, kept])
    assert torch.equal(cut["heads"], full["heads"])  # the other sweeps are whole


def test_edits_use_every_prompt_on_a_small_model_and_24_on_a_large_one():
    small = ts.load()
    assert study.analysis_size(small, "edits") == study.N_PROMPTS
    assert study.analysis_size(Large, "edits") == study.ANALYSIS_PROMPTS["edits"] == 24
    data, _ = study.build_task_data(small, n=30, filter_rows=False)
    rows = study.analysis_rows(Large, data["months"], "edits")
    assert len(rows) == 24
    assert {rows.clean.templates.count(t) for t in sequences.VERBS} == {8}


def test_each_model_runs_a_small_model_on_one_thread_and_restores_the_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = [
            (label, torch.get_num_threads())
            for label, _ in study.each_model({"toy": (ts.load(), None)})
        ]
        assert seen == [("toy", 1)]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
