"""Run a lesson's solution top to bottom, cell by cell, timing every cell and section.

``python -m neuralcircuits.tooling.lesson_run 04 --model gpt2-shaped`` runs
lesson 04 on a model of GPT-2 small's exact shape (12 layers x 12 heads,
d_model 768, GPT-2's real tokenizer; random weights, so the compute is the
real one). Random weights fail the paper's correctness filter, so the filter
is bypassed and every prompt stays (96 per task). ``--model toy-seq`` runs it
on the course's model as a learner does, and ``--model gpt2-reduced`` on the
test suite's reduced GPT-2 shape (2 layers, d_model 192).

The solution is split into its jupytext cells (``# %%``) and run in one
namespace, as a notebook kernel would; each code cell's wall time, CPU time
(user + system of every thread of this process) and the process's peak
resident memory are recorded, and cells are grouped by the lesson section
(``## N. ...``) they belong to. The bench (``make bench``) and the tests use
the same function, :func:`run_lesson`.

Seconds depend on the machine (the same code runs twice as long on some
machines of the same kind), so a run also times its **reference pass**, in
the same process, a few times before the lesson and a few times after
(:func:`reference_pass`): one full forward pass of the model over the
lesson's 96 prompts of one task, logits of every position included. The
lesson's cost and each section's are reported as that many reference
passes, a figure that does not depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import torch

from neuralcircuits.tooling.paths import BUILD, SOLUTIONS, lesson_scripts

TOY_MODELS = ("toy-seq", "toy-seq-separate")
_CELL = re.compile(r"^# %%(.*)$")
_SECTION = re.compile(r"^# (## \d+\..*)$")


@dataclass
class LessonCell:
    """One jupytext cell: the section it sits in, its kind ("code"/"markdown"), tags and source."""

    index: int
    section: str
    kind: str
    tags: list[str]
    source: str


def lesson_cells(path: Path) -> list[LessonCell]:
    """The cells of a jupytext percent-format script, each with the section it belongs to."""
    cells: list[LessonCell] = []
    section = "setup"
    header: str | None = None
    lines: list[str] = []

    def flush():
        nonlocal section
        if header is None:
            return
        kind = "markdown" if "[markdown]" in header else "code"
        tags = (
            re.findall(r'"([^"]+)"', header.split("tags=", 1)[1])
            if "tags=" in header
            else []
        )
        if kind == "markdown":
            for line in lines:
                m = _SECTION.match(line)
                if m:
                    section = m.group(1)[3:].strip()
        cells.append(LessonCell(len(cells), section, kind, tags, "\n".join(lines)))

    for line in path.read_text().splitlines():
        m = _CELL.match(line)
        if m:
            flush()
            header, lines = m.group(1), []
        elif header is not None:
            lines.append(line)
    flush()
    return cells


@dataclass
class CellTime:
    """The cost of one lesson cell: wall and CPU seconds and peak memory."""

    index: int
    section: str
    wall_s: float
    cpu_s: float
    first_line: str
    peak_rss_mb: float = (
        0.0  # the process's peak so far: the cell where it jumps set it
    )


@dataclass
class LessonRun:
    """Times of one run of a lesson: per cell, per section, in total; peak memory; the namespace."""

    lesson: str
    model: str
    cells: list[CellTime] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    reference_times: list[float] = field(default_factory=list)  # s, before and after
    scope: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def reference_s(self) -> float | None:
        """Median wall time of the reference pass (None: not timed)."""
        return statistics.median(self.reference_times) if self.reference_times else None

    def passes(self, seconds: float) -> float | None:
        """Seconds as a number of reference passes (None: not timed)."""
        ref = self.reference_s
        return None if ref is None else seconds / ref

    def sections(self) -> dict[str, tuple[float, float]]:
        """Per section, in lesson order: (wall s, CPU s)."""
        out: dict[str, tuple[float, float]] = {}
        for c in self.cells:
            w, u = out.get(c.section, (0.0, 0.0))
            out[c.section] = (w + c.wall_s, u + c.cpu_s)
        return out

    def table(self) -> str:
        """Wall and CPU seconds and reference passes per section, as a printed table."""

        def passes(w: float) -> str:
            p = self.passes(w)
            return "" if p is None else f"{p:>9.1f}"

        lines = [f"{'section':<58}{'wall s':>9}{'CPU s':>9}{'passes':>9}"]
        for name, (w, u) in self.sections().items():
            lines.append(f"{name[:57]:<58}{w:>9.1f}{u:>9.1f}{passes(w)}")
        lines.append(
            f"{'total':<58}{self.wall_s:>9.1f}{self.cpu_s:>9.1f}{passes(self.wall_s)}"
        )
        if self.reference_s is not None:
            lines.append(
                f"reference pass (one full forward pass over the lesson's 96 prompts, "
                f"logits included) {self.reference_s:.2f} s: median of "
                + ", ".join(f"{t:.2f}" for t in self.reference_times)
            )
        lines.append(
            f"peak memory {self.peak_rss_mb:.0f} MB; load average at the end "
            f"{self.load_average[0]:.1f} on {os.cpu_count()} CPUs"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data (for build/bench.json)."""
        return {
            "lesson": self.lesson,
            "model": self.model,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "peak_rss_mb": self.peak_rss_mb,
            "load_average": list(self.load_average),
            "reference_s": self.reference_s,
            "reference_times": self.reference_times,
            "passes": self.passes(self.wall_s),
            "sections": {
                k: {"wall_s": w, "cpu_s": u, "passes": self.passes(w)}
                for k, (w, u) in self.sections().items()
            },
            "cells": [c.__dict__ for c in self.cells],
        }


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux's ``VmHWM`` first: ``ru_maxrss`` survives ``exec``, so a lesson run
    started by a larger process (the bench) would report its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def model_for(name: str) -> Any:
    """The model a run uses: "gpt2-shaped" (GPT-2 small's shape), "gpt2-reduced" (the tests'), "toy-seq"."""
    from neuralcircuits.science import models

    if name == "gpt2-shaped":
        return models.random_gpt2(n_layers=12, n_heads=12, d_model=768, seed=0)
    if name == "gpt2-reduced":
        return models.random_gpt2(n_layers=2, n_heads=12, d_model=192, seed=0)
    if name == "toy-seq":
        return models.load_model("toy-seq", verbose=False)
    raise ValueError(f"unknown model {name!r}: gpt2-shaped, gpt2-reduced or toy-seq")


