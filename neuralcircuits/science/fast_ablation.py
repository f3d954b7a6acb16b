"""Mean-ablated runs for circuit discovery, computing only what an ablation can change.

``circuit_discovery`` scores a set of ablated components by the mean logit
difference at the last position. Two facts make most of a plain forward pass
unnecessary, with the same numbers:

- below the lowest ablated layer the run is the clean run, so every ablated
  run starts from the clean residual stream cached once (and, during
  pruning, from the current circuit's own residual stream: a candidate that
  differs from the current circuit at layer L shares everything below L);
- the metric reads the last position only, so the last layer computes its
  attention query, MLP and the unembedding for that one position.

The blocks are the model's own LayerNorms and MLPs with attention computed from
its weights (``patching.engine.FastEngine``). Exactness is checked, not
assumed: :func:`runner_for` compares the fast path with the model's hooks on
the clean run and on one ablated run, and returns None (the caller falls back
to hooks) when they differ or the architecture is not one the engine knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from neuralcircuits.science.patching import Component
from neuralcircuits.science.patching.engine import FastEngine, close, fast_path_reason
from neuralcircuits.science.patching.sweep import layer_activations

MAX_FAST_ROWS = (
    512  # prompt rows per stacked pass (bounds the MLP's hidden activations)
)


class AblationRunner:
    """Mean-ablated runs of one ablation setup on the fast engine."""

    def __init__(self, model: Any, setup: Any):
        cfg = model.cfg
        self.model = model
        self.eng = FastEngine(model)
        self.n_layers, self.n_heads = cfg.n_layers, cfg.n_heads
        self.has_mlp = not getattr(cfg, "attn_only", False)
        tokens = setup.tokens
        self.rows, self.n_pos = tokens.shape
        acts = layer_activations(model, tokens, ["resid_pre"])
        self.clean_resid = acts["resid_pre"]  # per layer [rows, pos, d]
        groups = setup.groups
        H = self.n_heads
        self.z_mean = [
            torch.stack(
                [setup.means[Component("head", L, h)] for h in range(H)], dim=2
            )[groups]
            for L in range(self.n_layers)
        ]  # per layer [rows, pos, H, dh]
        # per layer [rows, pos, d]; none for an attention-only model
        self.mlp_mean: list[torch.Tensor] = (
            [setup.means[Component("mlp", L)][groups] for L in range(self.n_layers)]
            if self.has_mlp
            else []
        )
        self.answers = setup.dataset.answers
        self.wrong = setup.dataset.wrong_answers

    # -- masks -------------------------------------------------------------------
    def masks(self, config: Iterable[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(heads [n_layers, n_heads], MLPs [n_layers]) boolean masks of the ablated components."""
        heads = torch.zeros(self.n_layers, self.n_heads, dtype=torch.bool)
        mlps = torch.zeros(self.n_layers, dtype=torch.bool)
        for comp in config:
            comp = Component.parse(comp)
            if comp.kind == "head":
                heads[comp.layer, comp.head] = True
            elif comp.kind == "mlp":
                mlps[comp.layer] = True
            else:
                raise ValueError(f"cannot ablate {comp}: use heads and MLPs")
        return heads, mlps

    def lowest_layer(self, heads: torch.Tensor, mlps: torch.Tensor) -> int:
        """The first layer anything is ablated in (the last layer if nothing is)."""
        touched = (heads.any(1) | mlps).nonzero()
        return int(touched[0]) if len(touched) else self.n_layers - 1

    # -- one block ---------------------------------------------------------------
    def layer(
        self,
        L: int,
        x: torch.Tensor,
        heads: torch.Tensor,
        mlps: torch.Tensor,
        last_only: bool,
    ) -> torch.Tensor:
        """Block L on x [C * rows, pos, d] with config c's heads[c] / mlps[c] of this layer ablated."""
        eng, rows = self.eng, self.rows
        C = heads.shape[0]
        P = x.shape[1]
        q, k, v = eng.qkv(L, x)  # [S, H, P, dh]
        Q = 1 if last_only else P
        if last_only:
            q = q[:, :, -1:]
        scores = q @ k.transpose(-1, -2) / eng.scales[L]  # [S, H, Q, P]
        query_pos = torch.arange(P - Q, P)[:, None]
        key_pos = torch.arange(P)[None, :]
        scores = scores.masked_fill(key_pos > query_pos, float("-inf"))
        z = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2)  # [S, Q, H, dh]
        if heads.any():
            mean = self.z_mean[L][:, P - Q :]  # [rows, Q, H, dh]
            z = z.reshape(C, rows, *z.shape[1:])
            z = torch.where(
                heads[:, None, None, :, None], mean.unsqueeze(0), z
            ).flatten(0, 1)
        x = x[:, P - Q :]
        mid = x + eng.attn_out(L, z)
        if not self.has_mlp:
            return mid
        out = eng.mlp(L, mid)
        if mlps.any():
            mean = self.mlp_mean[L][:, P - Q :]  # [rows, Q, d]
            out = out.reshape(C, rows, *out.shape[1:])
            out = torch.where(
                mlps[:, None, None, None], mean.unsqueeze(0), out
            ).flatten(0, 1)
        return mid + out

    # -- runs --------------------------------------------------------------------
    @torch.no_grad()
    def run_from(
        self,
        start: int,
        x: torch.Tensor,
        heads: torch.Tensor,
        mlps: torch.Tensor,
        keep: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Mean logit difference per config [C] from residual x [rows, pos, d] entering `start`.

        ``heads`` [C, n_layers, n_heads], ``mlps`` [C, n_layers]; with ``keep``
        (one config) also the residual entering each layer after `start`.
        """
        C = heads.shape[0]
        x = x.repeat(C, 1, 1)
        kept = []
        for L in range(start, self.n_layers):
            last = L == self.n_layers - 1
            x = self.layer(L, x, heads[:, L], mlps[:, L], last_only=last)
            if keep and not last:
                kept.append(x)
        logits = self.eng.logits(x[:, -1]).float()  # [C * rows, vocab]
        r = torch.arange(C * self.rows)
        diff = logits[r, self.answers.repeat(C)] - logits[r, self.wrong.repeat(C)]
        return diff.view(C, self.rows).mean(1), kept

    def logit_diffs(
        self, configs: Sequence[Iterable[Any]], max_rows: int = MAX_FAST_ROWS
    ) -> torch.Tensor:
        """Mean logit difference with each configuration mean-ablated  # [n_configs]."""
        masks = [self.masks(c) for c in configs]
        out = torch.empty(len(configs))
        by_start: dict[int, list[int]] = {}
        for i, (h, m) in enumerate(masks):
            by_start.setdefault(self.lowest_layer(h, m), []).append(i)
        per_pass = max(1, max_rows // self.rows)
        for start, idx in sorted(by_start.items()):
            for j in range(0, len(idx), per_pass):
                chunk = idx[j : j + per_pass]
                heads = torch.stack([masks[i][0] for i in chunk])
                mlps = torch.stack([masks[i][1] for i in chunk])
                values, _ = self.run_from(start, self.clean_resid[start], heads, mlps)
                out[chunk] = values
        return out


def runner_for(model: Any, setup: Any) -> AblationRunner | None:
    """The setup's fast runner, built and checked on first use; None when the fast path is off."""
    cached = getattr(setup, "_fast_runner", None)
    if cached is not None and cached[0] is model:
        return cached[1]
    runner = None
    if fast_path_reason(model) is None:
        runner = AblationRunner(model, setup)
        if not _verify(runner, model, setup):
            runner = None
    setup._fast_runner = (model, runner)
    return runner


def _verify(runner: AblationRunner, model: Any, setup: Any) -> bool:
    """The fast path agrees with the model's hooks: clean, and one head and one MLP ablated."""
    from neuralcircuits.science import circuit_discovery as cd

    L = runner.n_layers // 2
    config = [Component("head", L, 0)] + (
        [Component("mlp", L)] if runner.has_mlp else []
    )
    # [head 0.0] runs every layer on the fast path, so a hook anywhere shows
    configs = [[], [Component("head", 0, 0)], config]
    ref = cd.hooked_logit_diffs(model, setup, configs)
    fast = runner.logit_diffs(configs)
    return close(fast, ref, rtol=1e-4)
