"""The prompts lesson 04, its widgets and its video study, built the same way everywhere.

One call gives, per task, aligned clean / corrupted / random datasets over the
three templates, filtered as the paper filters (Lan, Torr & Barez, arXiv
2311.04131): a row is kept only if the model gets it right, with p(correct) >
2 p(incorrect), in **every** task, so the three tasks share nouns and starts
row by row.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from neuralcircuits.science import (
    circuit_discovery,
    disk_cache,
    patching,
    sequences,
    toy_seq,
)
from neuralcircuits.science.hooks import activations, hook_name
from neuralcircuits.science.members import N_VALUES

N_PROMPTS = 96  # rows per task before filtering (32 per template)
SEED = 0


@dataclass
class TaskData:
    """Aligned datasets of one task."""

    clean: sequences.SequenceDataset
    corrupted: sequences.SequenceDataset  # last member repeated: the patching baseline
    random: sequences.SequenceDataset  # random members: the mean-ablation reference

    def __len__(self) -> int:
        return len(self.clean)


def prompt_maker(model: Any) -> Any:
    """``make_dataset``, or for the course's toy models the held-out version.

    A toy model never saw the (first word, last word) pairs of
    ``toy_seq.held_out`` in training, so every prompt the lesson measures it
    on is new to it.
    """
    from neuralcircuits.science.models import model_name

    if model_name(model) in toy_seq.MODEL_DIRS:
        return toy_seq.held_out_dataset
    return sequences.make_dataset


def build_task_data(
    model: Any, n: int | None = None, seed: int = SEED, filter_rows: bool = True
) -> tuple[dict[str, TaskData], dict[str, float]]:
    """Per task, the filtered datasets (n rows before filtering, default ``N_PROMPTS``);
    and per task, the share of rows that passed alone.
    """
    n = N_PROMPTS if n is None else n
    make = prompt_maker(model)
    raw = {
        task: TaskData(
            *(
                make(model.tokenizer, task, kind, "all", n, seed)
                for kind in sequences.KINDS
            )
        )
        for task in sequences.TASKS
    }
    passed = {task: sequences.filter_correct(model, d.clean) for task, d in raw.items()}
    rates = {task: float(p.float().mean()) for task, p in passed.items()}
    if not filter_rows:
        return raw, rates
    keep = torch.stack(list(passed.values())).all(0)
    if int(keep.sum()) == 0:
        raise ValueError(
            "no prompt passes the filter in every task; the model cannot do the tasks"
        )
    data = {
        task: TaskData(
            d.clean.subset(keep), d.corrupted.subset(keep), d.random.subset(keep)
        )
        for task, d in raw.items()
    }
    return data, rates


# Prompts per task each analysis uses on a model as large as GPT-2 small. A
# small model (toy-seq) is cheap, so it uses every prompt. Patching compares
# two runs that differ in one token and gives nearly the same map on every
# prompt; the paper's own patching notebooks used 6 to 8. Ablation and pruning
# compare means of the logit difference, so they get more. The edits of
# sections 9 and 10 (surgery, value-subspace patching, steering) report the
# share of prompts whose top answer moves: 24 prompts, 8 per template, give
# it to about 4 points.
ANALYSIS_PROMPTS = {"patching": 8, "ablation": 12, "edits": 24}


def is_large(model: Any) -> bool:
    """Whether a model is too large to run every analysis on every prompt (GPT-2 small is)."""
    return model.cfg.d_model * model.cfg.n_layers >= 4096


def analysis_size(model: Any, analysis: str) -> int:
    """Prompts per task an analysis uses: ``N_PROMPTS`` on a small model,
    ``ANALYSIS_PROMPTS[analysis]`` on a large one.
    """
    return ANALYSIS_PROMPTS[analysis] if is_large(model) else N_PROMPTS


def analysis_rows(model: Any, data: TaskData, analysis: str) -> TaskData:
    """The rows an analysis uses: all of them on a small model; on a large one
    ``ANALYSIS_PROMPTS[analysis]``, spread evenly over the templates.
    """
    n = ANALYSIS_PROMPTS[analysis]
    if not is_large(model) or len(data) <= n:
        return data
    templates = data.clean.templates or [data.clean.template] * len(data)
    names = list(dict.fromkeys(templates))
    by_name = {t: [i for i, x in enumerate(templates) if x == t] for t in names}
    keep: list[int] = []
    for k in range(len(data)):  # round robin over the templates
        for t in names:
            if k < len(by_name[t]) and len(keep) < n:
                keep.append(by_name[t][k])
    keep.sort()
    return TaskData(*(getattr(data, kind).subset(keep) for kind in sequences.KINDS))


def ablation_setup(model: Any, data: TaskData) -> circuit_discovery.AblationSetup:
    """``circuit_discovery.ablation_setup`` on the task's ablation rows, the means from every random prompt."""
    rows = analysis_rows(model, data, "ablation")
    return circuit_discovery.ablation_setup(model, rows.clean, data.random)


