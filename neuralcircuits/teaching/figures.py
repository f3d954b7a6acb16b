"""The course's figure style: every figure a lesson draws fits the notebook
column at 100% and reads on a projector at 1280x720.

Use it for every new figure::

    from neuralcircuits.teaching import figures
    fig, axes = figures.figure(1, 3, height=3.2)      # full column width
    figures.integer_ticks(ax, "y", n_layers)          # layers, heads: 0, 1, ...
    figures.heatmap(ax, matrix, rows, cols, "share restored")
    figures.label_points(ax, xy, names, colours)      # labels that never collide
    print(figures.table(rows, headers))               # tables that never wrap

The numbers:

- ``COLUMN_PX`` (860 px): the output area of a JupyterLab 4 notebook in a
  1280 px wide window with the file browser open, at 100% zoom. A figure
  wider than this is scaled down by the browser (text shrinks with it), so
  :func:`figure` never makes one wider: ``COLUMN_IN`` inches at ``DPI``,
  plus the 0.1 inch padding the notebook adds on each side.
- ``MIN_FONT_PT`` (11 pt = 15 px at 100 dpi): the smallest text a figure may
  use; titles 13 pt, labels 12 pt, ticks and legends 11 pt. At 1280x720 on a
  projector that is the size of the notebook's own body text.
- ``OUTPUT_CHARS`` (100): JupyterLab breaks a longer printed line anywhere,
  mid-word (its output area holds about 110 characters of 13 px monospace at
  860 px). :func:`table` keeps tables to ``TABLE_CHARS`` (80), shortening
  cells; wrap prose with ``textwrap.fill(text, 78)``.

:func:`figure_problems` lists what breaks these rules in a drawn figure
(too wide, text too small, texts that overlap); ``tests/test_figures.py``
runs it on every figure the lessons draw.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.figure import Figure, SubFigure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

# Colours match the videos (animations/style.py): one colour per idea.
POSITIVE = "#58C4DD"
NEGATIVE = "#FC6255"
OUTPUT = "#F0AC00"
TARGET = "#888888"
OUTCOME_COLOURS = {"found": "#83C167", "dead region": "#FC6255", "other": "#BBBBBB"}

DPI = 100
COLUMN_PX = 860
PAD_IN = 0.1  # the inline backend saves with bbox_inches="tight" and this padding
COLUMN_IN = (COLUMN_PX - 2 * PAD_IN * DPI) / DPI  # 8.4 inches of figure
MIN_FONT_PT = 11.0
OUTPUT_CHARS = 100
TABLE_CHARS = 80

STYLE: dict[RcKeyType, Any] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.figsize": (COLUMN_IN, 3.6),
    "figure.constrained_layout.use": True,
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def apply_style() -> None:
    """Set the course style in matplotlib's rcParams (importing this module does it)."""
    plt.rcParams.update(STYLE)


apply_style()


def figure(
    nrows: int = 1,
    ncols: int = 1,
    height: float = 3.6,
    width: float = COLUMN_IN,
    **kwargs,
) -> tuple[Figure, Any]:
    """A new figure at most one column wide (constrained layout); returns (fig, axes)."""
    width = min(width, COLUMN_IN)
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


def integer_ticks(
    ax: Axes, axis: str, n: int | None = None, labels: Sequence[str] | None = None
) -> None:
    """Tick an axis at whole numbers only (layers, heads, positions): 0, 1, ..., n-1."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    if n is None:
        target.set_major_locator(MaxNLocator(integer=True))
        return
    ticks = list(range(n))
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter(ticks, labels if labels is not None else [str(t) for t in ticks])


def heatmap(
    ax: Axes,
    matrix,
    rows: Sequence[str],
    cols: Sequence[str],
    cbar_label: str | None = None,
    cmap: str = "RdBu",
    vmin: float = -1.0,
    vmax: float = 1.0,
    colorbar: bool = True,
):
    """Draw a labelled matrix; long column labels turn 90°, the colorbar label reads."""
    values = torch.as_tensor(matrix).detach().float().numpy()
    image = ax.imshow(
        values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest"
    )
    ax.set_yticks(range(len(rows)), list(rows))
    longest = max((len(str(c)) for c in cols), default=0)
    rotation = 90 if longest * len(cols) > 40 else 0
    ax.set_xticks(range(len(cols)), list(cols), rotation=rotation)
    ax.spines[:].set_visible(False)
    if colorbar:
        bar = ax.figure.colorbar(image, ax=ax, shrink=0.9, pad=0.02)
        if cbar_label:
            bar.set_label(cbar_label, fontsize=MIN_FONT_PT)
        bar.ax.tick_params(labelsize=MIN_FONT_PT)
    return image


@runtime_checkable
class _Renders(Protocol):
    """A canvas that draws with a renderer we can measure text with (Agg's)."""

    def get_renderer(self) -> RendererBase: ...


def _renderer(fig: Figure | SubFigure) -> RendererBase:
    """The renderer of fig's canvas (every Agg-based backend has one)."""
    canvas = fig.canvas
    if not isinstance(canvas, _Renders):
        raise TypeError(
            f"{type(canvas).__name__} has no get_renderer(): "
            "measuring a figure needs an Agg-based backend"
        )
    return canvas.get_renderer()


_LABEL_BOX = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85}


