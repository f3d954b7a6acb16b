"""Benchmark of neuralcircuits.science.patching against transformer_lens.patching, and lesson 04 end to end; writes build/bench.json.

``python -m neuralcircuits.tooling.bench`` (``make bench``). Two models:

- ``gpt2-shaped``: GPT-2 small's shape with random weights (12 layers, 12
  heads, d_model 768, d_vocab 50257; ``TransformerBridge.boot_native``), 8
  prompts of 24 random tokens, a logit-difference metric at the last position.
- ``toy-seq``: the course's model on its three tasks (``sequences.make_dataset``
  clean / corrupted pairs), when it is installed.

and ``lesson04`` (``--only lesson04``): lesson 04's solution run top to bottom
on GPT-2 small's shape (random weights, GPT-2's tokenizer, the correctness
filter bypassed so all 96 prompts per task stay) and on toy-seq, each in a
fresh process with an empty result cache, then again with the cache it filled
(``tooling.lesson_run``): wall and CPU time, peak memory, per-section times.

On a 2-core CPU one forward pass of the GPT-2-shaped model takes seconds, so
TransformerLens's full sweeps (one forward pass per cell: 144 cells for heads,
3,456 by position) would take hours. The GPT-2-shaped rows therefore time the
same *subset of cells* with both tools, chosen so that it has the sweep's
average cost (layers and positions spread evenly; every row says which):

- ours: the sweep restricted to the subset, median of ``--repeats`` runs;
- TransformerLens: its own ``generic_activation_patch`` on a few cells of the
  subset per run (every TL cell is one full forward pass with one hook, so its
  cost per cell is constant), median per-cell time of ``--repeats`` runs, times
  the number of cells in the subset, plus its clean ``run_with_cache``;
- ``full est.``: both scaled from the subset to the whole sweep (ours: its
  fixed cost per sweep, measured as a sweep over no cells, plus the rest
  scaled by cells).

Runs of the two tools alternate (ours, TL, ours, ...), and attribution
patching alternates with plain forward passes, so that a change in the
machine's load (other processes on the two cores) hits both sides of a ratio.

The largest difference compares the two tools' values on the cells TL ran.
Peak memory is the process's resident set size, sampled every 2 ms while the
method runs (model and inputs included). ``--full`` also times our complete
sweeps once. toy-seq rows are full sweeps for both tools.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault(
    "TQDM_DISABLE", "1"
)  # TransformerLens's per-sweep bars; set before tqdm loads

import argparse
import json
import platform
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import torch

from neuralcircuits.science import patching as P
from neuralcircuits.tooling.paths import BUILD


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Context manager: the largest resident set size seen while the block runs (bytes)."""

    def __enter__(self):
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def measure(fn: Callable[[], Any], repeats: int) -> tuple[list[float], int, Any]:
    """Run fn `repeats` times: (wall times in s, peak RSS in bytes, last result)."""
    times, result = [], None
    with PeakRSS() as rss:
        for _ in range(repeats):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
    return times, rss.peak, result


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


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


# ---------------------------------------------------------------------------
# TransformerLens on a given set of cells
# ---------------------------------------------------------------------------
_TL_SPEC = {
    # method: (activation name, patch setter name, index columns)
    "heads": ("z", "layer_head_vector_patch_setter", ["layer", "head"]),
    "heads_by_pos": (
        "z",
        "layer_pos_head_vector_patch_setter",
        ["layer", "pos", "head"],
    ),
    "resid": ("resid_pre", "layer_pos_patch_setter", ["layer", "pos"]),
    "attn_out": ("attn_out", "layer_pos_patch_setter", ["layer", "pos"]),
    "mlp_out": ("mlp_out", "layer_pos_patch_setter", ["layer", "pos"]),
}

