"""Exact activation patching, fast: the same numbers as ``transformer_lens.patching``.

``transformer_lens.patching`` runs one full forward pass per patched cell. The
functions here compute the same values (clean activation patched into the
corrupted run, ``metric(logits)`` a scalar) without recomputing what a patch
cannot change:

- layers before the patched one: every sweep starts from the corrupted run's
  cached residual stream at the patched layer;
- positions before the patched one: with causal attention they never see the
  patch, so their keys and values are reused from the corrupted run and only
  positions from the patched one on are recomputed;
- positions and logits the metric never reads: before a sweep, the metric is
  probed once (each position's logits replaced by NaN) to find the positions
  it reads; logits are computed only there, and positions after the last one
  read are never computed (they cannot influence earlier positions);
- and many patched runs are stacked into one big batch, in chunks that bound
  memory.

Exactness is checked, not assumed: every sweep first re-runs the corrupted
input through the fast path and compares each layer's residual stream and the
logits with the model's own forward pass (which also catches hooks the user
attached to the model). If they differ, or the architecture is not one the
fast path knows (rotary, grouped-query or parallel attention, ...), the sweep
falls back to patching through the model's hooks, still batched.

Also here: mean ablation (``mean_activations``, ``ablate``), attribution
patching (``attribution_patch_heads``) and the logit lens (``logit_lens``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from tqdm.auto import tqdm

Metric = Callable[[torch.Tensor], Any]

__all__ = [
    "Component",
    "patch_heads",
    "patch_resid",
    "patch_attn_out",
    "patch_mlp_out",
    "mean_activations",
    "ablate",
    "ablate_each_head",
    "attribution_patch_heads",
    "logit_lens",
    "metric_positions",
]

# Defaults that bound memory: residual rows per stacked batch, logit entries.
MAX_ROWS = 8_192
MAX_LOGIT_ELEMENTS = 64 * 2**20
PROGRESS_MIN_CELLS = 200


# ---------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------
class Component(NamedTuple):
    """A head ``("head", layer, head)``, an MLP ``("mlp", layer)`` or an attention layer ``("attn", layer)``."""

    kind: str
    layer: int
    head: int | None = None

    def __str__(self) -> str:
        if self.kind == "head":
            return f"{self.layer}.{self.head}"
        return f"{self.kind.upper()}{self.layer}"

    @classmethod
    def parse(cls, value: Any) -> Component:
        """Return a Component from a Component, a tuple, or a string like "9.1", "MLP9", "ATTN9"."""
        if isinstance(value, Component):
            return value
        if isinstance(value, str):
            text = value.strip().upper()
            for kind in ("MLP", "ATTN"):
                if text.startswith(kind):
                    return cls(kind.lower(), int(text[len(kind) :]))
            layer, head = text.split(".")
            return cls("head", int(layer), int(head))
        value = tuple(value)
        if value and value[0] == "head" and len(value) == 3:
            return cls("head", int(value[1]), int(value[2]))
        if value and value[0] in ("mlp", "attn") and len(value) == 2:
            return cls(value[0], int(value[1]))
        raise ValueError(
            f"{value!r} is not a component: use ('head', layer, head), ('mlp', layer) "
            "or ('attn', layer)"
        )


def heads(model: Any, layers: Iterable[int] | None = None) -> list[Component]:
    """Return every head of the given layers (all layers by default) as Components."""
    layers = range(model.cfg.n_layers) if layers is None else layers
    return [Component("head", L, h) for L in layers for h in range(model.cfg.n_heads)]


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------
def _check_model(model: Any) -> None:
    if getattr(model, "training", False):
        raise ValueError(
            "the model is in training mode; call model.eval() before patching "
            "(dropout would make every patched run different)"
        )


def _check_tokens(tokens: Any, what: str) -> torch.Tensor:
    if not isinstance(tokens, torch.Tensor):
        raise TypeError(
            f"{what} must be a torch.Tensor of token ids, got {type(tokens).__name__}"
        )
    if tokens.ndim != 2:
        raise ValueError(
            f"{what} must have shape [batch, pos], got {tuple(tokens.shape)}"
        )
    return tokens


def _check_pair(model: Any, clean_tokens: Any, corrupted_tokens: Any) -> None:
    _check_model(model)
    clean = _check_tokens(clean_tokens, "clean_tokens")
    corrupted = _check_tokens(corrupted_tokens, "corrupted_tokens")
    if clean.shape != corrupted.shape:
        raise ValueError(
            f"clean and corrupted batches must have the same shape [batch, pos]; got clean "
            f"{tuple(clean.shape)} and corrupted {tuple(corrupted.shape)}"
        )


def _scalar(metric: Metric, logits: torch.Tensor) -> torch.Tensor:
    """metric(logits) as a 0-d tensor, or a clear error."""
    out = metric(logits)
    try:
        value = torch.as_tensor(out)
    except Exception as exc:  # noqa: BLE001
        raise TypeError(
            f"metric must return a scalar tensor, got {type(out).__name__}"
        ) from exc
    if value.ndim != 0:
        raise ValueError(
            f"metric must return a scalar (0-d tensor), got shape {tuple(value.shape)}; "
            "average over the batch, e.g. return logit_diff.mean()"
        )
    return value


def metric_positions(metric: Metric, logits: torch.Tensor) -> list[int]:
    """Return the positions whose logits the metric reads, found by NaN-probing each position."""
    base = _scalar(metric, logits).detach().double()
    n_pos = logits.shape[1]
    if not torch.isfinite(base):
        return list(range(n_pos))
    probe = logits.clone()
    read = []
    for pos in range(n_pos):
        saved = probe[:, pos].clone()
        probe[:, pos] = float("nan")
        value = torch.as_tensor(metric(probe)).detach().double()
        probe[:, pos] = saved
        if not bool(value == base):
            read.append(pos)
    # Joint check: with every other position NaN the metric must be unchanged.
    unread = [p for p in range(n_pos) if p not in read]
    if unread:
        probe[:, unread] = float("nan")
        value = torch.as_tensor(metric(probe)).detach().double()
        if not bool(value == base):
            return list(range(n_pos))
    return read or [n_pos - 1]


# ---------------------------------------------------------------------------
# Caches
# ---------------------------------------------------------------------------
def _name(kind: str, layer: int) -> str:
    return {
        "resid_pre": f"blocks.{layer}.hook_resid_pre",
        "resid_mid": f"blocks.{layer}.hook_resid_mid",
        "resid_post": f"blocks.{layer}.hook_resid_post",
        "z": f"blocks.{layer}.attn.hook_z",
        "attn_out": f"blocks.{layer}.hook_attn_out",
        "mlp_out": f"blocks.{layer}.hook_mlp_out",
    }[kind]


def _run_cache(model: Any, tokens: torch.Tensor, kinds: Sequence[str]):
    names = {_name(k, L) for k in kinds for L in range(model.cfg.n_layers)}
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    acts = {
        k: [cache[_name(k, L)].detach() for L in range(model.cfg.n_layers)]
        for k in kinds
    }
    return logits.detach(), acts


# ---------------------------------------------------------------------------
# The fast path: the model's own norms and MLPs, attention from its weights
# ---------------------------------------------------------------------------
def _fast_path_reason(model: Any) -> str | None:
    """Why the fast path cannot run this model (None if it can)."""
    cfg = model.cfg
    checks = [
        (
            (getattr(cfg, "positional_embedding_type", "standard") or "standard")
            == "standard",
            "positional embeddings are not 'standard'",
        ),
        (
            getattr(cfg, "attention_dir", "causal") == "causal",
            "attention is not causal",
        ),
        (
            not getattr(cfg, "parallel_attn_mlp", False),
            "attention and MLP run in parallel",
        ),
        (
            getattr(cfg, "n_key_value_heads", None) in (None, cfg.n_heads),
            "grouped-query attention",
        ),
        (getattr(cfg, "attn_scores_soft_cap", -1.0) <= 0, "attention soft cap"),
        (getattr(cfg, "output_logits_soft_cap", -1.0) <= 0, "logit soft cap"),
        (not getattr(cfg, "use_local_attn", False), "local attention"),
        (not getattr(cfg, "use_qk_norm", False), "query/key norms"),
        (not getattr(cfg, "use_normalization_before_and_after", False), "extra norms"),
        (getattr(cfg, "per_layer_head_dim", None) is None, "per-layer head sizes"),
        (
            hasattr(model, "blocks")
            and hasattr(model, "ln_final")
            and hasattr(model, "unembed"),
            "no blocks / ln_final / unembed",
        ),
    ]
    for ok, reason in checks:
        if not ok:
            return reason
    return None


class _Engine:
    """Runs blocks on the positions from ``p`` on, reusing the corrupted run's keys and values before ``p``."""

    def __init__(self, model: Any):
        cfg = model.cfg
        self.model = model
        self.n_layers, self.n_heads, self.d_head = cfg.n_layers, cfg.n_heads, cfg.d_head
        self.attn_only = bool(getattr(cfg, "attn_only", False))
        H, dh = self.n_heads, self.d_head
        with torch.no_grad():
            W_Q, W_K, W_V, W_O = model.W_Q, model.W_K, model.W_V, model.W_O
            b_Q, b_K, b_V, b_O = model.b_Q, model.b_K, model.b_V, model.b_O
            d = W_Q.shape[-2]
            # [layer, d_model, 3 * n_heads * d_head]
            self.W_qkv = torch.cat(
                [
                    W.permute(0, 2, 1, 3).reshape(self.n_layers, d, H * dh)
                    for W in (W_Q, W_K, W_V)
                ],
                dim=-1,
            ).contiguous()
            self.b_qkv = torch.cat(
                [b.reshape(self.n_layers, H * dh) for b in (b_Q, b_K, b_V)], dim=-1
            )
            self.W_O = W_O.reshape(
                self.n_layers, H * dh, d
            ).contiguous()  # [layer, H*dh, d]
            self.b_O = b_O  # [layer, d_model]
        scale = (
            cfg.attn_scale
            if (cfg.use_attn_scale and cfg.attn_scale > 0)
            else math.sqrt(dh)
        )
        if not cfg.use_attn_scale:
            scale = 1.0
        self.scales = [
            scale
            * ((L + 1) if getattr(cfg, "scale_attn_by_inverse_layer_idx", False) else 1)
            for L in range(self.n_layers)
        ]
        self.K: list[torch.Tensor] = []  # corrupted keys per layer [batch, H, pos, dh]
        self.V: list[torch.Tensor] = []

    # -- pieces --------------------------------------------------------------
    def attn_out(self, L: int, z: torch.Tensor) -> torch.Tensor:
        """Attention output of layer L from z [..., H, dh] -> [..., d_model]."""
        return z.flatten(-2) @ self.W_O[L] + self.b_O[L]

    def mlp(self, L: int, resid_mid: torch.Tensor) -> torch.Tensor:
        """MLP output of layer L (zero for attention-only models)."""
        if self.attn_only:
            return torch.zeros_like(resid_mid)
        block = self.model.blocks[L]
        return block.mlp(block.ln2(resid_mid))

    def after_attn(self, L: int, resid_mid: torch.Tensor) -> torch.Tensor:
        """Residual after block L given its resid_mid."""
        return resid_mid + self.mlp(L, resid_mid)

    def qkv(self, L: int, x: torch.Tensor):
        """Queries, keys and values [S, H, R, dh] of residual rows x [S, R, d]."""
        S, R, _ = x.shape
        qkv = self.model.blocks[L].ln1(x) @ self.W_qkv[L] + self.b_qkv[L]
        qkv = qkv.view(S, R, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def layer(
        self,
        L: int,
        x: torch.Tensor,
        p: int,
        batch: int,
        out_rows: list[int] | None = None,
    ) -> torch.Tensor:
        """Block L on rows x [S, R, d] at positions p.. (S = cells * batch); keys before p from the corrupted run."""
        S, R, d = x.shape
        n_cells = S // batch
        q, k, v = self.qkv(L, x)
        if p > 0:
            k = torch.cat([self._prefix(self.K[L], p, n_cells), k], dim=2)
            v = torch.cat([self._prefix(self.V[L], p, n_cells), v], dim=2)
        rows = list(range(R)) if out_rows is None else out_rows
        if out_rows is not None:
            q = q[:, :, out_rows]
            x = x[:, out_rows]
        scores = q @ k.transpose(-1, -2) / self.scales[L]  # [S, H, rows, p + R]
        query_pos = torch.tensor(rows, device=x.device)[:, None] + p
        key_pos = torch.arange(p + R, device=x.device)[None, :]
        mask = key_pos > query_pos
        scores = scores.masked_fill(mask, float("-inf"))
        pattern = torch.softmax(scores, dim=-1)
        z = (pattern @ v).transpose(1, 2)  # [S, rows, H, dh]
        resid_mid = x + self.attn_out(L, z)
        return self.after_attn(L, resid_mid)

    def _prefix(self, t: torch.Tensor, p: int, n_cells: int) -> torch.Tensor:
        b = t.shape[0]
        pre = t[:, :, :p]
        return (
            pre.unsqueeze(0)
            .expand(n_cells, *pre.shape)
            .reshape(n_cells * b, *pre.shape[1:])
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of residual rows x [..., d_model]."""
        return self.model.unembed(self.model.ln_final(x))

    # -- the corrupted run, checked against the model -------------------------
    def verify(
        self,
        resid_pre: list[torch.Tensor],
        final: torch.Tensor,
        logits: torch.Tensor,
        n_pos: int,
        read: list[int],
    ) -> str | None:
        """Recompute the corrupted run layer by layer, storing keys/values; None if it matches."""
        batch = resid_pre[0].shape[0]
        x = resid_pre[0][:, :n_pos]
        self.K, self.V = [], []
        for L in range(self.n_layers):
            _, k, v = self.qkv(L, x)
            self.K.append(k)
            self.V.append(v)
            x = self.layer(L, x, 0, batch)
            ref = (
                resid_pre[L + 1][:, :n_pos]
                if L + 1 < self.n_layers
                else final[:, :n_pos]
            )
            if not _close(x, ref):
                return f"residual stream after layer {L} differs from the model's"
        if not _close(self.logits(x[:, read]), logits[:, read]):
            return "logits differ from the model's"
        return None


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4) -> bool:
    scale = float(b.abs().max()) if b.numel() else 0.0
    return float((a - b).abs().max()) <= rtol * max(scale, 1.0)


# ---------------------------------------------------------------------------
# Sweeps: cells, entry rows, staggered batches
# ---------------------------------------------------------------------------
@dataclass
class _Cell:
    index: tuple  # where the value goes in the output
    start: (
        int  # the layer the patched residual enters (n_layers: straight to the unembed)
    )
    pos: int  # first position that differs from the corrupted run
    row: Any = None  # callable -> rows [batch, R, d] of the residual entering `start`


class _Sweep:
    """Shared state of one patching sweep: caches, metric positions, the fast engine or the hook fallback."""

    def __init__(
        self,
        model,
        clean_tokens,
        corrupted_tokens,
        metric,
        corrupted_kinds,
        clean_kinds,
        clean_acts=None,
        fast=None,
    ):
        self.model, self.metric = model, metric
        self.corrupted_tokens = corrupted_tokens
        self.batch, self.n_pos = corrupted_tokens.shape
        self.n_layers = model.cfg.n_layers
        kinds = sorted(set(corrupted_kinds) | {"resid_pre"})
        self.logits, self.corr = _run_cache(
            model, corrupted_tokens, kinds + ["resid_post"]
        )
        if clean_acts is not None:
            self.clean = clean_acts
        elif clean_kinds:
            _, self.clean = _run_cache(model, clean_tokens, clean_kinds)
        else:
            self.clean = {}
        self.baseline = float(_scalar(metric, self.logits))
        self.read = metric_positions(metric, self.logits)
        self.end = (
            max(self.read) + 1
        )  # positions from `end` on cannot change the metric
        self.engine = None
        reason = _fast_path_reason(model) if fast is not False else "fast=False"
        if reason is None:
            with torch.no_grad():
                self.engine = _Engine(model)
                reason = self.engine.verify(
                    self.corr["resid_pre"],
                    self.corr["resid_post"][-1],
                    self.logits,
                    self.end,
                    self.read,
                )
            if reason is not None:
                self.engine = None
        if reason is not None and fast is True:
            raise RuntimeError(f"fast patching unavailable: {reason}")
        if reason is not None and fast is None and reason != "fast=False":
            warnings.warn(
                f"neuralcircuits.science.patching: fast path off ({reason}); patching through hooks",
                stacklevel=3,
            )

    def resid_in(self, layer: int) -> torch.Tensor:
        """Corrupted residual entering `layer` (layer n_layers: the final residual)."""
        if layer < self.n_layers:
            return self.corr["resid_pre"][layer]
        return self.corr["resid_post"][-1]

    def rows_with(self, layer: int, pos: int, row: torch.Tensor) -> torch.Tensor:
        """Corrupted rows pos..end entering `layer`, with row `pos` replaced: [batch, R, d]."""
        rows = self.resid_in(layer)[:, pos : self.end].clone()
        rows[:, 0] = row
        return rows

    # -- fast sweep ------------------------------------------------------------
    def run(
        self,
        cells: list[_Cell],
        out: torch.Tensor,
        desc: str,
        progress: bool | None,
        max_rows: int = MAX_ROWS,
        max_logit_elements: int = MAX_LOGIT_ELEMENTS,
    ) -> torch.Tensor:
        """Fill out[cell.index] with the metric of every cell's patched run."""
        live = []
        for cell in cells:
            if cell.pos >= self.end:
                out[cell.index] = (
                    self.baseline
                )  # the patch cannot reach a position the metric reads
            else:
                live.append(cell)
        chunks = self._chunks(live, max_rows, max_logit_elements)
        show = progress if progress is not None else len(live) >= PROGRESS_MIN_CELLS
        bar = tqdm(total=len(live), desc=desc, disable=not show, leave=False)
        buffer = self.logits.clone()
        with torch.no_grad():
            for pos, chunk in chunks:
                values = self._run_chunk(pos, chunk, buffer)
                for cell, value in zip(chunk, values, strict=True):
                    out[cell.index] = value
                bar.update(len(chunk))
        bar.close()
        return out

    def _chunks(self, cells, max_rows, max_logit_elements):
        by_pos: dict[int, list[_Cell]] = {}
        for cell in cells:
            by_pos.setdefault(cell.pos, []).append(cell)
        vocab = self.logits.shape[-1]
        chunks = []
        for pos in sorted(by_pos, reverse=True):
            group = sorted(by_pos[pos], key=lambda c: c.start)
            R = self.end - pos
            n_read = len([r for r in self.read if r >= pos])
            per_cell = max(
                1,
                min(
                    max_rows // (self.batch * R),
                    max_logit_elements // (self.batch * n_read * vocab),
                ),
            )
            for i in range(0, len(group), per_cell):
                chunks.append((pos, group[i : i + per_cell]))
        return chunks

    def _run_chunk(
        self, pos: int, chunk: list[_Cell], buffer: torch.Tensor
    ) -> list[float]:
        eng, b = self.engine, self.batch
        read_here = [r - pos for r in self.read if r >= pos]
        read_before = [r for r in self.read if r < pos]
        x = None
        first = min(c.start for c in chunk)
        for L in range(first, self.n_layers):
            entering = [c.row() for c in chunk if c.start == L]
            if entering:
                x = torch.cat(
                    ([x] if x is not None else []) + [e for e in entering], dim=0
                )
            last = L == self.n_layers - 1
            x = eng.layer(L, x, pos, b, out_rows=read_here if last else None)
        entering = [c.row()[:, read_here] for c in chunk if c.start == self.n_layers]
        if entering:
            x = torch.cat(([x] if x is not None else []) + entering, dim=0)
        logits = eng.logits(x)  # [cells * batch, n_read, vocab]
        values = []
        read_here_abs = [r + pos for r in read_here]
        for i in range(len(chunk)):
            if read_before:
                buffer[:, read_before] = self.logits[:, read_before]
            buffer[:, read_here_abs] = logits[i * b : (i + 1) * b]
            values.append(float(_scalar(self.metric, buffer)))
        return values

    # -- hook fallback -----------------------------------------------------------
    def run_hooks(
        self,
        patches: list[tuple[tuple, str, int, Any, Any, torch.Tensor]],
        out: torch.Tensor,
        desc: str,
        progress: bool | None,
        max_rows: int = MAX_ROWS,
    ) -> torch.Tensor:
        """Patch through the model's hooks: (index, kind, layer, pos|None, head|None, source) per cell."""
        per_chunk = max(1, max_rows // (self.batch * self.n_pos))
        show = progress if progress is not None else len(patches) >= PROGRESS_MIN_CELLS
        b = self.batch
        with torch.no_grad():
            for i in tqdm(
                range(0, len(patches), per_chunk),
                desc=desc,
                disable=not show,
                leave=False,
            ):
                chunk = patches[i : i + per_chunk]
                hooks: dict[str, list] = {}
                for c, (_, kind, layer, pos, head, source) in enumerate(chunk):
                    hooks.setdefault(_name(kind, layer), []).append(
                        (c, pos, head, source)
                    )

                def hook_fn(act, hook, todo):
                    act = act.clone()
                    for c, pos, head, source in todo:
                        sl = slice(c * b, (c + 1) * b)
                        pos_ix = slice(None) if pos is None else pos
                        if head is None:
                            act[sl, pos_ix] = source[:, pos_ix]
                        else:
                            act[sl, pos_ix, head] = source[:, pos_ix, head]
                    return act

                tokens = self.corrupted_tokens.repeat(len(chunk), 1)
                fwd = [(n, _partial(hook_fn, todo)) for n, todo in hooks.items()]
                logits = self.model.run_with_hooks(tokens, fwd_hooks=fwd)
                for c, (index, *_rest) in enumerate(chunk):
                    out[index] = float(
                        _scalar(self.metric, logits[c * b : (c + 1) * b])
                    )
        return out


def _partial(fn, todo):
    return lambda act, hook: fn(act, hook, todo)


# ---------------------------------------------------------------------------
# Public patching functions
# ---------------------------------------------------------------------------
def _head_cells(
    sw: _Sweep, source_z: list[torch.Tensor], by_pos: bool, layers: Sequence[int]
):
    """Cells of a head sweep; source_z[L] [batch, pos, H, dh] is patched into the corrupted z."""
    eng, H = sw.engine, sw.model.cfg.n_heads
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
                        _Cell((L, p, h), L + 1, p, _rows_fn(sw, L + 1, p, post[p, h]))
                    )
            for p in range(P, sw.n_pos):
                for h in range(H):
                    cells.append(_Cell((L, p, h), L + 1, p))
        else:
            for h in range(H):
                cells.append(
                    _Cell((L, h), L + 1, 0, _all_pos_head_fn(sw, L, h, source_z[L]))
                )
    return cells


def _rows_fn(sw, layer, pos, row):
    return lambda: sw.rows_with(layer, pos, row)


def _all_pos_head_fn(sw, L, h, source):
    def rows():
        z = sw.corr["z"][L][:, : sw.end].clone()
        z[:, :, h] = source[:, : sw.end, h]
        mid = sw.corr["resid_pre"][L][:, : sw.end] + sw.engine.attn_out(L, z)
        return sw.engine.after_attn(L, mid)

    return rows


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
    _check_pair(model, clean_tokens, corrupted_tokens)
    sw = _Sweep(model, clean_tokens, corrupted_tokens, metric, ["z"], ["z"], fast=fast)
    return _head_sweep(
        sw, sw.clean["z"], by_pos, progress, "patch heads", layers, positions
    )


def _head_sweep(
    sw: _Sweep, source_z, by_pos, progress, desc, layers=None, positions=None
) -> torch.Tensor:
    nL, H, P = sw.n_layers, sw.model.cfg.n_heads, sw.n_pos
    if positions is not None and not by_pos:
        raise ValueError("positions= only applies to by_pos=True")
    layers = sorted(set(range(nL) if layers is None else (L % nL for L in layers)))
    positions = sorted(
        set(range(P) if positions is None else (p % P for p in positions))
    )
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


def _layer_pos_sweep(
    model,
    clean_tokens,
    corrupted_tokens,
    metric,
    kind,
    progress,
    fast,
    layers=None,
    positions=None,
):
    _check_pair(model, clean_tokens, corrupted_tokens)
    corr_kinds = ["resid_mid"] if kind == "mlp_out" else []
    sw = _Sweep(
        model, clean_tokens, corrupted_tokens, metric, corr_kinds, [kind], fast=fast
    )
    nL, P = sw.n_layers, sw.n_pos
    layers = sorted(set(range(nL) if layers is None else (L % nL for L in layers)))
    positions = sorted(
        set(range(P) if positions is None else (p % P for p in positions))
    )
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
                rows = src[L][:, : sw.end]  # [batch, P, d]
                start = L
            elif kind == "attn_out":
                mid = sw.corr["resid_pre"][L][:, : sw.end] + src[L][:, : sw.end]
                rows, start = eng.after_attn(L, mid), L + 1
            else:  # mlp_out
                rows = sw.corr["resid_mid"][L][:, : sw.end] + src[L][:, : sw.end]
                start = L + 1
            for p in positions:
                row = rows[:, p] if p < sw.end else None
                cells.append(_Cell((L, p), start, p, _rows_fn(sw, start, p, row)))
    return sw.run(cells, out, f"patch {kind}", progress)


def patch_resid(
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
    """Patch the clean residual stream (resid_pre) by layer and position: [n_layers, pos] (as TL's get_act_patch_resid_pre)."""
    return _layer_pos_sweep(
        model,
        clean_tokens,
        corrupted_tokens,
        metric,
        "resid_pre",
        progress,
        fast,
        layers,
        positions,
    )


def patch_attn_out(
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
    """Patch each layer's clean attention output by position: [n_layers, pos] (as TL's get_act_patch_attn_out)."""
    return _layer_pos_sweep(
        model,
        clean_tokens,
        corrupted_tokens,
        metric,
        "attn_out",
        progress,
        fast,
        layers,
        positions,
    )


def patch_mlp_out(
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
    """Patch each layer's clean MLP output by position: [n_layers, pos] (as TL's get_act_patch_mlp_out)."""
    return _layer_pos_sweep(
        model,
        clean_tokens,
        corrupted_tokens,
        metric,
        "mlp_out",
        progress,
        fast,
        layers,
        positions,
    )


# ---------------------------------------------------------------------------
# Mean ablation
# ---------------------------------------------------------------------------
def mean_activations(
    model: Any, reference_tokens: torch.Tensor
) -> dict[Component, torch.Tensor]:
    """Mean over the reference batch, by position, of every head's z [pos, d_head], MLP and attention output [pos, d_model]."""
    _check_model(model)
    _check_tokens(reference_tokens, "reference_tokens")
    _, acts = _run_cache(model, reference_tokens, ["z", "mlp_out", "attn_out"])
    means: dict[Component, torch.Tensor] = {}
    for L in range(model.cfg.n_layers):
        z = acts["z"][L].mean(0)  # [pos, H, dh]
        for h in range(model.cfg.n_heads):
            means[Component("head", L, h)] = z[:, h]
        means[Component("mlp", L)] = acts["mlp_out"][L].mean(0)
        means[Component("attn", L)] = acts["attn_out"][L].mean(0)
    return means


def _ablation_hooks(model, components, means, n_pos):
    by_hook: dict[str, list] = {}
    for comp in components:
        comp = Component.parse(comp)
        if not 0 <= comp.layer < model.cfg.n_layers:
            raise ValueError(
                f"component {comp} is outside the model's {model.cfg.n_layers} layers"
            )
        key = comp if comp.kind != "head" else Component("head", comp.layer, comp.head)
        if key not in means:
            raise KeyError(
                f"no mean for component {comp}; build means with mean_activations"
            )
        mean = means[key]
        if mean.shape[0] != n_pos:
            raise ValueError(
                f"the mean of {comp} covers {mean.shape[0]} positions but the tokens have "
                f"{n_pos}; use reference prompts of the same length"
            )
        kind = {"head": "z", "mlp": "mlp_out", "attn": "attn_out"}[comp.kind]
        by_hook.setdefault(_name(kind, comp.layer), []).append((comp.head, mean))

    def make(todo):
        def hook(act, hook):
            act = act.clone()
            for head, mean in todo:
                if head is None:
                    act[:] = mean
                else:
                    act[:, :, head] = mean
            return act

        return hook

    return [(name, make(todo)) for name, todo in by_hook.items()]


def ablate(
    model: Any,
    tokens: torch.Tensor,
    components: Iterable[Any],
    means: dict[Component, torch.Tensor],
    metric: Metric,
) -> torch.Tensor:
    """Return metric(logits) with all the given components mean-ablated at once (a scalar tensor)."""
    _check_model(model)
    _check_tokens(tokens, "tokens")
    hooks = _ablation_hooks(model, list(components), means, tokens.shape[1])
    with torch.no_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
    return _scalar(metric, logits).detach()


def ablate_each_head(
    model: Any,
    tokens: torch.Tensor,
    means: dict[Component, torch.Tensor],
    metric: Metric,
    by_pos: bool = False,
    *,
    progress: bool | None = None,
    fast: bool | None = None,
) -> torch.Tensor:
    """Mean-ablate one head at a time: the metric, [n_layers, n_heads] or [n_layers, pos, n_heads] by position."""
    _check_model(model)
    _check_tokens(tokens, "tokens")
    nL, H = model.cfg.n_layers, model.cfg.n_heads
    batch, P = tokens.shape
    source = []
    for L in range(nL):
        z = torch.stack(
            [means[Component("head", L, h)] for h in range(H)], dim=1
        )  # [pos, H, dh]
        if z.shape[0] != P:
            raise ValueError(f"means cover {z.shape[0]} positions but tokens have {P}")
        source.append(z.unsqueeze(0).expand(batch, *z.shape))
    sw = _Sweep(model, tokens, tokens, metric, ["z"], [], fast=fast)
    return _head_sweep(sw, source, by_pos, progress, "ablate heads")


# ---------------------------------------------------------------------------
# Attribution patching
# ---------------------------------------------------------------------------
class _Stop(Exception):
    pass


def _clean_z(model: Any, tokens: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's z on tokens, stopping the forward pass after the last layer's z."""
    nL = model.cfg.n_layers
    zs: list[torch.Tensor] = [None] * nL  # type: ignore[list-item]

    def store(L):
        def hook(act, hook):
            zs[L] = act.detach()
            if L == nL - 1:
                raise _Stop
            return act

        return hook

    try:
        with torch.no_grad():
            model.run_with_hooks(
                tokens, fwd_hooks=[(_name("z", L), store(L)) for L in range(nL)]
            )
    except _Stop:
        pass
    return zs


def attribution_patch_heads(
    model: Any,
    clean_tokens: torch.Tensor,
    corrupted_tokens: torch.Tensor,
    metric: Metric,
    by_pos: bool = False,
) -> torch.Tensor:
    """Gradient x (clean - corrupted) head output: [n_layers, n_heads] or [n_layers, pos, n_heads].

    A first-order estimate of ``patch_heads(...) - metric(corrupted logits)``
    (Nanda 2023, "Attribution patching"), from one clean forward pass (stopped
    after the last layer's z) and one corrupted forward and backward pass.
    """
    _check_pair(model, clean_tokens, corrupted_tokens)
    nL = model.cfg.n_layers
    z_clean = _clean_z(model, clean_tokens)
    z_corr: list[torch.Tensor] = [None] * nL  # type: ignore[list-item]
    probes: list[torch.Tensor] = [None] * nL  # type: ignore[list-item]

    def grab(L):
        # z + 0: the gradient with respect to the zero is the metric's gradient
        # with respect to z, and the graph through later layers stays whole.
        def hook(act, hook):
            z_corr[L] = act.detach()
            probes[L] = torch.zeros_like(act, requires_grad=True)
            return act + probes[L]

        return hook

    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            logits = model.run_with_hooks(
                corrupted_tokens,
                fwd_hooks=[(_name("z", L), grab(L)) for L in range(nL)],
            )
            value = _scalar(metric, logits)
            if not value.requires_grad:
                raise ValueError(
                    "metric must be computed from the logits with torch operations"
                )
            grads = torch.autograd.grad(value, probes)
    finally:
        for p in params:
            p.requires_grad_(True)
    out = []
    for L in range(nL):
        contrib = grads[L] * (z_clean[L] - z_corr[L])  # [batch, pos, H, dh]
        out.append(contrib.sum(dim=(0, 3)) if by_pos else contrib.sum(dim=(0, 1, 3)))
    return torch.stack(out).detach()


# ---------------------------------------------------------------------------
# Logit lens
# ---------------------------------------------------------------------------
def logit_lens(
    model: Any, tokens: torch.Tensor, pos: int | None = None
) -> torch.Tensor:
    """The residual stream after the embedding and after each layer, through ln_final and the unembedding.

    Returns ``[n_layers + 1, batch, pos, d_vocab]``, or ``[n_layers + 1, batch, d_vocab]``
    at one position ``pos`` (e.g. -1 for the last). Row ``n_layers`` equals the model's logits.
    """
    _check_model(model)
    _check_tokens(tokens, "tokens")
    _, acts = _run_cache(model, tokens, ["resid_pre", "resid_post"])
    stack = torch.stack(
        acts["resid_pre"] + [acts["resid_post"][-1]]
    )  # [L+1, batch, pos, d]
    if pos is not None:
        stack = stack[:, :, pos]
    with torch.no_grad():
        return model.unembed(model.ln_final(stack))
