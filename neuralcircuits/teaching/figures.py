"""Figures the lessons share, sized and labelled to read on a projector."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch

# Colours match the videos (animations/style.py): one colour per idea.
POSITIVE = "#58C4DD"
NEGATIVE = "#FC6255"
OUTPUT = "#F0AC00"
TARGET = "#888888"
OUTCOME_COLOURS = {"found": "#83C167", "dead region": "#FC6255", "other": "#BBBBBB"}

plt.rcParams.update({"figure.dpi": 100, "font.size": 12, "axes.titlesize": 13,
                     "axes.spines.top": False, "axes.spines.right": False})


def plot_function(ax, fn: Callable[[torch.Tensor], torch.Tensor], label: str,
                  colour: str = OUTPUT, x_range: tuple[float, float] = (-2, 2),
                  **style) -> None:
    """Draw a 1-input function (a network or a lambda on [batch, 1] tensors)."""
    x = torch.linspace(*x_range, 401)[:, None]
    with torch.no_grad():
        y = fn(x)
    ax.plot(x.squeeze(1), y.squeeze(1), color=colour, label=label, lw=2.5, **style)
    ax.axhline(0, color="#cccccc", lw=0.8, zorder=0)
    ax.axvline(0, color="#cccccc", lw=0.8, zorder=0)
    ax.set_xlabel("x")


def hidden_units_figure(net, title: str, output_label: str):
    """Left: each hidden unit's activation; right: the network's output."""
    w_in, w_out = (w.detach() for w in net.weights)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, w in enumerate(w_in[:, 0]):
        colour = POSITIVE if w > 0 else NEGATIVE
        plot_function(left, lambda x, w=w: torch.relu(w * x),
                      f"unit {i}: ReLU({w:.2f}·x), out weight {w_out[0, i]:.2f}", colour)
    left.set_title("hidden units")
    left.legend(loc="upper center", fontsize=10)
    plot_function(right, net, output_label)
    right.set_title(title)
    right.legend(loc="upper center", fontsize=10)
    fig.tight_layout()
    return fig


def outcomes_figure(counts: dict[str, dict[str, int]], title: str):
    """Stacked bars: for each function, how many seeds found the construction."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    names = list(counts)
    bottom = [0] * len(names)
    for outcome, colour in OUTCOME_COLOURS.items():
        values = [counts[n][outcome] for n in names]
        ax.bar(names, values, bottom=bottom, color=colour, label=outcome)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("seeds")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


def loss_curves_figure(run, indices: list[int], title: str):
    """Training MSE (log scale) of chosen seeds of a run, coloured by outcome."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    steps = torch.arange(run.losses.shape[0]) * run.record_every
    for i in indices:
        outcome = run.outcomes[i]
        ax.semilogy(steps, run.losses[:, i].clamp(min=1e-16), lw=2,
                    color=OUTCOME_COLOURS[outcome], label=f"seed {run.seeds[i]}: {outcome}")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training MSE")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig
