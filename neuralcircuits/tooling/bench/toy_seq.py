"""The rows of toy-seq: every sweep in full with both tools, and attribution against exact patching."""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science import patching as P
from neuralcircuits.tooling.bench.measure import measure, median
from neuralcircuits.tooling.bench.rows import Row, forward_row
from neuralcircuits.tooling.bench.sweeps import (
    OURS,
    TL_FULL,
    bench_attribution,
    n_cells,
)


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
        total = n_cells(method, cfg.n_layers, cfg.n_heads, n_pos)
        log(f"  toy-seq {method}: {total} cells, both tools x {repeats} ...")

        def ours_run(method=method):
            return OURS[method](model, ct, cc, metric, progress=False)

        def tl_run(method=method):
            _, cache = model.run_with_cache(ct)
            return getattr(tlp, TL_FULL[method])(model, cc, cache, metric)

        ours_times, tl_times, ours_peak, tl_peak = [], [], 0, 0
        for _ in range(repeats):  # interleaved, so load changes hit both tools
            t, peak, ours = measure(ours_run, 1)
            ours_times += t
            ours_peak = max(ours_peak, peak)
            t, peak, ref = measure(tl_run, 1)
            tl_times += t
            tl_peak = max(tl_peak, peak)
        o, tl = median(ours_times), median(tl_times)
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
