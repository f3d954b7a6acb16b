"""Lesson 04's explorers compute what they draw, for any task and component."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from conftest import widget_redraws

import neuralcircuits.teaching.sequence_circuits.widgets as ex
from neuralcircuits.science import circuit_study as study
from neuralcircuits.science import sequences
from neuralcircuits.teaching import figures


@pytest.fixture(scope="module")
def data(model):
    return study.build_task_data(model, n=12)[0]


@pytest.fixture(scope="module")
def results(model, data):
    return {
        t: study.patching_results(model, d, progress=False) for t, d in data.items()
    }


def test_attention_view(model, data):
    ds = data["months"].clean
    words, pattern = study.attention_view(model, ds, 3, 0, 1)
    assert len(words) == ds.tokens.shape[1] == pattern.shape[0] == pattern.shape[1]
    assert torch.allclose(pattern.sum(-1), torch.ones(len(words)), atol=1e-4)
    assert torch.triu(pattern, 1).abs().max() < 1e-6  # causal
    last = sequences.members("months")[int(ds.member_ids[3, -1])]
    assert words[int(ds.member_pos[3, -1])].strip() == last
    fig = ex.draw_attention(words, pattern, ds.member_pos[3].tolist(), "test")
    assert len(fig.axes) == 3  # the final row's bars, the pattern, its colorbar
    assert figures.figure_problems(fig) == []


def test_patching_results_are_normalised(model, results):
    res = results["numerals"]
    L = model.cfg.n_layers
    assert res["clean"] > 0 > res["corrupted"]
    assert res["heads"].shape == (L, model.cfg.n_heads)
    # patching the whole residual stream at the last member position restores everything
    resid = res["residual stream"]
    assert resid.shape == (L, res["tokens"].shape[0])
    assert float(resid[0].max()) == pytest.approx(1.0, abs=1e-3)
    # nothing at an earlier member's position differs between clean and corrupted
    first = 5  # the first member's position (BOS, word, was, verb, in)
    assert resid[:, first].abs().max() < 1e-3
    assert res["MLP output, all positions"].shape == (L,)


@pytest.mark.parametrize("component", ex.COMPONENTS)
@pytest.mark.parametrize("by_pos", [False, True])
def test_patching_view_every_component(model, results, component, by_pos):
    matrix, rows, cols, title = ex.patching_view(results["months"], component, by_pos)
    assert matrix.shape == (len(rows), len(cols)) and title
    if component == "heads" and by_pos:
        assert len(rows) == model.cfg.n_layers * model.cfg.n_heads
    fig = ex.draw_patching(matrix, rows, cols, title)
    assert fig.axes
    assert figures.figure_problems(fig) == []  # fits the column, reads at 100%


def test_patching_view_rejects_unknown_component(results):
    with pytest.raises(ValueError, match="component must be one of"):
        ex.patching_view(results["months"], "embedding", False)


def test_widgets_redraw_when_a_control_moves(model, data, results):
    assert widget_redraws(ex.attention_explorer(model, data), "head", 1) == 1
    assert (
        widget_redraws(ex.patching_explorer(results, model), "by position", True) == 1
    )