def reference_tokens(model: Any) -> torch.Tensor:
    """The lesson's prompts of one task (numerals, clean), all of them  # [96, pos]."""
    from neuralcircuits.science import circuit_study as study

    make = study.prompt_maker(model)
    ds = make(model.tokenizer, "numerals", "clean", "all", study.N_PROMPTS, study.SEED)
    return ds.tokens


@torch.no_grad()
def reference_pass(model: Any, repeats: int = 3) -> list[float]:
    """Wall seconds of ``repeats`` reference passes (after one untimed): one full
    forward pass of ``model`` over the lesson's 96 prompts, logits of every
    position included, with the CPU threads the lesson uses on this model.
    """
    from neuralcircuits.science import circuit_study as study

    tokens = reference_tokens(model)
    threads = torch.get_num_threads()
    torch.set_num_threads(study.recommended_threads(model))
    try:
        model(tokens)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(tokens)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return times


@contextlib.contextmanager
def lesson_environment(
    model: Any, bypass_filter: bool, n_prompts: int | None = None
) -> Iterator[None]:
    """``load_model`` returns ``model``; with ``bypass_filter`` (random weights) every prompt
    passes the filter and prediction checks are skipped; ``N_PROMPTS`` if given.
    """
    import matplotlib

    matplotlib.use("Agg")
    from neuralcircuits.science import circuit_study, models, sequences
    from neuralcircuits.teaching import checking
    from neuralcircuits.teaching.sequence_circuits import checks
    from neuralcircuits.teaching.sequence_circuits.checks import (
        patching_attribution,
        task_attention,
    )

    real_load = models.load_model

    def load(name="toy-seq", verbose=True):
        # the lesson's model for "auto" / "gpt2"; the course's toy models (which
        # checks and the lesson's contrast ask for by name) as on a learner's machine
        return real_load(name, verbose=False) if name in TOY_MODELS else model

    patches: list[Any] = [mock.patch.object(models, "load_model", load)]
    if bypass_filter:
        patches.append(
            mock.patch.object(
                sequences,
                "filter_correct",
                lambda model, ds, *a, **k: torch.ones(len(ds), dtype=torch.bool),
            )
        )
        # random weights make no prediction about a head come true: checks of
        # the learner's predictions are for trained models
        # (the lesson imports it from its part's module; the package re-exports it)
        for module in (checks, task_attention):
            patches.append(
                mock.patch.object(module, "check_head_prediction", lambda *a, **k: None)
            )
        patches.append(
            mock.patch.object(checking, "check_choice", lambda *a, **k: None)
        )
    if n_prompts is not None:
        patches.append(mock.patch.object(circuit_study, "N_PROMPTS", n_prompts))
    threads = torch.get_num_threads()
    patching_attribution._patch_reference.cache_clear()  # the patching check loads its model through load_model
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            patching_attribution._patch_reference.cache_clear()


