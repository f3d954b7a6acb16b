"""A row of the benchmark table, and the table."""

from __future__ import annotations

from dataclasses import dataclass, field

from neuralcircuits.tooling.bench.measure import median


@dataclass
class Row:
    """One line of the benchmark table: a method on a model, ours beside TransformerLens."""

    model: str
    method: str
    cells: str  # which cells were timed
    ours_s: float  # median seconds, ours, on those cells
    tl_s: float | None  # transformer_lens on the same cells (None: no TL equivalent)
    ratio: float | None  # tl_s / ours_s
    max_diff: float | None  # largest |ours - TL| over the cells TL ran
    metric_scale: float | None  # largest |TL value| over those cells
    ours_peak_mb: float
    tl_peak_mb: float | None
    runs: str  # repeats, ours / TL
    ours_full_est_s: float | None = None
    tl_full_est_s: float | None = None
    notes: str = ""
    ours_times: list[float] = field(default_factory=list)
    tl_times: list[float] = field(default_factory=list)


def forward_row(
    model: str, shape: str, times: list[float], peak: int, repeats: int
) -> Row:
    """The row of one plain forward pass: the unit other rows are measured in."""
    return Row(
        model,
        "forward pass (reference unit)",
        shape,
        median(times),
        None,
        None,
        None,
        None,
        peak / 2**20,
        None,
        f"{repeats}/-",
        ours_times=times,
    )


def _fmt(x, spec=".2f", none="-"):
    return none if x is None else format(x, spec)


def table(rows: list[Row]) -> str:
    """The rows as the printed benchmark table."""
    head = (
        f"{'model':<12} {'method':<36} {'ours s':>8} {'TL s':>9} {'ratio':>7} "
        f"{'max diff':>9} {'scale':>7} {'peak MB ours/TL':>16} {'runs':>18}  cells / notes"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        peak = f"{r.ours_peak_mb:.0f}/{_fmt(r.tl_peak_mb, '.0f')}"
        notes = r.cells + (f"; {r.notes}" if r.notes else "")
        if r.ours_full_est_s is not None:
            notes += (
                f"; full sweep est. ours {r.ours_full_est_s:.0f} s, "
                f"TL {r.tl_full_est_s:.0f} s"
            )
        lines.append(
            f"{r.model:<12} {r.method:<36} {r.ours_s:>8.2f} {_fmt(r.tl_s, '9.1f'):>9} "
            f"{_fmt(r.ratio, '.1f') + ('x' if r.ratio else ''):>7} {_fmt(r.max_diff, '.1e'):>9} "
            f"{_fmt(r.metric_scale, '.2f'):>7} {peak:>16} {r.runs:>18}  {notes}"
        )
    return "\n".join(lines)
