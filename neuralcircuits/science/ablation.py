"""Mean ablation for circuit discovery: the logit difference with components ablated.

The one place circuit discovery asks for "the logit difference with these
components mean-ablated" (``ablated_logit_diffs``; pruning's shrinking circuit
is ``CircuitAblation``). The means are the paper's (Lan, Torr & Barez 2023):
taken over reference prompts with random, non-sequential members, per
template group and per position (``ablation_setup``). Two paths give the
same numbers:

- through the model's hooks (``hooked_logit_diffs``), many configurations
  stacked into one batch;
- on the fast path (``AblationRunner``), which computes only what an
  ablation can change: below the lowest ablated layer the run is the clean
  run, so every ablated run starts from the clean residual stream cached once;
  a configuration asked for alone starts from the nearest configuration
  already run (during pruning, the current circuit: a candidate that differs
  from it at layer L shares everything below L), and a configuration already
  run is not run again; the metric reads the last position only, so the last
  layer computes its attention query, MLP and the unembedding for that one
  position, and of the unembedding only the columns of the answers and the
  wrong answers. The blocks are the model's own LayerNorms and MLPs with
  attention computed from its weights (``patching.engine.FastEngine``).

Exactness is checked, not assumed: :func:`runner_for` compares the fast path
with the hooks on the clean run and on two ablated runs, and returns None (the
hooks are used) when they differ or the architecture is not one the engine
knows. (``patching.ablate`` is the other kind of ablation in the library: one
set of components, one mean over all prompts, any metric.)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from neuralcircuits.science import disk_cache, sequences
from neuralcircuits.science.hooks import hook_name
from neuralcircuits.science.patching import Component, mean_activations
from neuralcircuits.science.patching.engine import FastEngine, close, fast_path_reason
from neuralcircuits.science.patching.sweep import layer_activations

MAX_STACKED_PROMPTS = 2048  # prompt rows in one stacked forward pass (hooks)


# ---------------------------------------------------------------------------
# The means, per template group; the one function; the hooks
# ---------------------------------------------------------------------------
@dataclass
class AblationSetup:
    """Clean prompts, the template group of each row, and per-group reference means."""

    dataset: sequences.SequenceDataset
    groups: torch.Tensor  # [batch] long, template group of each row
    group_names: list[str]
    means: dict[
        Component, torch.Tensor
    ]  # [n_groups, pos, d_head] or [n_groups, pos, d_model]
    full: float = 0.0  # logit difference of the full model

    @property
    def tokens(self) -> torch.Tensor:
        """The clean tokens  # [batch, pos]."""
        return self.dataset.tokens


def ablation_setup(
    model: Any, clean: sequences.SequenceDataset, reference: sequences.SequenceDataset
) -> AblationSetup:
    """Means of every component over the reference prompts of each template (the paper's recipe).

    The means are kept on disk (``disk_cache``) like the results computed
    from them, so running the cell again costs one short pass.
    """
    if clean.tokens.shape[1] != reference.tokens.shape[1]:
        raise ValueError("clean and reference prompts must have the same length")
    names = sorted(set(clean.templates) or {clean.template})
    ref_templates = reference.templates or [reference.template] * len(reference)
    groups_rows = []
    for name in names:
        rows = [i for i, t in enumerate(ref_templates) if t == name]
        if not rows:
            raise ValueError(f"the reference set has no prompts of template {name!r}")
        groups_rows.append(rows)

    def compute() -> dict[Component, torch.Tensor]:
        per_group = [mean_activations(model, reference.tokens[r]) for r in groups_rows]
        return {c: torch.stack([g[c] for g in per_group]) for c in per_group[0]}

    group_tokens = [reference.tokens[r] for r in groups_rows]
    means = disk_cache.cached("ablation-means", model, group_tokens, {}, compute)
    row_templates = clean.templates or [clean.template] * len(clean)
    groups = torch.tensor([names.index(t) for t in row_templates], dtype=torch.long)
    setup = AblationSetup(clean, groups, names, means)
    setup.full = float(ablated_logit_diffs(model, setup, [[]])[0])
    return setup


