"""The public patching sweeps: each a declaration over one shared engine.

As in ``transformer_lens.patching``, every sweep is the generic
``layer_sweep`` (or ``patch_heads``) with its activation fixed by
``functools.partial``; the work is in :mod:`.sweep` and :mod:`.engine`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch

from neuralcircuits.science.patching.inputs import Metric, check_pair, selection
from neuralcircuits.science.patching.sweep import Cell, Sweep


def patch_heads(
    model: Any,
    clean_tokens: torch.Tensor,
    corrupted_tokens: torch.Tensor,
    metric: Metric,
    by_pos: bool = False,
    *,
    layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None,
    progress: bool | None = None,
    fast: bool | None = None,
) -> torch.Tensor:
    """Patch each head's clean output (hook_z) into the corrupted run: [n_layers, n_heads] or [n_layers, pos, n_heads].

    Same values as ``transformer_lens.patching.get_act_patch_attn_head_out_all_pos``
    (``by_pos=False``) and ``get_act_patch_attn_head_out_by_pos`` (``by_pos=True``).
    ``layers`` / ``positions`` (by position only) restrict the sweep; cells left
    out are NaN. ``fast=False`` forces the hook path; ``fast=True`` fails if the
    fast path is off.
    """
    check_pair(model, clean_tokens, corrupted_tokens)
    sw = Sweep(
        model,
        clean_tokens,
        corrupted_tokens,
        metric,
        corrupted_kinds=["z"],
        clean_kinds=["z"],
        fast=fast,
    )
    return head_sweep(
        sw,
        sw.clean["z"],
        by_pos=by_pos,
        progress=progress,
        desc="patch heads",
        layers=layers,
        positions=positions,
    )


def layer_sweep(
    kind: str,
    model: Any,
    clean_tokens: torch.Tensor,
    corrupted_tokens: torch.Tensor,
    metric: Metric,
    *,
    layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None,
    progress: bool | None = None,
    fast: bool | None = None,
) -> torch.Tensor:
    """Patch the clean activation `kind` of each layer at each position: [n_layers, pos].

    `kind` is "resid_pre", "attn_out" or "mlp_out"; ``layers`` / ``positions``
    restrict the sweep (cells left out are NaN).
    """
    check_pair(model, clean_tokens, corrupted_tokens)
    sw = Sweep(
        model,
        clean_tokens,
        corrupted_tokens,
        metric,
        corrupted_kinds=["resid_mid"] if kind == "mlp_out" else [],
        clean_kinds=[kind],
        fast=fast,
    )
    nL, P = sw.n_layers, sw.n_pos
    layers, positions = selection(nL, layers), selection(P, positions)
    full = len(layers) == nL and len(positions) == P
    out = torch.full((nL, P), 0.0 if full else float("nan"))
    src = sw.clean[kind]
    if sw.engine is None:
        patches = [
            ((L, p), kind, L, p, None, src[L]) for L in layers for p in positions
        ]
        return sw.run_hooks(patches, out, f"patch {kind}", progress)
    eng = sw.engine
    cells = []
    with torch.no_grad():
        for L in layers:
            if kind == "resid_pre":
                rows, start = src[L][:, : sw.end], L  # [batch, P, d]
            elif kind == "attn_out":
                mid = sw.corr["resid_pre"][L][:, : sw.end] + src[L][:, : sw.end]
                rows, start = eng.after_attn(L, mid), L + 1
            else:  # mlp_out
                rows = sw.corr["resid_mid"][L][:, : sw.end] + src[L][:, : sw.end]
                start = L + 1
            for p in positions:
                row = rows[:, p] if p < sw.end else None
                cells.append(Cell((L, p), start, p, _rows_fn(sw, start, p, row)))
    return sw.run(cells, out, f"patch {kind}", progress)


patch_resid = partial(layer_sweep, "resid_pre")
patch_resid.__doc__ = """Patch the clean residual stream (resid_pre) by layer and position: [n_layers, pos].

Same values as ``transformer_lens.patching.get_act_patch_resid_pre``.
"""

patch_attn_out = partial(layer_sweep, "attn_out")
patch_attn_out.__doc__ = """Patch each layer's clean attention output by position: [n_layers, pos].

