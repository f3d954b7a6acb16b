"""One patching sweep: the runs it shares, its cells, and its two runners.

A sweep caches the corrupted run (and what the clean run contributes), finds
the positions the metric reads, and checks the fast engine against the
model's own forward pass. Its cells are then run stacked in batches, on the
fast engine when it verified, through the model's hooks otherwise.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from neuralcircuits.science.hooks import activations, hook_name
from neuralcircuits.science.patching.engine import FastEngine, fast_path_reason
from neuralcircuits.science.patching.inputs import (
    Metric,
    metric_columns,
    metric_positions,
    scalar,
)

# Bounds on memory: residual-stream rows in one stacked batch, logit entries.
MAX_PATCHED_ROWS = 8_192
MAX_LOGIT_ELEMENTS = 64 * 2**20
PROGRESS_MIN_CELLS = 200  # a sweep this long shows a progress bar by default


def run_cache(
    model: Any, tokens: torch.Tensor, kinds: Sequence[str]
) -> tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
    """(logits, {kind: [activation of each layer]}) of one run with the given hook kinds cached."""
    names = {hook_name(k, L) for k in kinds for L in range(model.cfg.n_layers)}
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    acts = {
        k: [cache[hook_name(k, L)].detach() for L in range(model.cfg.n_layers)]
        for k in kinds
    }
    return logits.detach(), acts


def layer_activations(
    model: Any, tokens: torch.Tensor, kinds: Sequence[str]
) -> dict[str, list[torch.Tensor]]:
    """{kind: [activation of each layer]} of one run that stops before the logits."""
    n = model.cfg.n_layers
    acts = activations(
        model, tokens, [hook_name(k, L) for k in kinds for L in range(n)]
    )
    return {k: [acts[hook_name(k, L)] for L in range(n)] for k in kinds}


@dataclass
class Cell:
    """One patched run: where its value goes, where the patch enters, how to build it."""

    index: tuple  # where the value goes in the output
    start: (
        int  # the layer the patched residual enters (n_layers: straight to the unembed)
    )
    pos: int  # first position that differs from the corrupted run
    row: Any = None  # callable -> rows [batch, R, d] of the residual entering `start`


class Sweep:
    """Shared state of one patching sweep: caches, metric positions, the fast engine or the hook fallback."""

    def __init__(
        self,
        model: Any,
        clean_tokens: torch.Tensor,
        corrupted_tokens: torch.Tensor,
        metric: Metric,
        *,
        corrupted_kinds: Sequence[str] = (),
        clean_kinds: Sequence[str] = (),
        fast: bool | None = None,
    ):
        self.model, self.metric = model, metric
        self.clean_tokens, self.corrupted_tokens = clean_tokens, corrupted_tokens
        self.corrupted_kinds = set(corrupted_kinds) | {"resid_pre", "resid_post"}
        self.clean_kinds = set(clean_kinds)
        self.batch, self.n_pos = corrupted_tokens.shape
        self.n_layers = model.cfg.n_layers
        kinds = sorted(set(corrupted_kinds) | {"resid_pre"})
        self.logits, self.corr = run_cache(
            model, corrupted_tokens, [*kinds, "resid_post"]
        )
        self.clean = (
            layer_activations(model, clean_tokens, clean_kinds) if clean_kinds else {}
        )
        self.baseline = float(scalar(metric, self.logits))
        self.read = metric_positions(metric, self.logits)
        # the vocabulary entries it reads there (None: all of them)
        self.cols = metric_columns(metric, self.logits, self.read)
        self.end = (
            max(self.read) + 1
        )  # positions from `end` on cannot change the metric
        # Before the first position where the clean and corrupted tokens differ
        # (in any row) the two runs are the same, so patching a clean activation
        # there changes nothing: those cells are the corrupted run's metric.
        self.same_before = 0
        if clean_kinds:
            differs = (clean_tokens != corrupted_tokens).any(0).nonzero()
            self.same_before = int(differs[0]) if len(differs) else self.n_pos
        self.engine: FastEngine | None = None
        reason = fast_path_reason(model) if fast is not False else "fast=False"
        if reason is None:
            with torch.no_grad():
                self.engine = FastEngine(model)
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
        cells: list[Cell],
        out: torch.Tensor,
        desc: str,
        progress: bool | None,
        max_rows: int = MAX_PATCHED_ROWS,
        max_logit_elements: int = MAX_LOGIT_ELEMENTS,
    ) -> torch.Tensor:
        """Fill out[cell.index] with the metric of every cell's patched run."""
        live = []
        for cell in cells:
            if cell.pos >= self.end or cell.pos < self.same_before:
                # The patch cannot reach a position the metric reads, or it
                # writes the value the corrupted run already has.
                out[cell.index] = self.baseline
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

    def _chunks(
        self, cells: list[Cell], max_rows: int, max_logit_elements: int
    ) -> list[tuple[int, list[Cell]]]:
        by_pos: dict[int, list[Cell]] = {}
        for cell in cells:
            by_pos.setdefault(cell.pos, []).append(cell)
        vocab = self.logits.shape[-1] if self.cols is None else len(self.cols)
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
        self, pos: int, chunk: list[Cell], buffer: torch.Tensor
    ) -> list[float]:
        eng, b = self.engine, self.batch
        if eng is None:
            raise RuntimeError("the fast path needs a verified FastEngine")
        read_here = [r - pos for r in self.read if r >= pos]
        read_before = [r for r in self.read if r < pos]
        x: torch.Tensor | None = None
        first = min(c.start for c in chunk)
        for L in range(first, self.n_layers):
            entering = [c.row() for c in chunk if c.start == L]
            if entering:
                x = torch.cat(
                    ([x] if x is not None else []) + [e for e in entering], dim=0
                )
            last = L == self.n_layers - 1
            assert x is not None  # the chunk's earliest cells entered at `first`
            x = eng.layer(L, x, pos, b, out_rows=read_here if last else None)
        entering = [c.row()[:, read_here] for c in chunk if c.start == self.n_layers]
        if entering:
            x = torch.cat(([x] if x is not None else []) + entering, dim=0)
        assert x is not None  # a chunk holds at least one cell
        values = []
        read_here_abs = [r + pos for r in read_here]
        if self.cols is not None:  # only the entries the metric reads
            logits = eng.logit_columns(x, self.cols)  # [cells * batch, n_read, n_cols]
            at = torch.tensor(read_here_abs)[:, None], self.cols[None, :]
        else:
            logits = eng.logits(x)  # [cells * batch, n_read, vocab]
        for i in range(len(chunk)):
            if read_before:
                buffer[:, read_before] = self.logits[:, read_before]
            if self.cols is not None:
                buffer[:, at[0], at[1]] = logits[i * b : (i + 1) * b]
            else:
                buffer[:, read_here_abs] = logits[i * b : (i + 1) * b]
            values.append(float(scalar(self.metric, buffer)))
        return values

    # -- hook fallback -----------------------------------------------------------
    def run_hooks(
        self,
        patches: list[tuple[tuple, str, int, Any, Any, torch.Tensor]],
        out: torch.Tensor,
        desc: str,
        progress: bool | None,
        max_rows: int = MAX_PATCHED_ROWS,
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
                    hooks.setdefault(hook_name(kind, layer), []).append(
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
                    out[index] = float(scalar(self.metric, logits[c * b : (c + 1) * b]))
        return out


def _partial(fn, todo):
    return lambda act, hook: fn(act, hook, todo)