def label_points(
    ax: Axes,
    xy,
    labels: Sequence[str],
    colours: Sequence[str] | str = "black",
    fontsize: float = MIN_FONT_PT,
    pad_px: float = 2.0,
) -> list:
    """Write one label beside each point, moving each to the first free spot around it.

    Labels are placed in order; each tries eight places around its point (right,
    left, above, below, then the corners, at growing distance) and takes the first
    whose box overlaps neither an earlier label nor a point. Returns the texts.
    """
    fig = ax.figure
    renderer = _renderer(fig)
    points = torch.as_tensor(xy).detach().float().tolist()
    if isinstance(colours, str):
        colours = [colours] * len(labels)
    to_px = ax.transData.transform
    point_px = [to_px(p) for p in points]
    placed_boxes: list = []
    texts = []
    directions = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]
    for (x, y), label, colour in zip(points, labels, colours, strict=True):
        best = None
        for distance in (5, 12, 22, 34):
            for dx, dy in directions:
                ha = "left" if dx > 0 else "right" if dx < 0 else "center"
                va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
                text = ax.annotate(
                    label,
                    (x, y),
                    xytext=(dx * distance, dy * distance),
                    textcoords="offset points",
                    ha=ha,
                    va=va,
                    fontsize=fontsize,
                    color=colour,
                    zorder=5,
                    bbox=_LABEL_BOX,
                )
                box = text.get_window_extent(renderer).expanded(1.0, 1.0)
                box = box.from_extents(
                    box.x0 - pad_px, box.y0 - pad_px, box.x1 + pad_px, box.y1 + pad_px
                )
                free = not any(box.overlaps(b) for b in placed_boxes) and not any(
                    box.contains(px, py) for px, py in point_px
                )
                if free:
                    best = (text, box)
                    break
                text.remove()
            if best:
                break
        if best is None:  # nowhere free: keep the first place
            text = ax.annotate(
                label,
                (x, y),
                xytext=(5, 0),
                textcoords="offset points",
                va="center",
                fontsize=fontsize,
                color=colour,
                zorder=5,
                bbox=_LABEL_BOX,
            )
            best = (text, text.get_window_extent(renderer))
        placed_boxes.append(best[1])
        texts.append(best[0])
    return texts


def table(
    rows: Sequence[Sequence],
    headers: Sequence[str],
    max_width: int = TABLE_CHARS,
    formats: Sequence[str] | None = None,
) -> str:
    """Format rows as a fixed-width text table no wider than max_width characters.

    Text columns are shortened (with '…') until the table fits; numbers are
    right-aligned with `formats` (e.g. ".1%"), so no printed line ever wraps.
    """
    formats = list(formats or [""] * len(headers))
    cells = [
        [
            format(v, f) if not isinstance(v, str) else v
            for v, f in zip(row, formats, strict=True)
        ]
        for row in rows
    ]
    numeric = [
        all(not isinstance(row[i], str) for row in rows) and bool(rows)
        for i in range(len(headers))
    ]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    while sum(widths) + 2 * (len(widths) - 1) > max_width:
        i = max(range(len(widths)), key=lambda k: (not numeric[k], widths[k]))
        if widths[i] <= 6:
            break
        widths[i] -= 1

    def fit(text: str, width: int, right: bool) -> str:
        text = text if len(text) <= width else text[: width - 1] + "…"
        return text.rjust(width) if right else text.ljust(width)

    lines = [
        "  ".join(
            fit(h, w, n) for h, w, n in zip(headers, widths, numeric, strict=True)
        )
    ]
    for row in cells:
        lines.append(
            "  ".join(
                fit(c, w, n) for c, w, n in zip(row, widths, numeric, strict=True)
            )
        )
    return "\n".join(line.rstrip() for line in lines)