_OURS: dict[str, Callable[..., torch.Tensor]] = {
    "heads": P.patch_heads,
    "heads_by_pos": partial(P.patch_heads, by_pos=True),
    "resid": P.patch_resid,
    "attn_out": P.patch_attn_out,
    "mlp_out": P.patch_mlp_out,
}

_TL_FULL = {
    "heads": "get_act_patch_attn_head_out_all_pos",
    "heads_by_pos": "get_act_patch_attn_head_out_by_pos",
    "resid": "get_act_patch_resid_pre",
    "attn_out": "get_act_patch_attn_out",
    "mlp_out": "get_act_patch_mlp_out",
}


def tl_cells(model, corrupted, clean_cache, metric, method, cells):
    """transformer_lens.patching.generic_activation_patch on explicit cells: [n_cells]."""
    import pandas as pd
    import transformer_lens.patching as tlp

    name, setter, columns = _TL_SPEC[method]
    df = pd.DataFrame(cells, columns=columns)
    return tlp.generic_activation_patch(
        model,
        corrupted,
        clean_cache,
        metric,
        patch_setter=getattr(tlp, setter),
        activation_name=name,
        index_df=df,
    )


# ---------------------------------------------------------------------------
# The GPT-2-shaped model
# ---------------------------------------------------------------------------
def gpt2_shaped(n_layers: int = 12):
    """GPT-2 small's shape with random weights (boot_native, seed 0), in eval mode."""
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    cfg = TransformerBridgeConfig(
        n_layers=n_layers,
        n_heads=12,
        d_model=768,
        d_head=64,
        d_mlp=3072,
        n_ctx=1024,
        d_vocab=50257,
        act_fn="gelu_new",
        normalization_type="LN",
        seed=0,
    )
    model = TransformerBridge.boot_native(cfg)  # type: ignore[attr-defined]  # TL attaches boot_native with setattr
    model.eval()
    return model


def random_task(d_vocab: int, batch: int = 8, pos: int = 24, seed: int = 0):
    """Clean and corrupted random tokens and a logit-difference metric at the last position."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.randint(0, d_vocab, (batch, pos), generator=g)
    corrupted = clean.clone()
    corrupted[:, -4:] = torch.randint(0, d_vocab, (batch, 4), generator=g)
    right = torch.randint(0, d_vocab, (batch,), generator=g)
    wrong = torch.randint(0, d_vocab, (batch,), generator=g)
    rows = torch.arange(batch)

    def metric(logits):
        return (logits[rows, -1, right] - logits[rows, -1, wrong]).mean()

    return clean, corrupted, metric


def forward_row(
    model: str, shape: str, times: list[float], peak: int, repeats: int
) -> Row:
    """The row of one plain forward pass: the unit other rows are measured in."""
    return Row(
        model,
        "forward pass (reference unit)",
        shape,
        _median(times),
        None,
        None,
        None,
        None,
        peak / 2**20,
        None,
        f"{repeats}/-",
        ours_times=times,
    )


def representative_subsets(
    n_layers: int, n_pos: int
) -> dict[str, dict[str, list[int]]]:
    """Per sweep, layers / positions whose cells cost what the whole sweep's do on average.

    A cell at layer L, position p costs about (n_layers - 1 - L) * (n_pos - p);
    layers and positions spread symmetrically about the middle have the same
    mean L and mean p as the whole sweep, so the same mean cost.
    """
    quarter = [round((i + 0.5) * n_layers / 4 - 0.5) for i in range(4)]
    pair = [n_layers // 3, n_layers - 1 - n_layers // 3]
    spread = list(range(1, n_pos, 3))
    by_layer_and_pos = {"layers": pair, "positions": spread}
    return {
        "heads": {"layers": quarter},
        "heads_by_pos": by_layer_and_pos,
        "resid": by_layer_and_pos,
        "attn_out": by_layer_and_pos,
        "mlp_out": by_layer_and_pos,
    }


TL_CELLS_PER_RUN = {
    "heads": 3,
    "heads_by_pos": 3,
    "resid": 2,
    "attn_out": 2,
    "mlp_out": 2,
}


def _subset_cells(method, n_layers, n_heads, n_pos, subset):
    layers = subset.get("layers", range(n_layers))
    positions = subset.get("positions", range(n_pos))
    if method == "heads":
        return [(L, h) for L in layers for h in range(n_heads)]
    if method == "heads_by_pos":
        return [(L, p, h) for L in layers for p in positions for h in range(n_heads)]
    return [(L, p) for L in layers for p in positions]


def _n_cells(method, n_layers, n_heads, n_pos):
    return {
        "heads": n_layers * n_heads,
        "heads_by_pos": n_layers * n_pos * n_heads,
    }.get(method, n_layers * n_pos)


def _ours_subset(model, clean, corrupted, metric, method, subset):
    """Our sweep restricted to the subset's layers (and positions)."""
    return _OURS[method](model, clean, corrupted, metric, progress=False, **subset)


