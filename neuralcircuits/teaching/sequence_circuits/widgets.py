"""Explorers for lesson 04: attention patterns and activation patching, per task.

The ``*_view`` and ``draw_*`` functions are plain computation and matplotlib
(unit tests call them); ``attention_explorer`` and ``patching_explorer`` wire
them to ipywidgets dropdowns and sliders.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from neuralcircuits.science import sequences
from neuralcircuits.science.circuit_study import (
    TaskData,
    attention_view,
)
from neuralcircuits.teaching import figures

COMPONENTS = ("residual stream", "attention output", "MLP output", "heads")


# ---------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------
def draw_attention(
    words: list[str], pattern: torch.Tensor, member_pos: list[int], title: str
) -> Figure:
    """The final position's attention over the prompt, members highlighted, above the full pattern."""
    rows_in = 0.21 * len(words)  # one token a row, 15 px text in 21 px
    fig, (top, bottom) = figures.figure(
        2, 1, height=3.4 + rows_in, gridspec_kw={"height_ratios": [1.5, rows_in]}
    )
    weights = pattern.numpy()  # matplotlib reads numpy, not torch tensors
    last = weights[-1]
    colours = ["#F0AC00" if i in member_pos else "#888888" for i in range(len(words))]
    labels = [repr(w)[1:-1] for w in words]  # show spaces and newlines as typed
    top.bar(range(len(words)), last, color=colours)
    top.set_xticks(range(len(words)), labels, rotation=90)
    top.set_xlim(-0.5, len(words) - 0.5)
    top.set_ylabel("attention")
    top.set_ylim(0, 1)
    top.set_title(f"{title}: where the final position looks\n(members in gold)")
    figures.heatmap(
        bottom, weights, labels, labels, "attention", cmap="viridis", vmin=0, vmax=1
    )
    bottom.set_xlabel("key (attended to)")
    bottom.set_ylabel("query")
    return fig


def attention_explorer(model: Any, data: dict[str, TaskData]):
    """Dropdowns for task, prompt, layer and head; the pattern redrawn live: a widget to display."""
    import ipywidgets as widgets

    tasks = list(data)
    controls = {
        "task": widgets.Dropdown(options=tasks, value=tasks[0], description="task"),
        "prompt": widgets.IntSlider(
            0, 0, len(data[tasks[0]]) - 1, description="prompt"
        ),
        "layer": widgets.IntSlider(0, 0, model.cfg.n_layers - 1, description="layer"),
        "head": widgets.IntSlider(0, 0, model.cfg.n_heads - 1, description="head"),
    }
    out = widgets.Output()

    def redraw(*_):
        v = {k: c.value for k, c in controls.items()}
        ds = data[v["task"]].clean
        words, pattern = attention_view(model, ds, v["prompt"], v["layer"], v["head"])
        with out:
            out.clear_output(wait=True)
            draw_attention(
                words,
                pattern,
                ds.member_pos[v["prompt"]].tolist(),
                f"head {v['layer']}.{v['head']}, {v['task']}",
            )
            plt.show()

    for c in controls.values():
        c.observe(redraw, names="value")
    redraw()
    return widgets.VBox(
        [
            widgets.HBox(list(controls.values())[:2]),
            widgets.HBox(list(controls.values())[2:]),
            out,
        ]
    )


# ---------------------------------------------------------------------------
# Patching
# ---------------------------------------------------------------------------
def patching_view(
    results: dict[str, Any],
    component: str,
    by_pos: bool,
    words: list[str] | None = None,
) -> tuple[torch.Tensor, list[str], list[str], str]:
    """(matrix, row labels, column labels, title) for one component of a task's patching."""
    if component not in COMPONENTS:
        raise ValueError(f"component must be one of {COMPONENTS}, got {component!r}")
    n_pos = results["residual stream"].shape[1]
    cols = words or [str(p) for p in range(n_pos)]
    if component == "heads":
        if by_pos:
            m = results["heads by position"]  # [L, pos, H]
            L, P, H = m.shape
            matrix = m.permute(0, 2, 1).reshape(L * H, P)
            rows = [f"{layer}.{h}" for layer in range(L) for h in range(H)]
            title = "each head patched at one position"
            if matrix.isnan().any():  # a large model skips some columns
                title += " (blank: not patched)"
            return matrix, rows, cols, title
        m = results["heads"]  # [L, H]
        return (
            m,
            [f"layer {i}" for i in range(m.shape[0])],
            [f"head {h}" for h in range(m.shape[1])],
            "each head patched at every position",
        )
    if component == "residual stream" or by_pos:
        m = results[component]
        what = (
            "before each layer" if component == "residual stream" else "of each layer"
        )
        return (
            m,
            [f"layer {i}" for i in range(m.shape[0])],
            cols,
            f"{component} {what}, patched at one position",
        )
    m = results[f"{component}, all positions"][:, None]
    return (
        m,
        [f"layer {i}" for i in range(m.shape[0])],
        ["all positions"],
        f"{component} of each layer, patched at every position",
    )


def draw_patching(
    matrix: torch.Tensor,
    rows: list[str],
    cols: list[str],
    title: str,
    ax=None,
    colorbar: bool = True,
) -> Figure:
    """A heatmap of normalised patching scores (blue: restores the clean answer)."""
    if ax is None:
        height = min(9.0, 2.2 + 0.3 * len(rows))
        width = min(figures.COLUMN_IN, max(4.5, 0.3 * len(cols) + 3.5))
        fig, ax = figures.figure(height=height, width=width)
    else:
        fig = ax.figure
    figures.heatmap(
        ax,
        matrix,
        rows,
        cols,
        "share of clean\nlogit diff restored" if colorbar else None,
        colorbar=colorbar,
    )
    ax.set_title(title)
    return fig


def patching_explorer(results: dict[str, dict[str, Any]], model: Any):
    """Dropdowns for task and component and a by-position toggle; the heatmap redrawn live: a widget to display."""
    import ipywidgets as widgets

    tok = sequences.get_tokenizer(model)
    tasks = list(results)
    controls = {
        "task": widgets.Dropdown(options=tasks, value=tasks[0], description="task"),
        "component": widgets.Dropdown(
            options=list(COMPONENTS), value="heads", description="component"
        ),
        "by_pos": widgets.Checkbox(value=False, description="by position"),
    }
    out = widgets.Output()

    def redraw(*_):
        v = {k: c.value for k, c in controls.items()}
        res = results[v["task"]]
        words = [tok.decode([int(t)]) for t in res["tokens"]]
        matrix, rows, cols, title = patching_view(
            res, v["component"], v["by_pos"], words
        )
        with out:
            out.clear_output(wait=True)
            draw_patching(matrix, rows, cols, f"{v['task']}: {title}")
            plt.show()

    for c in controls.values():
        c.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(controls.values())), out])
