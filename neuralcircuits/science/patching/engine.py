"""The fast path: the model's own norms and MLPs, attention computed from its weights.

A patch at position ``p`` cannot change what positions before ``p`` compute, so
``FastEngine`` runs blocks only on positions from ``p`` on, with the keys and
values before ``p`` taken from the corrupted run.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def fast_path_reason(model: Any) -> str | None:
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


class FastEngine:
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
        if not cfg.use_attn_scale:
            scale = 1.0
        else:
            scale = cfg.attn_scale if cfg.attn_scale > 0 else math.sqrt(dh)
        self.scales = [
            scale
            * ((L + 1) if getattr(cfg, "scale_attn_by_inverse_layer_idx", False) else 1)
            for L in range(self.n_layers)
        ]
        self.K: list[torch.Tensor] = []  # corrupted keys per layer [batch, H, pos, dh]
        self.V: list[torch.Tensor] = []
        self._columns: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

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
        S, R, _ = x.shape
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

    def logit_columns(self, x: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """The logits of residual rows x [..., d_model] at the vocabulary entries ``cols`` only  # [..., len(cols)].

        A metric that reads two tokens per prompt needs two columns of the
        unembedding, not GPT-2's 50,257.
        """
        key = tuple(cols.tolist())
        if key not in self._columns:
            W_U, b_U = self.model.W_U, getattr(self.model, "b_U", None)
            W = W_U[:, cols].contiguous()
            b = b_U[cols] if b_U is not None else torch.zeros(len(cols), dtype=W.dtype)
            self._columns[key] = (W, b)
        W, b = self._columns[key]
        return self.model.ln_final(x) @ W + b

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
            if not close(x, ref):
                return f"residual stream after layer {L} differs from the model's"
        if not close(self.logits(x[:, read]), logits[:, read]):
            return "logits differ from the model's"
        return None


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4) -> bool:
    """Whether a equals b within rtol of b's largest magnitude (at least 1)."""
    scale = float(b.abs().max()) if b.numel() else 0.0
    return float((a - b).abs().max()) <= rtol * max(scale, 1.0)
