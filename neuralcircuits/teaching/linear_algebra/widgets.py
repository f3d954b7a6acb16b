"""Pictures and explorers for lesson 01, the linear algebra of MLPs.

The ``draw_*`` and ``plot_*`` functions are plain matplotlib (a unit test can
call them); the ``*_explorer`` functions wire them to ipywidgets sliders.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from neuralcircuits.science import analogies, linear_maps, toy_classifier
from neuralcircuits.science.toy_classifier import ToyMLP
from neuralcircuits.teaching import figures

CLASS_COLOURS = ("tab:blue", "tab:orange")
FORMAT_COLOURS = {"numeral": "tab:blue", "word": "tab:red", "month": "tab:green"}


def _square(ax: Axes, extent: float) -> None:
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)


def _draw_grid(ax: Axes, lines: torch.Tensor, **style) -> None:
    for line in lines:  # [n_points, 2]
        ax.plot(line[:, 0], line[:, 1], **style)


def _scatter_classes(
    ax: Axes, X: torch.Tensor, y: torch.Tensor, size: float = 12
) -> None:
    for label, colour in enumerate(CLASS_COLOURS):
        points = X[y == label]
        ax.scatter(
            points[:, 0],
            points[:, 1],
            s=size,
            color=colour,
            edgecolor="white",
            linewidth=0.3,
            label=f"class {label}",
            zorder=3,
        )


def draw_matrix_grid(ax: Axes, M: torch.Tensor, extent: float = 3.0) -> None:
    """Draw the unit grid, its image under the 2x2 matrix M and M's basis vectors."""
    lines = linear_maps.grid_lines(extent=2.0, n_lines=9)
    _draw_grid(ax, lines, color="lightgrey", lw=0.8)
    _draw_grid(
        ax, linear_maps.apply_matrix(M, lines), color="tab:purple", lw=1.0, alpha=0.7
    )
    for column, (colour, name) in enumerate(
        [("tab:green", "M e₁"), ("tab:red", "M e₂")]
    ):
        vx, vy = M[:, column].tolist()
        ax.annotate(
            "",
            xy=(vx, vy),
            xytext=(0, 0),
            arrowprops=dict(arrowstyle="-|>", color=colour, lw=2.5),
        )
        ax.text(vx * 1.08, vy * 1.08, name, color=colour, fontsize=13)  # 13 pt
    _square(ax, extent)
    (a, b), (c, d) = M.tolist()
    ax.set_title(
        f"M = [[{a:.2f}, {b:.2f}], [{c:.2f}, {d:.2f}]]\ndet = {torch.det(M):.2f}",
        fontsize=12,
    )


def draw_half_plane(
    ax: Axes,
    w: torch.Tensor,
    b: float,
    X: torch.Tensor,
    y: torch.Tensor,
    extent: float = 3.0,
) -> tuple[float, float]:
    """Shade where ReLU(w·x + b) > 0 over the data; return the active fraction of each class."""
    n = 200
    ticks = torch.linspace(-extent, extent, n)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    points = torch.stack([gx, gy], -1)  # [n, n, 2]
    active = toy_classifier.half_plane_mask(points, w, b).float()
    ax.contourf(gx, gy, active, levels=[0.5, 1.5], colors=["gold"], alpha=0.3)
    if w.norm() > 0:
        ax.contour(gx, gy, points @ w + b, levels=[0], colors="k", linewidths=1)
        foot = -b * w / w.norm() ** 2  # the boundary point closest to the origin
        ax.annotate(
            "",
            xy=(foot + w / w.norm()).tolist(),
            xytext=foot.tolist(),
            arrowprops=dict(arrowstyle="-|>", color="k", lw=2),
        )
    _scatter_classes(ax, X, y)
    _square(ax, extent)
    mask = toy_classifier.half_plane_mask(X, w, b)
    class0, class1 = (float(mask[y == label].float().mean()) for label in (0, 1))
    fractions = (class0, class1)
    ax.set_title(
        f"active on {fractions[0]:.0%} of class 0,\n{fractions[1]:.0%} of class 1",
        fontsize=12,
    )
    return fractions