# How long each section's expensive cell takes, in wall times of one forward
# pass of 8 of the lesson's prompts (``forward_seconds``). Measured with
# ``tooling.lesson_run`` on GPT-2 small's shape with random weights, on an
# idle 2-core machine where that pass took 0.24 s. Random weights let
# pruning remove most components in its first pass, so its figure is a
# lower bound for trained weights.
SECTION_COST = {
    "patching": 280.0,
    "ablation": 330.0,
    "pruning": 345.0,
    "surgery": 200.0,  # the whole section: under a minute on that machine
}
CACHED_SECTIONS = {"patching", "ablation", "pruning"}  # with bars, kept on disk
_forward_s: dict[int, float] = {}


def forward_seconds(model: Any, data: TaskData) -> float:
    """Seconds one forward pass of 8 of the task's prompts takes here (measured once per model)."""
    if id(model) not in _forward_s:
        tokens = data.clean.tokens[:8]
        with torch.no_grad():
            start = time.perf_counter()
            model(tokens)
            _forward_s[id(model)] = time.perf_counter() - start
    return _forward_s[id(model)]


def _duration(seconds: float) -> str:
    """'80 seconds', '2 minutes': a rounded duration to read."""
    if seconds < 90:
        return f"{round(seconds, -1):.0f} seconds"
    return f"{round(seconds / 60):.0f} minutes"


def announce(model: Any, data: TaskData, section: str) -> float:
    """Estimate a section's time on this machine; say so when it is over a minute. Returns seconds."""
    estimate = SECTION_COST[section] * forward_seconds(model, data)
    if estimate > 60:
        text = (
            f"This section takes about {_duration(estimate)} on this machine "
            f"({model.cfg.n_layers} layers x {model.cfg.n_heads} heads)."
        )
        if section in CACHED_SECTIONS:
            text += " Progress bars below show how far it is."
            folder = disk_cache.cache_dir()
            if folder is not None:
                text += f" A second run reads the results from {folder}."
        print(textwrap.fill(text, 78))
    return estimate


def example_prompts(
    data: dict[str, TaskData], row: int = 0
) -> list[tuple[str, str, str]]:
    """(task, kind, prompt) of one row of every task and kind."""
    out = []
    for task, d in data.items():
        for kind in sequences.KINDS:
            out.append((task, kind, getattr(d, kind).prompts[row]))
    return out


def each_model(
    models: dict[str, tuple[Any, Any]],
) -> Iterator[tuple[str, tuple[Any, Any]]]:
    """``models.items()``, each model run with the CPU threads that suit it
    (``recommended_threads``); the threads as they were afterwards.
    """
    threads = torch.get_num_threads()
    try:
        for label, (m, task_data) in models.items():
            torch.set_num_threads(threads if is_large(m) else 1)
            yield label, (m, task_data)
    finally:
        torch.set_num_threads(threads)


def recommended_threads(model: Any) -> int:
    """CPU threads for this model: one for a model as small as toy-seq, else all.

    A tiny model gains nothing from a second thread and, on a busy machine,
    loses a lot waiting for it; GPT-2 small uses every core.
    """
    small = model.cfg.d_model * model.cfg.n_layers < 4096
    return 1 if small else max(1, torch.get_num_threads())


@torch.no_grad()
def lens_summary(
    model: Any, dataset: sequences.SequenceDataset
) -> dict[str, torch.Tensor]:
    """Logit lens at the final position, per layer  # each [n_layers + 1].

    ``logit_diff``: mean logit difference read from the residual stream after
    the embedding (row 0) and after each layer; ``answer_top1``: share of
    prompts whose top token there is the answer; ``last_member_top1``: share
    whose top token is the last member shown (the "copy" before the "+1").
    """
    from neuralcircuits.science.final_position import final_position_run

    # the residual stream at the final position at every depth, as the logits read it
    resid = final_position_run(model, dataset.tokens).resid  # [L + 1, batch, d_model]
    lens = model.unembed(model.ln_final(resid)).float()  # [L + 1, batch, d_vocab]
    ids = sequences.member_token_ids(sequences.get_tokenizer(model), dataset.task)
    last_member = ids[dataset.member_ids[:, -1]]
    rows = torch.arange(len(dataset))
    top = lens.argmax(-1)  # [L + 1, batch]
    diff = lens[:, rows, dataset.answers] - lens[:, rows, dataset.wrong_answers]
    return {
        "logit_diff": diff.mean(1),
        "answer_top1": (top == dataset.answers).float().mean(1),
        "last_member_top1": (top == last_member).float().mean(1),
    }


