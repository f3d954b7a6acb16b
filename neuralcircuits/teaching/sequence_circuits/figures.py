"""Lesson 04's new figures, in the course style of teaching/figures.py."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from neuralcircuits.science import sequences
from neuralcircuits.teaching import figures

MARKERS = ("o", "s", "^")


FORMAT_COLOURS = (figures.POSITIVE, figures.OUTPUT, figures.NEGATIVE)


def draw_member_pca(points: torch.Tensor, formats: Sequence[str], title: str = ""):
    """The 36 members [n_formats * 12, 2] in a PCA plane, twice: coloured by value, then by format."""
    fig, (by_value, by_format) = figures.figure(
        1, 2, height=4.2, sharex=True, sharey=True
    )
    pts = points.reshape(len(formats), 12, 2).numpy()
    values = list(range(1, 13))
    for i, (fmt, marker) in enumerate(zip(formats, MARKERS, strict=False)):
        label = fmt.replace("_", " ")
        image = by_value.scatter(
            pts[i, :, 0],
            pts[i, :, 1],
            c=values,
            cmap="viridis",
            marker=marker,
            s=90,
            edgecolors="black",
            linewidths=0.6,
            label=label,
        )
        by_format.scatter(
            pts[i, :, 0],
            pts[i, :, 1],
            color=FORMAT_COLOURS[i % 3],
            marker=marker,
            s=90,
            edgecolors="black",
            linewidths=0.6,
            label=label,
        )
        for v in (0, 11):  # label the ends of each format's run (1 and 12) by name,
            # stacked per format so that labels of points that coincide stay apart
            by_format.annotate(
                sequences.members(fmt)[v] if fmt in sequences.TASKS else str(v + 1),
                pts[i, v],
                textcoords="offset points",
                xytext=(6, 4 - 16 * i),
                fontsize=11,
            )
    fig.colorbar(image, ax=by_value, label="value (1 to 12)", ticks=[1, 4, 8, 12])
    by_value.set_title("coloured by value")
    by_format.set_title("coloured by format")
    for ax in (by_value, by_format):
        ax.set_xlabel("principal component 1")
        ax.legend(loc="best", fontsize=11)
    by_value.set_ylabel("principal component 2")
    if title:
        fig.suptitle(title)
    return fig
