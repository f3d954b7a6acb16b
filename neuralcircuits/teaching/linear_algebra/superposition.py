"""Pictures and the sparsity slider for lesson 01's superposition section.

Figures follow the course style (at most one notebook column wide, 8.6 in,
text of 11 pt or more, constrained layout); the explorer switches between
toy models trained in advance for each sparsity, so moving it is instant.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neuralcircuits.science import superposition as sp

COLUMN_IN = 8.6  # the notebook column, as in teaching/figures.py
FEATURE_COLOURS = (
    "#58C4DD",
    "#FC6255",
    "#F0AC00",
    "#83C167",
    "#9A72AC",
    "#888888",
    "#E07A5F",
    "#3D405B",
)


def draw_features(ax: Axes, model: sp.ToyModel, title: str | None = None) -> None:
    """Draw each feature's direction W[:, i] in the hidden plane as a labelled arrow."""
    D = sp.feature_directions(model)  # [n_features, 2]
    for i, (x, y) in enumerate(D.tolist()):
        colour = FEATURE_COLOURS[i % len(FEATURE_COLOURS)]
        ax.annotate(
            "",
            xy=(x, y),
            xytext=(0, 0),
            arrowprops=dict(arrowstyle="-|>", color=colour, lw=2.5),
        )
        if (x * x + y * y) ** 0.5 > sp.STORED_NORM:
            ax.annotate(
                str(i),
                (x, y),
                xytext=(1.18 * x, 1.18 * y),
                fontsize=12,
                color=colour,
                ha="center",
                va="center",
            )
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axhline(0, color="#cccccc", lw=0.8, zorder=0)
    ax.axvline(0, color="#cccccc", lw=0.8, zorder=0)
    ax.set_xticks([-1, 0, 1])
    ax.set_yticks([-1, 0, 1])
    ax.tick_params(labelsize=11)
    stored = len(sp.stored_features(model))
    ax.set_title(title or f"sparsity {model.sparsity:g}: {stored} stored", fontsize=13)


def draw_interference(ax: Axes, model: sp.ToyModel) -> None:
    """Draw W^T W as a labelled heatmap: the diagonal is each feature's gain, the rest
    how much feature i leaks into feature j's output before the bias.
    """
    G = sp.interference_matrix(model)
    n = model.n_features
    ax.imshow(G.numpy(), cmap="RdBu", vmin=-1.4, vmax=1.4, interpolation="nearest")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{G[i, j]:+.2f}", ha="center", va="center", fontsize=11)
    ax.set_xticks(range(n), [str(j) for j in range(n)])
    ax.set_yticks(range(n), [str(i) for i in range(n)])
    ax.set_xlabel("feature j", fontsize=12)
    ax.set_ylabel("feature i", fontsize=12)
    ax.tick_params(labelsize=11)
    ax.set_title("interference $W_i \\cdot W_j$", fontsize=13)


def plot_superposition_runs(
    models: dict[float, sp.ToyModel], sparsities: tuple[float, ...] = (0.0, 0.8, 0.9)
) -> Figure:
    """One panel of feature arrows per sparsity, side by side."""
    fig, axes = plt.subplots(
        1, len(sparsities), figsize=(COLUMN_IN - 0.4, 3.3), layout="constrained"
    )
    for ax, s in zip(axes, sparsities, strict=True):
        draw_features(ax, models[s])
    return fig


def plot_superposition(model: sp.ToyModel) -> Figure:
    """Feature arrows (left) and the interference matrix (right) of one toy model."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(COLUMN_IN, 4.0), layout="constrained"
    )
    draw_features(left, model)
    draw_interference(right, model)
    return fig


def superposition_explorer(models: dict[float, sp.ToyModel] | None = None):
    """A sparsity slider: switches between toy models trained in advance, one per sparsity."""
    import ipywidgets as widgets

    models = models or sp.train_toy_models()

    def show(sparsity=0.9):
        plot_superposition(models[sparsity])
        plt.show()

    options = sorted(models)
    return widgets.interactive(
        show,
        sparsity=widgets.SelectionSlider(
            options=options, value=options[-3], description="sparsity"
        ),
    )


def feature_table(models: dict[float, sp.ToyModel]) -> str:
    """A printed table: per sparsity, the stored features, the angles between them, the loss."""
    rows = [f"{'sparsity':>8}  {'stored':<16}{'gaps around the circle':<28}{'loss':>7}"]
    for s, m in models.items():
        angles = " ".join(f"{a:.0f}°" for a in sp.polygon_angles(m))
        stored = str(sp.stored_features(m))
        rows.append(f"{s:>8g}  {stored:<16}{angles:<28}{m.loss:>7.4f}")
    return "\n".join(rows)


def pick(values: torch.Tensor, digits: int = 2) -> list[float]:
    """Round a tensor's values for printing."""
    return [round(v, digits) for v in values.tolist()]