Same values as ``transformer_lens.patching.get_act_patch_attn_out``.
"""

patch_mlp_out = partial(layer_sweep, "mlp_out")
patch_mlp_out.__doc__ = """Patch each layer's clean MLP output by position: [n_layers, pos].

Same values as ``transformer_lens.patching.get_act_patch_mlp_out``.
"""


def head_sweep(
    sw: Sweep,
    source_z: list[torch.Tensor],
    *,
    by_pos: bool,
    progress: bool | None,
    desc: str,
    layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None,
) -> torch.Tensor:
    """Patch source_z[L] [batch, pos, H, dh] into each head's corrupted z, one head (and position) at a time."""
    nL, H, P = sw.n_layers, sw.model.cfg.n_heads, sw.n_pos
    if positions is not None and not by_pos:
        raise ValueError("positions= only applies to by_pos=True")
    layers, positions = selection(nL, layers), selection(P, positions)
    full = len(layers) == nL and len(positions) == P
    out = torch.full((nL, P, H) if by_pos else (nL, H), 0.0 if full else float("nan"))
    if sw.engine is None:
        patches = [
            (
                (L, p, h) if by_pos else (L, h),
                "z",
                L,
                p if by_pos else None,
                h,
                source_z[L],
            )
            for L in layers
            for p in (positions if by_pos else [None])
            for h in range(H)
        ]
        return sw.run_hooks(patches, out, desc, progress)
    with torch.no_grad():
        cells = _head_cells(sw, source_z, by_pos, layers)
    if by_pos and len(positions) < P:
        keep = set(positions)
        cells = [c for c in cells if c.pos in keep]
    return sw.run(cells, out, desc, progress)


def _head_cells(
    sw: Sweep, source_z: list[torch.Tensor], by_pos: bool, layers: Sequence[int]
):
    """Cells of a head sweep; source_z[L] [batch, pos, H, dh] is patched into the corrupted z."""
    eng, H = sw.engine, sw.model.cfg.n_heads
    if eng is None:
        raise RuntimeError("head cells need the verified FastEngine")
    z_corr = sw.corr["z"]
    cells = []
    for L in layers:
        if by_pos:
            P = sw.end
            # Patched z at (p, h) for every p < end and head h: [P, H, batch, H, dh].
            z = z_corr[L][:, :P].permute(1, 0, 2, 3).unsqueeze(1).repeat(1, H, 1, 1, 1)
            src = source_z[L][:, :P]  # [batch, P, H, dh]
            for h in range(H):
                z[:, h, :, h] = src[:, :, h].permute(1, 0, 2)
            mid = sw.corr["resid_pre"][L][:, :P].permute(1, 0, 2).unsqueeze(
                1
            ) + eng.attn_out(L, z)
            post = eng.after_attn(L, mid)  # [P, H, batch, d]
            for p in range(P):
                for h in range(H):
                    cells.append(
                        Cell((L, p, h), L + 1, p, _rows_fn(sw, L + 1, p, post[p, h]))
                    )
            for p in range(P, sw.n_pos):
                for h in range(H):
                    cells.append(Cell((L, p, h), L + 1, p))
        else:
            # Before sw.same_before the clean and corrupted z are the same, so
            # the patched run differs from the corrupted one from there on.
            start = min(sw.same_before, sw.end - 1)
            for h in range(H):
                cells.append(
                    Cell(
                        (L, h),
                        L + 1,
                        start,
                        _all_pos_head_fn(sw, L, h, source_z[L], start),
                    )
                )
    return cells


def _rows_fn(sw, layer, pos, row):
    return lambda: sw.rows_with(layer, pos, row)


def _all_pos_head_fn(sw, L, h, source, start=0):
    def rows():
        z = sw.corr["z"][L][:, start : sw.end].clone()
        z[:, :, h] = source[:, start : sw.end, h]
        mid = sw.corr["resid_pre"][L][:, start : sw.end] + sw.engine.attn_out(L, z)
        return sw.engine.after_attn(L, mid)

    return rows
