"""The public patching sweeps: each a declaration over one shared engine.

As in ``transformer_lens.patching``, every sweep is the generic
``layer_sweep`` (or ``patch_heads``, ``whole_layer_sweep``) with its
activation fixed by ``functools.partial``; the work is in :mod:`.sweep` and
:mod:`.engine`.

Every sweep starts from one clean and one corrupted run (cached, and the
fast engine checked against the model). Several sweeps of one clean /
corrupted pair can share them: build them once with :func:`shared_sweep` and
pass it to each sweep as ``shared=``; the values are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch

from neuralcircuits.science.patching.inputs import Metric, check_pair, selection
from neuralcircuits.science.patching.sweep import Cell, Sweep

# What a shared sweep caches: enough for every sweep of this module.
SHARED_CORRUPTED_KINDS = ("z", "resid_mid")
SHARED_CLEAN_KINDS = ("resid_pre", "attn_out", "mlp_out", "z")


def shared_sweep(
    model: Any,
    clean_tokens: torch.Tensor,
    corrupted_tokens: torch.Tensor,
    metric: Metric,
    *,
    fast: bool | None = None,
) -> Sweep:
    """One clean and one corrupted run, cached once for every sweep of this pair (pass it as ``shared=``)."""
    check_pair(model, clean_tokens, corrupted_tokens)
    return Sweep(
        model,
        clean_tokens,
        corrupted_tokens,
        metric,
        corrupted_kinds=SHARED_CORRUPTED_KINDS,
        clean_kinds=SHARED_CLEAN_KINDS,
        fast=fast,
    )


def _sweep(
    model: Any,
    clean_tokens: torch.Tensor,
    corrupted_tokens: torch.Tensor,
    metric: Metric,
    corrupted_kinds: Sequence[str],
    clean_kinds: Sequence[str],
    fast: bool | None,
    shared: Sweep | None,
) -> Sweep:
    """A new sweep's state, or ``shared`` once it is checked to be this sweep's."""
    check_pair(model, clean_tokens, corrupted_tokens)
    if shared is None:
        return Sweep(
            model,
            clean_tokens,
            corrupted_tokens,
            metric,
            corrupted_kinds=corrupted_kinds,
            clean_kinds=clean_kinds,
            fast=fast,
        )
    same = (
        shared.model is model
        and shared.metric is metric
        and torch.equal(shared.clean_tokens, clean_tokens)
        and torch.equal(shared.corrupted_tokens, corrupted_tokens)
    )
    if not same:
        raise ValueError(
            "the shared sweep was built for another model, other tokens or another metric"
        )
    missing = (set(corrupted_kinds) - shared.corrupted_kinds) | (
        set(clean_kinds) - shared.clean_kinds
    )
    if missing:
        raise ValueError(
            f"the shared sweep has no cached {', '.join(sorted(missing))}; "
            "build it with shared_sweep"
        )
    if fast is not None and fast != (shared.engine is not None):
        raise ValueError(
            f"fast={fast}, but the shared sweep's fast path is "
            f"{'on' if shared.engine is not None else 'off'}"
        )
    return shared


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
    shared: Sweep | None = None,
) -> torch.Tensor:
    """Patch each head's clean output (hook_z) into the corrupted run: [n_layers, n_heads] or [n_layers, pos, n_heads].

    Same values as ``transformer_lens.patching.get_act_patch_attn_head_out_all_pos``
    (``by_pos=False``) and ``get_act_patch_attn_head_out_by_pos`` (``by_pos=True``).
    ``layers`` / ``positions`` (by position only) restrict the sweep; cells left
    out are NaN. ``fast=False`` forces the hook path; ``fast=True`` fails if the
    fast path is off. ``shared``: the runs of ``shared_sweep`` for these tokens.
    """
    sw = _sweep(
        model, clean_tokens, corrupted_tokens, metric, ["z"], ["z"], fast, shared
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
    shared: Sweep | None = None,
) -> torch.Tensor:
    """Patch the clean activation `kind` of each layer at each position: [n_layers, pos].

    `kind` is "resid_pre", "attn_out" or "mlp_out"; ``layers`` / ``positions``
    restrict the sweep (cells left out are NaN); ``shared`` as in ``patch_heads``.
    """
    sw = _kind_sweep(kind, model, clean_tokens, corrupted_tokens, metric, fast, shared)
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
    cells = []
    with torch.no_grad():
        for L in layers:
            if kind == "resid_pre":
                rows, start = src[L][:, : sw.end], L  # [batch, P, d]
            else:
                rows, start = _patched_stream(sw, kind, L, src[L], 0), L + 1
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


def whole_layer_sweep(
    kind: str,
    model: Any,
    clean_tokens: torch.Tensor,
    corrupted_tokens: torch.Tensor,
    metric: Metric,
    *,
    progress: bool | None = None,
    fast: bool | None = None,
    shared: Sweep | None = None,
) -> torch.Tensor:
    """Patch the clean activation `kind` of each layer at every position at once: [n_layers].

    `kind` is "attn_out" or "mlp_out". Before the first position where the
    prompts differ the clean and corrupted activations are the same, so each
    patched run is computed from there on, from the layer after the patch.
    """
    if kind not in ("attn_out", "mlp_out"):
        raise ValueError(f"whole-layer patching of {kind!r}: use attn_out or mlp_out")
    sw = _kind_sweep(kind, model, clean_tokens, corrupted_tokens, metric, fast, shared)
    nL = sw.n_layers
    out = torch.zeros(nL)
    src = sw.clean[kind]
    desc = f"patch {kind}, all positions"
    if sw.engine is None:
        patches = [((L,), kind, L, None, None, src[L]) for L in range(nL)]
        return sw.run_hooks(patches, out, desc, progress)
    start = min(sw.same_before, sw.end - 1)
    cells = [
        Cell((L,), L + 1, start, _whole_layer_fn(sw, kind, L, src[L], start))
        for L in range(nL)
    ]
    return sw.run(cells, out, desc, progress)


patch_attn_out_all_pos = partial(whole_layer_sweep, "attn_out")
patch_attn_out_all_pos.__doc__ = """Patch each layer's clean attention output at every position at once: [n_layers]."""

patch_mlp_out_all_pos = partial(whole_layer_sweep, "mlp_out")
patch_mlp_out_all_pos.__doc__ = (
    """Patch each layer's clean MLP output at every position at once: [n_layers]."""
)


def _whole_layer_fn(sw, kind, L, source, start):
    return lambda: _patched_stream(sw, kind, L, source, start)


def _kind_sweep(kind, model, clean_tokens, corrupted_tokens, metric, fast, shared):
    """The sweep's runs for patching `kind` (mlp_out also needs the corrupted resid_mid)."""
    extra = ["resid_mid"] if kind == "mlp_out" else []
    return _sweep(
        model, clean_tokens, corrupted_tokens, metric, extra, [kind], fast, shared
    )


def _patched_stream(sw, kind, L, source, start):
    """The corrupted stream after layer L's `kind` (attn_out or mlp_out) is replaced by `source`, positions start..end."""
    end = sw.end
    if kind == "attn_out":  # resid_mid = resid_pre + attn_out
        mid = sw.corr["resid_pre"][L][:, start:end] + source[:, start:end]
        return sw.engine.after_attn(L, mid)
    # resid_post = resid_mid + mlp_out
    return sw.corr["resid_mid"][L][:, start:end] + source[:, start:end]


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