def weight_from_angle(angle_deg: float, length: float) -> torch.Tensor:
    """Return the 2-D weight vector with this direction (degrees) and length."""
    a = math.radians(angle_deg)
    return torch.tensor([length * math.cos(a), length * math.sin(a)])


def plot_neuron_half_planes(model: ToyMLP, X: torch.Tensor, y: torch.Tensor) -> Figure:
    """One panel per hidden neuron of the toy MLP: its active half-plane over the data."""
    W, b = model.hidden.weight.detach(), model.hidden.bias.detach()
    n = len(W)
    ncols = min(n, 3)  # three panels a row: each about 2.8 inches, readable
    nrows = math.ceil(n / ncols)
    fig, axes = figures.figure(nrows, ncols, height=2.9 * nrows, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_visible(False)
            continue
        fractions = draw_half_plane(ax, W[k], float(b[k]), X, y)
        ax.set_title(
            f"neuron {k}: on for {fractions[0]:.0%} / {fractions[1]:.0%}", fontsize=12
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("each neuron's active half-plane (share of class 0 / class 1)")
    return fig


def plot_warp(model: ToyMLP, X: torch.Tensor, y: torch.Tensor) -> Figure:
    """Input plane, its image with the ReLU removed, and the feature plane the MLP makes."""
    lines = linear_maps.grid_lines(extent=2.5, n_lines=11, n_points=121)
    fig, axes = figures.figure(1, 3, height=3.6)
    panels = [
        ("input plane", lines, X),
        (
            "same weights,\nReLU removed",
            toy_classifier.linear_part_map(model, lines),
            toy_classifier.linear_part_map(model, X),
        ),
        (
            "feature plane\n(with ReLU)",
            toy_classifier.feature_map(model, lines),
            toy_classifier.feature_map(model, X),
        ),
    ]
    for ax, (title, grid, points) in zip(axes, panels, strict=True):
        _draw_grid(ax, grid, color="tab:purple", lw=0.6, alpha=0.5)
        _scatter_classes(ax, points, y, size=8)
        ax.set_title(title, fontsize=12)
        ax.set_aspect("equal", adjustable="datalim")
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_major_locator(MaxNLocator(4))
    w, b = toy_classifier.readout_line(model)
    F = toy_classifier.feature_map(model, X)
    xs = torch.linspace(float(F[:, 0].min()), float(F[:, 0].max()), 2)
    if abs(float(w[1])) > 1e-6:
        axes[2].plot(xs, -(w[0] * xs + b) / w[1], color="k", lw=2, label="readout = 0")
    fig.legend(
        *axes[2].get_legend_handles_labels(),
        loc="outside lower center",
        ncol=3,
        frameon=False,
        markerscale=2,
    )
    return fig


def plot_relu_bases(angle_deg: float = 30.0) -> Figure:
    """Points of the plane, ReLU in the neuron basis, ReLU in a basis turned by angle_deg."""
    lines = linear_maps.grid_lines(extent=2.0, n_lines=9, n_points=81)
    R = linear_maps.rotation_2d(math.radians(angle_deg))
    panels = [
        ("identity: the same\nin every basis", lines),
        ("ReLU in the\nneuron basis", torch.relu(lines)),
        (
            f"ReLU in a basis\nturned {angle_deg:.0f}°",
            linear_maps.relu_in_basis(lines, R),
        ),
    ]
    fig, axes = figures.figure(1, 3, height=3.3)
    for ax, (title, grid) in zip(axes, panels, strict=True):
        _draw_grid(ax, grid, color="tab:purple", lw=0.8, alpha=0.7)
        _square(ax, 2.3)
        ax.set_xticks([-2, 0, 2])
        ax.set_yticks([-2, 0, 2])
        ax.set_title(title, fontsize=12)
    for k in range(2):  # the rotated basis directions on the last panel
        vx, vy = R.T[k].tolist()
        axes[2].annotate(
            "",
            xy=(1.8 * vx, 1.8 * vy),
            xytext=(0, 0),
            arrowprops=dict(arrowstyle="-|>", color="tab:red", lw=2),
        )
    return fig


def plot_analogies(E: torch.Tensor, f: str = "numeral", g: str = "word") -> Figure:
    """Tokens of formats f and g in the plane of the f -> g direction, one arrow per value."""
    P = analogies.analogy_plane(E, f, g)  # [n_tokens, 2]
    fig, ax = figures.figure(height=6.0, width=7.5)
    points, names, colours = [], [], []
    for name in (f, g):
        tokens = analogies.FORMATS[name]
        idx = [analogies.VOCAB.index(t) for t in tokens]
        ax.scatter(P[idx, 0], P[idx, 1], color=FORMAT_COLOURS[name], s=30, label=name)
        points += [P[i].tolist() for i in idx]
        names += list(tokens)
        colours += [FORMAT_COLOURS[name]] * len(tokens)
    pad = 0.12 * (P.max(0).values - P.min(0).values)  # room for the labels
    ax.set_xlim(float(P[:, 0].min() - pad[0]), float(P[:, 0].max() + pad[0]))
    ax.set_ylim(float(P[:, 1].min() - pad[1]), float(P[:, 1].max() + pad[1]))
    fig.canvas.draw()  # fix the layout before placing labels in pixels
    figures.label_points(ax, points, names, colours)
    for F, G in zip(analogies.FORMATS[f], analogies.FORMATS[g], strict=True):
        start, end = analogies.VOCAB.index(F), analogies.VOCAB.index(G)
        ax.annotate(
            "",
            xy=P[end].tolist(),
            xytext=P[start].tolist(),
            arrowprops=dict(arrowstyle="-|>", color="grey", lw=1),
        )
    ax.set_xlabel(f"mean {g} - {f} direction", fontsize=12)
    ax.set_ylabel("main value direction", fontsize=12)
    ax.set_title(f"E({g}) - E({f}): one arrow per value", fontsize=13)
    ax.legend(loc="best", fontsize=11)
    return fig


def matrix_explorer():
    """Sliders for rotation, scale and shear; redraws the grid and basis vectors M e₁, M e₂."""
    import ipywidgets as widgets

    def show(angle=30.0, scale_x=1.0, scale_y=1.0, shear=0.0):
        _, ax = plt.subplots(figsize=(5.5, 5.5))
        draw_matrix_grid(
            ax, linear_maps.matrix_from_controls(angle, scale_x, scale_y, shear)
        )
        plt.show()

    return widgets.interactive(
        show,
        angle=widgets.FloatSlider(
            value=30, min=-180, max=180, step=5, description="angle °"
        ),
        scale_x=widgets.FloatSlider(
            value=1, min=-2, max=2, step=0.1, description="scale x"
        ),
        scale_y=widgets.FloatSlider(
            value=1, min=-2, max=2, step=0.1, description="scale y"
        ),
        shear=widgets.FloatSlider(
            value=0, min=-1.5, max=1.5, step=0.1, description="shear"
        ),
    )


def neuron_explorer(X: torch.Tensor, y: torch.Tensor):
    """Sliders for a neuron's weight direction, length and bias; shades its active half-plane."""
    import ipywidgets as widgets

    def show(angle=45.0, length=1.0, bias=0.0):
        _, ax = plt.subplots(figsize=(5.5, 5.5))
        draw_half_plane(ax, weight_from_angle(angle, length), bias, X, y)
        plt.show()

    return widgets.interactive(
        show,
        angle=widgets.FloatSlider(
            value=45, min=-180, max=180, step=5, description="w angle °"
        ),
        length=widgets.FloatSlider(
            value=1, min=0.1, max=3, step=0.1, description="|w|"
        ),
        bias=widgets.FloatSlider(
            value=0, min=-3, max=3, step=0.1, description="bias b"
        ),
    )