def run_lesson(
    path: Path,
    model: Any,
    *,
    label: str = "",
    bypass_filter: bool = False,
    n_prompts: int | None = None,
    log: Callable[[str], None] | None = None,
    reference: int = 0,
) -> LessonRun:
    """Run every code cell of the lesson at ``path`` on ``model``; return the times.

    With ``reference`` > 0, the reference pass is timed that many times before
    the lesson and as many after (``reference_pass``), in this process.
    """
    import matplotlib.pyplot as plt

    run = LessonRun(path.stem, label)
    if reference:
        run.reference_times += reference_pass(model, reference)
    scope: dict[str, Any] = {"__name__": "__main__", "__file__": str(path)}
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    with lesson_environment(model, bypass_filter, n_prompts), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in lesson_cells(path):
            if cell.kind != "code":
                continue
            code = compile(cell.source, f"{path.name}[cell {cell.index}]", "exec")
            w, u = time.perf_counter(), time.process_time()
            exec(code, scope)
            plt.close("all")
            first = next(
                (s for s in cell.source.splitlines() if s and not s.startswith("#")), ""
            )
            ct = CellTime(
                cell.index,
                cell.section,
                time.perf_counter() - w,
                time.process_time() - u,
                first[:60],
                _peak_rss_mb(),
            )
            run.cells.append(ct)
            if log is not None:
                log(
                    f"  cell {ct.index:>3} {ct.wall_s:8.1f} s wall {ct.cpu_s:8.1f} s CPU "
                    f"{ct.peak_rss_mb:7.0f} MB peak  {ct.first_line}"
                )
    run.wall_s = time.perf_counter() - start_wall
    run.cpu_s = time.process_time() - start_cpu
    run.peak_rss_mb = _peak_rss_mb()
    run.load_average = os.getloadavg()
    run.scope = scope
    if reference:
        run.reference_times += reference_pass(model, reference)
    return run


def lesson_path(number: str) -> Path:
    """solutions/NN_*.py of lesson ``number`` ("04")."""
    for path in lesson_scripts(SOLUTIONS):
        if path.name.startswith(f"{int(number):02d}_"):
            return path
    raise FileNotFoundError(f"no lesson {number} in {SOLUTIONS}")


def main(argv: list[str] | None = None) -> int:
    """Time one lesson cell by cell on a model (``python -m neuralcircuits.tooling.lesson_run 04``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lesson", nargs="?", default="04")
    parser.add_argument(
        "--model",
        default="gpt2-shaped",
        choices=["gpt2-shaped", "gpt2-reduced", "toy-seq"],
    )
    parser.add_argument("--out", default=None, help="JSON file for the times")
    parser.add_argument(
        "--reference",
        type=int,
        default=3,
        help="reference passes timed before the lesson and again after (default 3; 0: none)",
    )
    args = parser.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    log(f"building {args.model} ...")
    model = model_for(args.model)
    run = run_lesson(
        lesson_path(args.lesson),
        model,
        label=args.model,
        bypass_filter=args.model != "toy-seq",
        log=log,
        reference=args.reference,
    )
    print(run.table())
    out = (
        Path(args.out) if args.out else BUILD / f"lesson{args.lesson}-{args.model}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    import json

    out.write_text(json.dumps(run.as_dict(), indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