def bench_attribution(label, model, clean, corrupted, metric, repeats: int):
    """Time attribution patching of every head and position, interleaved with
    forward passes so load changes hit both; return its row and its cost in
    forward passes (median of the paired ratios).
    """
    attr_times, fwd_times, attr_peak = [], [], 0
    for _ in range(repeats):
        t, peak, _ = measure(
            lambda: P.attribution_patch_heads(
                model, clean, corrupted, metric, by_pos=True
            ),
            1,
        )
        attr_times += t
        attr_peak = max(attr_peak, peak)
        with torch.no_grad():
            fwd_times += measure(lambda: model(corrupted), 1)[0]
    ratio = _median([a / f for a, f in zip(attr_times, fwd_times, strict=True)])
    row = Row(
        label,
        "attribution (every head & position)",
        "all",
        _median(attr_times),
        None,
        None,
        None,
        None,
        attr_peak / 2**20,
        None,
        f"{repeats}/-",
        notes=f"{ratio:.2f} forward passes (median of paired ratios)",
        ours_times=attr_times,
    )
    return row, ratio


def bench_gpt2(repeats: int, full: bool, log) -> tuple[list[Row], dict]:
    """The rows of GPT-2 small's shape (random weights) and what was measured about the machine."""
    torch.manual_seed(0)
    log("gpt2-shaped: building the model (boot_native, 12 layers)...")
    model = gpt2_shaped()
    cfg = model.cfg
    clean, corrupted, metric = random_task(cfg.d_vocab)
    n_layers, n_heads, n_pos = cfg.n_layers, cfg.n_heads, clean.shape[1]
    rows: list[Row] = []
    info: dict[str, Any] = {}

    with torch.no_grad():
        model(corrupted)  # warm up
        fwd_times, fwd_peak, _ = measure(lambda: model(corrupted), repeats)
    fwd = _median(fwd_times)
    info["forward_s"] = fwd
    rows.append(
        forward_row("gpt2-shaped", "8 x 24 tokens", fwd_times, fwd_peak, repeats)
    )
    log(f"  forward pass {fwd:.2f} s")
    cache_times, _, (_, clean_cache) = measure(lambda: model.run_with_cache(clean), 1)

    for method in ["heads", "heads_by_pos", "resid", "attn_out", "mlp_out"]:
        subset = representative_subsets(n_layers, n_pos)[method]
        cells = _subset_cells(method, n_layers, n_heads, n_pos, subset)
        total = _n_cells(method, n_layers, n_heads, n_pos)
        k = TL_CELLS_PER_RUN[method]
        g = torch.Generator().manual_seed(len(method))
        picks = [
            cells[int(i)]
            for i in torch.randperm(len(cells), generator=g)[: k * repeats]
        ]
        log(
            f"  {method}: ours on {len(cells)} of {total} cells, TL on {k} of them, "
            f"interleaved x {repeats} ..."
        )
        ours_times, fixed_times, tl_times, tl_values = [], [], [], []
        ours_peak = tl_peak = 0
        empty: dict[str, list[int]] = {"layers": []}
        for r in range(repeats):
            # Interleaved, so that a change in the machine's load hits both tools.
            t, peak, ours = measure(
                partial(_ours_subset, model, clean, corrupted, metric, method, subset),
                1,
            )
            ours_times += t
            ours_peak = max(ours_peak, peak)
            run_cells = picks[r * k : (r + 1) * k]
            t, peak, vals = measure(
                partial(
                    tl_cells, model, corrupted, clean_cache, metric, method, run_cells
                ),
                1,
            )
            tl_times.append(t[0] / len(run_cells))
            tl_peak = max(tl_peak, peak)
            tl_values += list(zip(run_cells, vals.tolist(), strict=True))
            # Our fixed cost per sweep (caches, exactness check, metric probe).
            t, _, _ = measure(
                partial(_ours_subset, model, clean, corrupted, metric, method, empty),
                1,
            )
            fixed_times += t
        per_cell = _median(tl_times)
        tl_total = per_cell * len(cells) + cache_times[0]
        diffs = [abs(float(ours[c]) - v) for c, v in tl_values]
        scale = max(abs(v) for _, v in tl_values)
        ours_s = _median(ours_times)
        fixed = min(_median(fixed_times), ours_s)
        scale_up = total / len(cells)
        subset_text = ", ".join(f"{k_} {v}" for k_, v in subset.items()).replace(
            "'", ""
        )
        rows.append(
            Row(
                "gpt2-shaped",
                method,
                f"{len(cells)}/{total} ({subset_text})",
                ours_s,
                tl_total,
                tl_total / ours_s,
                max(diffs),
                scale,
                ours_peak / 2**20,
                tl_peak / 2**20,
                f"{repeats}/{repeats}x{k} cells",
                ours_full_est_s=fixed + (ours_s - fixed) * scale_up,
                tl_full_est_s=per_cell * total + cache_times[0],
                notes=(
                    f"TL per cell {per_cell:.2f} s (= {per_cell / fwd:.2f} forward passes), "
                    f"our fixed cost per sweep {fixed:.2f} s"
                ),
                ours_times=ours_times,
                tl_times=tl_times,
            )
        )
        log(
            f"    ours {ours_s:.1f} s, TL {tl_total:.1f} s, ratio {tl_total / ours_s:.1f}x"
        )

    log(f"  attribution patching, interleaved with forward passes x {repeats} ...")
    row, info["attribution_forward_passes"] = bench_attribution(
        "gpt2-shaped", model, clean, corrupted, metric, repeats
    )
    rows.append(row)

    if full:
        for method in ["heads", "heads_by_pos"]:
            log(f"  --full: our complete {method} sweep, once ...")
            t, peak, _ = measure(
                partial(_OURS[method], model, clean, corrupted, metric), 1
            )
            info[f"full_{method}_s"] = t[0]
            info[f"full_{method}_peak_mb"] = peak / 2**20
    return rows, info


