"""The prompts lesson 03, its widgets and its video study, built the same way everywhere.

One call gives, per task, aligned clean / corrupted / random datasets over the
three templates, filtered as the paper filters (Lan, Torr & Barez, arXiv
2311.04131): a row is kept only if the model gets it right, with p(correct) >
2 p(incorrect), in **every** task, so the three tasks share nouns and starts
row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from neuralcircuits.science import patching, sequences
from neuralcircuits.science.hooks import hook_name, replace_hook
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


def build_task_data(
    model: Any, n: int | None = None, seed: int = SEED, filter_rows: bool = True
) -> tuple[dict[str, TaskData], dict[str, float]]:
    """Per task, the filtered datasets (n rows before filtering, default ``N_PROMPTS``);
    and per task, the share of rows that passed alone.
    """
    n = N_PROMPTS if n is None else n
    raw = {
        task: TaskData(
            *(
                sequences.make_dataset(model, task, kind, "all", n, seed)
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


def example_prompts(
    data: dict[str, TaskData], row: int = 0
) -> list[tuple[str, str, str]]:
    """(task, kind, prompt) of one row of every task and kind."""
    out = []
    for task, d in data.items():
        for kind in sequences.KINDS:
            out.append((task, kind, getattr(d, kind).prompts[row]))
    return out


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
    from neuralcircuits.science.patching import logit_lens

    lens = logit_lens(model, dataset.tokens, pos=-1).float()  # [L + 1, batch, d_vocab]
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
    before = sequences.last_logits(model, dataset.tokens).argmax(-1)
    after = sequences.last_logits(model, tokens).argmax(-1)
    return (before == after).float().mean().item()


@torch.no_grad()
def attention_view(
    model: Any, dataset: sequences.SequenceDataset, prompt: int, layer: int, head: int
) -> tuple[list[str], torch.Tensor]:
    """(the prompt's tokens as text, the head's attention pattern  # [pos, pos])."""
    name = hook_name("pattern", layer)
    tokens = dataset.tokens[prompt : prompt + 1]
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n == name)
    tok = sequences.get_tokenizer(model)
    words = [tok.decode([int(t)]) for t in tokens[0]]
    return words, cache[name][0, head].float()


@torch.no_grad()
def _patch_layers_all_pos(model, clean, corrupted, metric, kind: str) -> torch.Tensor:
    """Patch a whole layer output (every position) at once  # [n_layers]."""
    names = [hook_name(kind, L) for L in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(clean, names_filter=lambda n: n in names)
    out = torch.zeros(model.cfg.n_layers)
    for L, name in enumerate(names):
        logits = model.run_with_hooks(
            corrupted, fwd_hooks=[(name, replace_hook(cache[name]))]
        )
        out[L] = float(metric(logits))
    return out


def patching_results(
    model: Any, data: TaskData, progress: bool | None = None
) -> dict[str, Any]:
    """Every patching sweep of one task, normalised: 0 = corrupted run, 1 = clean run."""
    clean, corrupted = data.clean.tokens, data.corrupted.tokens

    metric = sequences.logit_diff_metric(data.clean)

    with torch.no_grad():
        base_clean = float(metric(model(clean)))
        base_corrupted = float(metric(model(corrupted)))
    span = base_clean - base_corrupted

    def norm(x: torch.Tensor) -> torch.Tensor:
        return (x - base_corrupted) / span

    return {
        "clean": base_clean,
        "corrupted": base_corrupted,
        "residual stream": norm(
            patching.patch_resid(model, clean, corrupted, metric, progress=progress)
        ),
        "attention output": norm(
            patching.patch_attn_out(model, clean, corrupted, metric, progress=progress)
        ),
        "MLP output": norm(
            patching.patch_mlp_out(model, clean, corrupted, metric, progress=progress)
        ),
        "heads": norm(patching.patch_heads(model, clean, corrupted, metric, progress=progress)),
        "heads by position": norm(
            patching.patch_heads(model, clean, corrupted, metric, by_pos=True, progress=progress)
        ),
        "attention output, all positions": norm(
            _patch_layers_all_pos(model, clean, corrupted, metric, "attn_out")
        ),
        "MLP output, all positions": norm(
            _patch_layers_all_pos(model, clean, corrupted, metric, "mlp_out")
        ),
        "tokens": data.clean.tokens[0],
    }