def _hooks(
    model: Any, setup: AblationSetup, configs: Sequence[Iterable[Any]], rows: int
):
    """Forward hooks that mean-ablate configs[c] in the c-th block of ``rows`` prompts."""
    n_cfg = len(configs)
    H = model.cfg.n_heads
    head_mask: dict[int, torch.Tensor] = {}
    mlp_mask: dict[int, torch.Tensor] = {}
    for c, config in enumerate(configs):
        for comp in config:
            comp = Component.parse(comp)
            if comp.kind == "head":
                head_mask.setdefault(
                    comp.layer, torch.zeros(n_cfg, H, dtype=torch.bool)
                )
                head_mask[comp.layer][c, comp.head] = True
            elif comp.kind == "mlp":
                mlp_mask.setdefault(comp.layer, torch.zeros(n_cfg, dtype=torch.bool))
                mlp_mask[comp.layer][c] = True
            else:
                raise ValueError(f"cannot ablate {comp}: use heads and MLPs")
    groups = setup.groups

    def z_hook(layer):
        mean = torch.stack(
            [setup.means[Component("head", layer, h)] for h in range(H)], dim=2
        )  # [n_groups, pos, H, d_head]
        per_row = mean[groups]  # [rows, pos, H, d_head]
        mask = head_mask[layer][:, None, None, :, None]  # [cfg, 1, 1, H, 1]

        def hook(z, hook):
            z = z.view(n_cfg, rows, *z.shape[1:])
            return torch.where(mask, per_row.unsqueeze(0), z).flatten(0, 1)

        return hook

    def mlp_hook(layer):
        per_row = setup.means[Component("mlp", layer)][groups]  # [rows, pos, d_model]
        mask = mlp_mask[layer][:, None, None, None]

        def hook(x, hook):
            x = x.view(n_cfg, rows, *x.shape[1:])
            return torch.where(mask, per_row.unsqueeze(0), x).flatten(0, 1)

        return hook

    hooks = [(hook_name("z", L), z_hook(L)) for L in head_mask]
    hooks += [(hook_name("mlp_out", L), mlp_hook(L)) for L in mlp_mask]
    return hooks


@torch.no_grad()
def ablated_logit_diffs(
    model: Any,
    setup: AblationSetup,
    configs: Sequence[Iterable[Any]],
    max_rows: int = MAX_STACKED_PROMPTS,
) -> torch.Tensor:
    """Mean logit difference with each configuration's components mean-ablated  # [n_configs].

    On the fast path (each run starts from the clean residual stream below its
    lowest ablated layer; the last layer and the unembedding run at the last
    position only) when that path verified on this setup, else through the
    model's hooks (``hooked_logit_diffs``); the same numbers.
    """
    configs = [list(c) for c in configs]
    runner = runner_for(model, setup)
    if runner is not None:
        return runner.logit_diffs(configs)
    return hooked_logit_diffs(model, setup, configs, max_rows)