def figure_problems(
    fig: Figure, max_px: int = COLUMN_PX, min_font: float = MIN_FONT_PT
) -> list[str]:
    """What keeps a figure from reading at 100% in the notebook column (empty: none).

    Measures the figure as the notebook shows it (``bbox_inches="tight"`` at
    ``DPI``, padded): its width in pixels, every visible text's size in points, and
    texts whose boxes overlap one another.
    """
    fig.set_dpi(DPI)
    fig.canvas.draw()
    renderer = _renderer(fig)
    problems = []
    width_px = (fig.get_tightbbox(renderer).width + 2 * PAD_IN) * DPI  # the PNG shown
    if width_px > max_px + 1:
        problems.append(f"{width_px:.0f} px wide, wider than the {max_px} px column")
    # Layers and heads are counted in whole numbers: no tick at 0.5.
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if not re.search(r"\b(layer|head)s?\b", axis.get_label_text()):
                continue
            for label in axis.get_ticklabels():
                text = label.get_text().replace("\u2212", "-")
                if re.fullmatch(r"-?\d*\.\d*[1-9]\d*", text):
                    problems.append(
                        f"the {axis.get_label_text()!r} axis has a tick at {text}"
                    )
                    break
    # Which axis a tick label belongs to: an x and a y tick label touching at
    # an axes' corner is normal; two labels of one axis overlapping is crammed.
    axis_of = {}
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for label in axis.get_ticklabels():
                axis_of[id(label)] = axis
    texts = [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.figure is fig
    ]
    boxes = []
    for t in texts:
        size = float(t.get_fontsize())  # points (the stub also allows "large")
        if size < min_font - 0.01:
            problems.append(
                f"text {t.get_text()!r} is {size:.1f} pt, under {min_font} pt"
            )
        box = t.get_window_extent(renderer)
        if box.width > 0 and box.height > 0:
            boxes.append((t, box.shrunk(0.9, 0.8)))
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            axis_a, axis_b = axis_of.get(id(a)), axis_of.get(id(b))
            if axis_a is not None and axis_b is not None and axis_a is not axis_b:
                continue
            if box_a.overlaps(box_b):
                problems.append(f"texts {a.get_text()!r} and {b.get_text()!r} overlap")
    return problems


def plot_function(
    ax,
    fn: Callable[[torch.Tensor], torch.Tensor],
    label: str,
    colour: str = OUTPUT,
    x_range: tuple[float, float] = (-2, 2),
    **style,
) -> None:
    """Draw a 1-input function (a network or a lambda on [batch, 1] tensors)."""
    x = torch.linspace(*x_range, 401)[:, None]
    with torch.no_grad():
        y = fn(x)
    ax.plot(x.squeeze(1), y.squeeze(1), color=colour, label=label, lw=2.5, **style)
    ax.axhline(0, color="#cccccc", lw=0.8, zorder=0)
    ax.axvline(0, color="#cccccc", lw=0.8, zorder=0)
    ax.set_xlabel("x")


def _relu_unit(w: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation x -> ReLU(w x) of a hidden unit with input weight w."""
    return lambda x: torch.relu(w * x)


def hidden_units_figure(net, title: str, output_label: str):
    """Left: each hidden unit's activation; right: the network's output."""
    w_in, w_out = (w.detach() for w in net.weights)
    fig, (left, right) = figure(1, 2, height=4.2)
    for i, w in enumerate(w_in[:, 0]):
        colour = POSITIVE if w > 0 else NEGATIVE
        plot_function(
            left, _relu_unit(w), f"unit {i}: ReLU({w:.2f}x)·{w_out[0, i]:.2f}", colour
        )
    left.set_title("hidden units")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1, frameon=False)
    plot_function(right, net, output_label)
    right.set_title(title)
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    return fig


def outcomes_figure(counts: dict[str, dict[str, int]], title: str):
    """Stacked bars: for each function, how many seeds found the construction."""
    fig, ax = figure(height=3.6)
    names = list(counts)
    bottom = [0] * len(names)
    for outcome, colour in OUTCOME_COLOURS.items():
        values = [counts[n][outcome] for n in names]
        ax.bar(names, values, bottom=bottom, color=colour, label=outcome)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("seeds")
    integer_ticks(ax, "y")
    ax.set_title(title)
    if sum(len(n) for n in names) > 40:
        ax.tick_params(axis="x", labelrotation=30)
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    return fig


def loss_curves_figure(run, indices: list[int], title: str):
    """Training MSE (log scale) of chosen seeds of a run, coloured by outcome."""
    fig, ax = figure(height=3.6)
    steps = torch.arange(run.losses.shape[0]) * run.record_every
    for i in indices:
        outcome = run.outcomes[i]
        ax.semilogy(
            steps,
            run.losses[:, i].clamp(min=1e-16),
            lw=2,
            color=OUTCOME_COLOURS[outcome],
            label=f"seed {run.seeds[i]}: {outcome}",
        )
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training MSE")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    return fig
