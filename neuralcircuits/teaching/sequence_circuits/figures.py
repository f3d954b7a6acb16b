"""Lesson 03's new figures, in the course style of teaching/figures.py."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch

from neuralcircuits.teaching import figures  # noqa: F401  (applies the course style)

MARKERS = ("o", "s", "^")


def draw_member_pca(points: torch.Tensor, formats: Sequence[str], title: str = ""):
    """The 36 members [n_formats * 12, 2] in a PCA plane: colour = value, marker = format."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    pts = points.reshape(len(formats), 12, 2).numpy()
    values = list(range(1, 13))
    for i, (fmt, marker) in enumerate(zip(formats, MARKERS, strict=False)):
        image = ax.scatter(pts[i, :, 0], pts[i, :, 1], c=values, cmap="viridis",
                           marker=marker, s=90, edgecolors="black", linewidths=0.6,
                           label=fmt.replace("_", " "))
    fig.colorbar(image, ax=ax, label="value (1 to 12)", ticks=[1, 4, 8, 12])
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=11)
    fig.tight_layout()
    return fig