@torch.no_grad()
def hooked_logit_diffs(
    model: Any,
    setup: AblationSetup,
    configs: Sequence[Iterable[Any]],
    max_rows: int = MAX_STACKED_PROMPTS,
) -> torch.Tensor:
    """``ablated_logit_diffs`` through the model's forward hooks, many configurations stacked  # [n_configs]."""
    configs = [list(c) for c in configs]
    tokens = setup.tokens
    rows = tokens.shape[0]
    per_pass = max(1, max_rows // rows)
    out = []
    for i in range(0, len(configs), per_pass):
        chunk = configs[i : i + per_pass]
        hooks = _hooks(model, setup, chunk, rows)
        stacked = tokens.repeat(len(chunk), 1)
        logits = sequences.last_logits(model, stacked, fwd_hooks=hooks)
        logits = logits.view(len(chunk), rows, -1)  # [cfg, rows, vocab]
        right = logits[:, torch.arange(rows), setup.dataset.answers]  # [cfg, rows]
        wrong = logits[:, torch.arange(rows), setup.dataset.wrong_answers]
        out.append((right - wrong).mean(1))
    return torch.cat(out)


# ---------------------------------------------------------------------------
# The fast path
# ---------------------------------------------------------------------------
MAX_FAST_ROWS = (
    512  # prompt rows per stacked pass (bounds the MLP's hidden activations)
)
KEPT_RUNS = 8  # residual streams of single runs kept to start later runs from


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
        # the metric reads two logits per prompt: unembed those columns only
        self.cols, where = torch.unique(
            torch.cat([self.answers, self.wrong]), return_inverse=True
        )
        self.answer_col, self.wrong_col = where[: self.rows], where[self.rows :]
        # every configuration run so far: its mean logit difference
        self.values: dict[tuple[bytes, bytes], float] = {}
        # single runs kept whole: masks and the residual entering each layer
        self.kept: OrderedDict[
            tuple[bytes, bytes], tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]
        ] = OrderedDict()

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

    @staticmethod
    def key(heads: torch.Tensor, mlps: torch.Tensor) -> tuple[bytes, bytes]:
        """A configuration's masks as a dictionary key."""
        return heads.numpy().tobytes(), mlps.numpy().tobytes()

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
        # the answer's and the wrong answer's logits only  # [C * rows, n_cols]
        logits = self.eng.logit_columns(x[:, -1], self.cols).float()
        r = torch.arange(C * self.rows)
        right = logits[r, self.answer_col.repeat(C)]
        diff = right - logits[r, self.wrong_col.repeat(C)]
        return diff.view(C, self.rows).mean(1), kept

    def logit_diffs(
        self,
        configs: Sequence[Iterable[Any]],
        max_rows: int = MAX_FAST_ROWS,
        remember: bool = True,
    ) -> torch.Tensor:
        """Mean logit difference with each configuration mean-ablated  # [n_configs].

        With ``remember``, a configuration run before is not run again, and a
        configuration asked for alone starts from the nearest single run kept
        (``run_one``); the others run stacked, each from its lowest ablated
        layer.
        """
        masks = [self.masks(c) for c in configs]
        keys = [self.key(h, m) for h, m in masks]
        todo: dict[tuple[bytes, bytes], int] = {}
        for i, k in enumerate(keys):
            if not (remember and k in self.values) and k not in todo:
                todo[k] = i
        if remember and len(todo) == 1:
            i = next(iter(todo.values()))
            self.run_one(*masks[i])
        elif todo:
            values = self._stacked([masks[i] for i in todo.values()], max_rows)
            for k, v in zip(todo, values.tolist(), strict=True):
                self.values[k] = v
            if not remember:
                return values[[list(todo).index(k) for k in keys]]
        return torch.tensor([self.values[k] for k in keys])

    def _stacked(
        self, masks: list[tuple[torch.Tensor, torch.Tensor]], max_rows: int
    ) -> torch.Tensor:
        """Runs stacked into batches, each from its lowest ablated layer  # [n]."""
        out = torch.empty(len(masks))
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

    def run_one(self, heads: torch.Tensor, mlps: torch.Tensor) -> float:
        """One configuration's mean logit difference, run from the nearest run kept.

        Two configurations that ablate the same components below layer L
        have the same residual stream entering L. The run starts from the
        kept run (or the clean run) that agrees with this one up to the
        highest layer, and is kept in turn (the last ``KEPT_RUNS``).
        """
        key = self.key(heads, mlps)
        if key in self.values:
            return self.values[key]
        start = self.lowest_layer(heads, mlps)
        resid = self.clean_resid
        base = None
        for k, (h, m, r) in self.kept.items():
            differ = ((h != heads).any(1) | (m != mlps)).nonzero()
            agree = int(differ[0]) if len(differ) else self.n_layers - 1
            if agree > start:
                start, resid, base = agree, r, k
        if base is not None:
            self.kept.move_to_end(base)  # the run others start from stays
        value, later = self.run_from(
            start, resid[start], heads[None], mlps[None], keep=True
        )
        self.values[key] = float(value[0])
        self.kept[key] = (heads, mlps, [*resid[: start + 1], *later])
        while len(self.kept) > KEPT_RUNS:
            self.kept.popitem(last=False)
        return self.values[key]


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
    L = runner.n_layers // 2
    config = [Component("head", L, 0)] + (
        [Component("mlp", L)] if runner.has_mlp else []
    )
    # [head 0.0] runs every layer on the fast path, so a hook anywhere shows
    configs = [[], [Component("head", 0, 0)], config]
    ref = hooked_logit_diffs(model, setup, configs)
    fast = runner.logit_diffs(configs)
    return close(fast, ref, rtol=1e-4)


# ---------------------------------------------------------------------------
# A circuit that pruning shrinks
# ---------------------------------------------------------------------------
class CircuitAblation:
    """A circuit that shrinks one component at a time, scored with everything outside it mean-ablated.

    ``logit_diff_without(comp)`` is the mean logit difference of the circuit
    without ``comp``; ``remove(comp)`` makes that the circuit. On the fast
    path the runner starts each candidate from the nearest run it kept (the
    current circuit: a candidate that differs from it at layer L shares
    everything below L) and runs no configuration twice. Otherwise each
    candidate is a whole run through ``ablated_logit_diffs``.
    """

    def __init__(self, model: Any, setup: AblationSetup, components: Iterable[Any]):
        self.model, self.setup = model, setup
        self.components = [Component.parse(c) for c in components]
        self.circuit = set(self.components)

    def ablated(self, circuit: set[Component]) -> list[Component]:
        """Every component outside ``circuit``, in the order given."""
        return [c for c in self.components if c not in circuit]

    def logit_diff_without(self, comp: Component) -> float:
        """Mean logit difference with everything outside the circuit, and ``comp``, mean-ablated."""
        candidate = self.circuit - {comp}
        config = self.ablated(candidate)
        return float(ablated_logit_diffs(self.model, self.setup, [config])[0])

    def remove(self, comp: Component) -> None:
        """Take ``comp`` out of the circuit (for good)."""
        self.circuit = self.circuit - {comp}


def setup_data(setup: AblationSetup) -> list:
    """What an ablation result depends on besides the model: prompts, answers, groups, means."""
    d = setup.dataset
    means = [
        setup.means[c]
        for c in sorted(setup.means, key=lambda c: (c.kind, c.layer, c.head or 0))
    ]
    return [d.tokens, d.answers, d.wrong_answers, setup.groups, means]