# ---------------------------------------------------------------------------
# toy-seq
# ---------------------------------------------------------------------------
def bench_toy_seq(repeats: int, n_prompts: int, log) -> tuple[list[Row], dict]:
    """The rows of toy-seq (every sweep in full) and the attribution-vs-patching correlations."""
    import transformer_lens.patching as tlp

    from neuralcircuits.science import sequences
    from neuralcircuits.science.models import load_model

    model = load_model("toy-seq")
    cfg = model.cfg
    rows: list[Row] = []
    info: dict[str, Any] = {"pearson": {}}
    data = {}
    for task in sequences.TASKS:
        clean = sequences.make_dataset(model, task, "clean", n=n_prompts, seed=0)
        corrupted = sequences.make_dataset(
            model, task, "corrupted", n=n_prompts, seed=0
        )
        data[task] = (clean, corrupted)

    clean, corrupted = data["numerals"]
    metric = sequences.logit_diff_metric(clean)
    ct, cc = clean.tokens, corrupted.tokens
    n_pos = ct.shape[1]
    with torch.no_grad():
        model(cc)
        fwd_times, fwd_peak, _ = measure(lambda: model(cc), repeats)
    rows.append(
        forward_row(
            "toy-seq", f"{n_prompts} x {n_pos} tokens", fwd_times, fwd_peak, repeats
        )
    )
    for method in ["heads", "heads_by_pos", "resid", "attn_out", "mlp_out"]:
        total = _n_cells(method, cfg.n_layers, cfg.n_heads, n_pos)
        log(f"  toy-seq {method}: {total} cells, both tools x {repeats} ...")

        def ours_run(method=method):
            return _OURS[method](model, ct, cc, metric, progress=False)

        def tl_run(method=method):
            _, cache = model.run_with_cache(ct)
            return getattr(tlp, _TL_FULL[method])(model, cc, cache, metric)

        ours_times, tl_times, ours_peak, tl_peak = [], [], 0, 0
        for _ in range(repeats):  # interleaved, so load changes hit both tools
            t, peak, ours = measure(ours_run, 1)
            ours_times += t
            ours_peak = max(ours_peak, peak)
            t, peak, ref = measure(tl_run, 1)
            tl_times += t
            tl_peak = max(tl_peak, peak)
        o, tl = _median(ours_times), _median(tl_times)
        rows.append(
            Row(
                "toy-seq",
                method,
                f"all {total}",
                o,
                tl,
                tl / o,
                float((ours - ref).abs().max()),
                float(ref.abs().max()),
                ours_peak / 2**20,
                tl_peak / 2**20,
                f"{repeats}/{repeats}",
                ours_times=ours_times,
                tl_times=tl_times,
            )
        )
        log(f"    ours {o:.2f} s, TL {tl:.2f} s, ratio {tl / o:.1f}x")

    row, info["attribution_forward_passes"] = bench_attribution(
        "toy-seq", model, ct, cc, metric, repeats
    )
    rows.append(row)

    for task, (clean, corrupted) in data.items():
        metric = sequences.logit_diff_metric(clean)
        with torch.no_grad():
            base = float(metric(model(corrupted.tokens)))
        info["pearson"][task] = {}
        for by_pos in (False, True):
            exact = (
                P.patch_heads(
                    model,
                    clean.tokens,
                    corrupted.tokens,
                    metric,
                    by_pos=by_pos,
                    progress=False,
                )
                - base
            )
            attr = P.attribution_patch_heads(
                model, clean.tokens, corrupted.tokens, metric, by_pos=by_pos
            )
            r = float(
                torch.corrcoef(torch.stack([attr.flatten(), exact.flatten()]))[0, 1]
            )
            info["pearson"][task]["by position" if by_pos else "all positions"] = r
    return rows, info


