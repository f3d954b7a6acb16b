"""The rows of GPT-2 small's shape (random weights): a subset of each sweep's cells, both tools."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from neuralcircuits.tooling.bench.measure import measure, median
from neuralcircuits.tooling.bench.rows import Row, forward_row
from neuralcircuits.tooling.bench.sweeps import (
    OURS,
    TL_CELLS_PER_RUN,
    bench_attribution,
    gpt2_shaped,
    n_cells,
    ours_subset,
    random_task,
    representative_subsets,
    subset_cells,
    tl_cells,
)


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
    fwd = median(fwd_times)
    info["forward_s"] = fwd
    rows.append(
        forward_row("gpt2-shaped", "8 x 24 tokens", fwd_times, fwd_peak, repeats)
    )
    log(f"  forward pass {fwd:.2f} s")
    cache_times, _, (_, clean_cache) = measure(lambda: model.run_with_cache(clean), 1)

    for method in ["heads", "heads_by_pos", "resid", "attn_out", "mlp_out"]:
        subset = representative_subsets(n_layers, n_pos)[method]
        cells = subset_cells(method, n_layers, n_heads, n_pos, subset)
        total = n_cells(method, n_layers, n_heads, n_pos)
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
                partial(ours_subset, model, clean, corrupted, metric, method, subset),
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
                partial(ours_subset, model, clean, corrupted, metric, method, empty),
                1,
            )
            fixed_times += t
        per_cell = median(tl_times)
        tl_total = per_cell * len(cells) + cache_times[0]
        diffs = [abs(float(ours[c]) - v) for c, v in tl_values]
        scale = max(abs(v) for _, v in tl_values)
        ours_s = median(ours_times)
        fixed = min(median(fixed_times), ours_s)
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
                partial(OURS[method], model, clean, corrupted, metric), 1
            )
            info[f"full_{method}_s"] = t[0]
            info[f"full_{method}_peak_mb"] = peak / 2**20
    return rows, info