@torch.no_grad()
def answer_kept_when_earlier_members_change(
    model: Any, dataset: sequences.SequenceDataset, seed: int = 0
) -> float:
    """Share of prompts whose top-1 stays when the members before the last are
    replaced by random other members (the last member kept).
    """
    g = torch.Generator().manual_seed(seed)
    ids = sequences.member_token_ids(sequences.get_tokenizer(model), dataset.task)
    tokens = dataset.tokens.clone()
    for slot in range(dataset.member_pos.shape[1] - 1):
        shown = dataset.member_ids[:, slot]
        other = (
            shown + torch.randint(1, N_VALUES, shown.shape, generator=g)
        ) % N_VALUES  # never the same
        tokens[torch.arange(len(dataset)), dataset.member_pos[:, slot]] = ids[other]
    before = sequences.clean_last_logits(model, dataset.tokens).argmax(-1)
    after = sequences.last_logits(model, tokens).argmax(-1)
    return (before == after).float().mean().item()


@torch.no_grad()
def attention_view(
    model: Any, dataset: sequences.SequenceDataset, prompt: int, layer: int, head: int
) -> tuple[list[str], torch.Tensor]:
    """(the prompt's tokens as text, the head's attention pattern  # [pos, pos])."""
    name = hook_name("pattern", layer)
    tokens = dataset.tokens[prompt : prompt + 1]
    cache = activations(model, tokens, [name])
    tok = sequences.get_tokenizer(model)
    words = [tok.decode([int(t)]) for t in tokens[0]]
    return words, cache[name][0, head].float()


def patching_results(
    model: Any, data: TaskData, progress: bool | None = True, cache: bool = True
) -> dict[str, Any]:
    """Every patching sweep of one task, normalised: 0 = corrupted run, 1 = clean run.

    Runs on the task's patching rows (``analysis_rows``; they are under
    "data"); with ``cache`` the result is kept on disk (``disk_cache``).
    """
    data = analysis_rows(model, data, "patching")
    tensors = [
        data.clean.tokens,
        data.corrupted.tokens,
        data.clean.answers,
        data.clean.wrong_answers,
    ]

    def compute() -> dict[str, Any]:
        return _patching_results(model, data, progress)

    out = (
        disk_cache.cached("patching", model, tensors, {}, compute)
        if cache
        else compute()
    )
    return {**out, "data": data}


def by_position_columns(
    model: Any, clean: torch.Tensor, corrupted: torch.Tensor
) -> list[int] | None:
    """The positions heads are patched at one by one: every position on a small model;
    on a large one, where the prompts differ and the final position (the rest are NaN).

    A head's output at a position after the change can carry it too, but on
    GPT-2 small each of those columns costs as much as the two kept together.
    """
    if not is_large(model):
        return None
    differ = (clean != corrupted).any(0).nonzero().flatten().tolist()
    return sorted({*differ, clean.shape[1] - 1})


def _patching_results(
    model: Any, data: TaskData, progress: bool | None
) -> dict[str, Any]:
    clean, corrupted = data.clean.tokens, data.corrupted.tokens

    metric = sequences.logit_diff_metric(data.clean)

    with torch.no_grad():  # the metric reads the last position only
        base_clean = float(metric(sequences.last_logits(model, clean)[:, None]))
        base_corrupted = float(metric(sequences.last_logits(model, corrupted)[:, None]))
    span = base_clean - base_corrupted

    def norm(x: torch.Tensor) -> torch.Tensor:
        return (x - base_corrupted) / span

    # one clean and one corrupted run, cached once, for every sweep below
    runs = patching.shared_sweep(model, clean, corrupted, metric)
    kw: dict[str, Any] = {"progress": progress, "shared": runs}
    return {
        "clean": base_clean,
        "corrupted": base_corrupted,
        "residual stream": norm(
            patching.patch_resid(model, clean, corrupted, metric, **kw)
        ),
        "attention output": norm(
            patching.patch_attn_out(model, clean, corrupted, metric, **kw)
        ),
        "MLP output": norm(
            patching.patch_mlp_out(model, clean, corrupted, metric, **kw)
        ),
        "heads": norm(patching.patch_heads(model, clean, corrupted, metric, **kw)),
        "heads by position": norm(
            patching.patch_heads(
                model,
                clean,
                corrupted,
                metric,
                by_pos=True,
                positions=by_position_columns(model, clean, corrupted),
                **kw,
            )
        ),
        "attention output, all positions": norm(
            patching.patch_attn_out_all_pos(model, clean, corrupted, metric, **kw)
        ),
        "MLP output, all positions": norm(
            patching.patch_mlp_out_all_pos(model, clean, corrupted, metric, **kw)
        ),
        "tokens": data.clean.tokens[0],
    }