# ---------------------------------------------------------------------------
# Lesson 04 end to end
# ---------------------------------------------------------------------------
def bench_lesson04(models: list[str], log) -> tuple[list[Row], dict]:
    """Lesson 04's solution top to bottom (``tooling.lesson_run``), one fresh process per model.

    Each run starts with an empty result cache (a learner's first run) and is
    timed again with the cache it filled (re-running the lesson). Wall and CPU
    time, peak memory and per-section times go to the row and the info.
    """
    import subprocess
    import tempfile

    rows: list[Row] = []
    info: dict[str, Any] = {}
    for name in models:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "NEURALCIRCUITS_CACHE": os.path.join(tmp, "cache")}
            runs = {}
            for label in ("cold", "warm"):
                out = os.path.join(tmp, f"{label}.json")
                log(f"lesson 04 on {name}, {label} cache ...")
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "neuralcircuits.tooling.lesson_run",
                        "04",
                        "--model",
                        name,
                        "--out",
                        out,
                    ],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                with open(out) as f:
                    runs[label] = json.load(f)
                log(
                    f"    {runs[label]['wall_s']:.0f} s wall, {runs[label]['cpu_s']:.0f} s CPU"
                )
        cold, warm = runs["cold"], runs["warm"]
        info[name] = {"cold": cold, "warm": warm}
        rows.append(
            Row(
                name,
                "lesson 04 end to end",
                "every cell"
                + (", filter bypassed (96 prompts/task)" if name != "toy-seq" else ""),
                cold["wall_s"],
                None,
                None,
                None,
                None,
                cold["peak_rss_mb"],
                None,
                "1/-",
                notes=(
                    f"CPU {cold['cpu_s']:.0f} s; re-run with its cache {warm['wall_s']:.0f} s; "
                    f"load {cold['load_average'][0]:.1f}"
                ),
                ours_times=[cold["wall_s"]],
            )
        )
    return rows, info


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks (`make bench`), print the table, write build/bench.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs per method (default 5)"
    )
    parser.add_argument(
        "--only",
        choices=["gpt2-shaped", "toy-seq", "lesson04"],
        default=None,
        help="one group of rows (lesson04: lesson 04 end to end on GPT-2's shape and toy-seq)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also time our complete GPT-2-shaped head sweeps once (minutes)",
    )
    parser.add_argument(
        "--toy-prompts", type=int, default=64, help="toy-seq prompts per task"
    )
    parser.add_argument("--out", default=str(BUILD / "bench.json"))
    args = parser.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    rows: list[Row] = []
    info: dict[str, Any] = {}
    if args.only in (None, "gpt2-shaped"):
        r, i = bench_gpt2(args.repeats, args.full, log)
        rows += r
        info["gpt2-shaped"] = i
    if args.only in (None, "toy-seq"):
        try:
            r, i = bench_toy_seq(args.repeats, args.toy_prompts, log)
            rows += r
            info["toy-seq"] = i
        except (ImportError, FileNotFoundError) as err:
            log(f"toy-seq skipped: {err}")
            info["toy-seq"] = {"skipped": str(err)}
    if args.only in (None, "lesson04"):
        r, i = bench_lesson04(["gpt2-shaped", "toy-seq"], log)
        rows += r
        info["lesson04"] = i
    info["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info["wall_s"] = time.perf_counter() - start
    info["machine"] = {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
    }

    print(table(rows))
    print()
    for model, i in info.items():
        if isinstance(i, dict) and "attribution_forward_passes" in i:
            print(
                f"{model}: attribution patching = {i['attribution_forward_passes']:.2f} "
                "forward passes"
            )
        if isinstance(i, dict) and i.get("pearson"):
            for task, rs in i["pearson"].items():
                text = ", ".join(f"{k} {v:.3f}" for k, v in rs.items())
                print(
                    f"{model}: Pearson(attribution, exact head patching) on {task}: {text}"
                )
        for key in ("full_heads_s", "full_heads_by_pos_s"):
            if isinstance(i, dict) and key in i:
                print(
                    f"{model}: our complete {key[5:-2]} sweep took {i[key]:.0f} s (1 run)"
                )
    for name, runs in info.get("lesson04", {}).items():
        print(
            f"lesson 04 on {name}, per section (first run: wall s / CPU s; re-run wall s):"
        )
        warm = runs["warm"]["sections"]
        for section, t in runs["cold"]["sections"].items():
            again = warm.get(section, {}).get("wall_s", float("nan"))
            print(
                f"  {section[:56]:<57}{t['wall_s']:>8.1f}{t['cpu_s']:>8.1f}{again:>8.1f}"
            )
    print(
        f"peak memory of the whole benchmark {info['peak_rss_mb']:.0f} MB; "
        f"wall time {info['wall_s']:.0f} s; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"rows": [asdict(r) for r in rows], "info": info}, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
