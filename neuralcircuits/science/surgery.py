"""Circuit surgery: make the heads that carry the last member read it as another member.

The edit acts on a head's value vectors, the "V" of its OV circuit. It is
**fitted on one task**: for each member index m we measure, over that task's
prompts, the head's mean value vector at member m and at member m + shift,
and keep their difference

    c(m) = mean v(member m + shift) - mean v(member m)        (fitted task)

It is then **applied to every task**: wherever a member token of any task
stands (the numeral, the number word or the month with index m), the head's
value gets c(m) added. On the fitted task this replaces member m by member
m + shift; on the other two tasks it only works if the head represents "the
m-th member" the same way in every task. So the transfer of an edit fitted
on one task to the other two is the evidence of a shared mechanism (an edit
fitted on all three at once would move all three even with nothing shared).

Tokens that are not members get no correction, so prompts without members
run exactly as before, by construction. The real specificity test is on
prompts where a member token stands outside any sequence ("Sun was born in
May." in a story about nouns, ``member_outside_dataset``): whether the edit
moves them says whether the edited heads read members everywhere or only in
sequences. With ``shift = -2`` a model that answers "the successor of what
the head carried" answers the last member's *predecessor*; ``shift = +1``
skips one ahead. The model's weights are never modified: the edit is a hook
on ``hook_v``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from neuralcircuits.science import disk_cache, sequences
from neuralcircuits.science.hooks import activations, hook_name
from neuralcircuits.science.members import N_VALUES
from neuralcircuits.science.patching import Component


def edit_tokens(tokenizer: Any) -> torch.Tensor:
    """The tokens an edit can correct, the rows of its tables: every task's members, in
    ``sequences.TASKS`` order  # [3 * 12].
    """
    tok = sequences.get_tokenizer(tokenizer)
    return torch.cat([sequences.member_token_ids(tok, t) for t in sequences.TASKS])


@dataclass
class MemberShift:
    """A fitted edit: per head, one value correction per member token (``edit_tokens``)."""

    shift: int
    corrections: dict[Component, torch.Tensor] = field(
        default_factory=dict
    )  # [3 * 12, d_head]: row i corrects edit_tokens()[i]
    fitted_on: tuple[str, ...] = ()  # the tasks whose prompts measured the corrections
    applied_to: tuple[str, ...] = ()  # the tasks whose member tokens get them

    @property
    def heads(self) -> list[Component]:
        """The edited heads."""
        return list(self.corrections)


@torch.no_grad()
def member_values(model: Any, ds: sequences.SequenceDataset) -> list[torch.Tensor]:
    """Every head's value vectors at the shown members  # per layer [batch, 4, n_heads, d_head].

    One pass serves every head and is remembered, so fitting several edits
    on the same prompts costs one pass per prompt set.
    """

    def compute() -> list[torch.Tensor]:
        names = [hook_name("v", L) for L in range(model.cfg.n_layers)]
        cache = activations(model, ds.tokens, names)
        rows = torch.arange(len(ds))[:, None]
        return [cache[n][rows, ds.member_pos].float() for n in names]

    return disk_cache.remembered(
        "member_values", model, [ds.tokens, ds.member_pos], compute
    )


@torch.no_grad()
def member_value_means(
    model: Any, heads: list[Component], datasets: Iterable[sequences.SequenceDataset]
) -> dict[Component, dict[int, torch.Tensor]]:
    """Per head, the mean value vector of each member token over the prompts  # {token: [d_head]}."""
    sums: dict[Component, dict[int, list[torch.Tensor]]] = {h: {} for h in heads}
    for ds in datasets:
        values = member_values(model, ds)
        ids = sequences.member_token_ids(sequences.get_tokenizer(model), ds.task)
        for head in heads:
            at = values[head.layer][:, :, head.head]  # [batch, 4, d_head]
            for m in ds.member_ids.unique().tolist():
                sums[head].setdefault(int(ids[m]), []).append(at[ds.member_ids == m])
    return {
        h: {t: torch.cat(parts).mean(0) for t, parts in d.items()}
        for h, d in sums.items()
    }


def fit_member_shift(
    model: Any,
    heads: Iterable[Any],
    datasets: Iterable[sequences.SequenceDataset],
    shift: int = -2,
    apply_to: Iterable[str] = sequences.TASKS,
) -> MemberShift:
    """The value corrections that make ``heads`` read member m as member m + shift.

    Measured on ``datasets`` (pass the prompts of ONE task to test transfer;
    with several tasks, the per-index differences are averaged over them) and
    applied, by member index, to the member tokens of every task in
    ``apply_to``.
    """
    heads = [Component.parse(h) for h in heads]
    datasets = list(datasets)
    means = member_value_means(model, heads, datasets)
    tok = sequences.get_tokenizer(model)
    fitted = tuple(sorted({ds.task for ds in datasets}, key=sequences.TASKS.index))
    applied = tuple(apply_to)
    edit = MemberShift(shift, fitted_on=fitted, applied_to=applied)
    for head in heads:
        per_index: dict[int, list[torch.Tensor]] = {}
        for task in fitted:
            ids = sequences.member_token_ids(tok, task).tolist()
            for m, token in enumerate(ids):
                if not 0 <= m + shift < len(ids):
                    continue
                source, target = means[head].get(token), means[head].get(ids[m + shift])
                if source is not None and target is not None:
                    per_index.setdefault(m, []).append(target - source)
        table = torch.zeros(len(sequences.TASKS) * N_VALUES, model.cfg.d_head)
        for task in applied:
            first_row = sequences.TASKS.index(task) * N_VALUES
            for m, diffs in per_index.items():
                table[first_row + m] = torch.stack(diffs).mean(0)
        edit.corrections[head] = table
    return edit


def transfer_table(
    model: Any,
    heads: Iterable[Any],
    fit_sets: dict[str, list[sequences.SequenceDataset]],
    tests: dict[str, sequences.SequenceDataset],
    shift: int = -2,
) -> dict[str, dict[str, dict[str, float]]]:
    """Fit the edit on each task alone and measure it on every task.

    ``fit_sets[task]`` holds the prompts the edit of that task is measured on,
    ``tests[task]`` new prompts. Returns ``table[fitted task][tested task]``,
    a ``sequence_effect`` dict. The diagonal is the edit on its own task; the
    off-diagonal cells are the transfer.
    """
    heads = [Component.parse(h) for h in heads]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for fit_task, sets in fit_sets.items():
        edit = fit_member_shift(model, heads, sets, shift, apply_to=tuple(tests))
        out[fit_task] = {
            task: sequence_effect(model, edit, ds) for task, ds in tests.items()
        }
    return out


def surgery_hooks(
    model: Any, edit: MemberShift, tokens: torch.Tensor
) -> list[tuple[str, Any]]:
    """Forward hooks applying the edit on ``tokens`` [batch, pos]."""
    # which row of the tables each token reads (all zeros for a non-member)
    rows = (tokens[..., None] == edit_tokens(model)).float()  # [batch, pos, 36]
    by_layer: dict[int, list[tuple[int, torch.Tensor]]] = {}
    for head, table in edit.corrections.items():
        if head.head is None:
            raise ValueError(f"{head} is not an attention head")
        by_layer.setdefault(head.layer, []).append(
            (head.head, rows @ table)
        )  # [batch, pos, d_head]

    def make(todo):
        def hook(v, hook):
            v = v.clone()
            for h, correction in todo:
                v[:, :, h] = v[:, :, h] + correction.to(v.dtype)
            return v

        return hook

    return [(hook_name("v", L), make(todo)) for L, todo in by_layer.items()]


@torch.no_grad()
def edited_logits(
    model: Any, tokens: torch.Tensor, edit: MemberShift | None
) -> torch.Tensor:
    """Logits of the model with the edit applied (or without, for None)  # [batch, pos, d_vocab]."""
    if edit is None:
        return model(tokens).float()
    hooks = surgery_hooks(model, edit, tokens)
    return model.run_with_hooks(tokens, fwd_hooks=hooks).float()


@torch.no_grad()
def edited_last_logits(
    model: Any, tokens: torch.Tensor, edit: MemberShift | None
) -> torch.Tensor:
    """``edited_logits`` at the last position only  # [batch, d_vocab]."""
    if edit is None:  # the unedited run: every edit compares with it
        return sequences.clean_last_logits(model, tokens)
    hooks = surgery_hooks(model, edit, tokens)
    return sequences.last_logits(model, tokens, fwd_hooks=hooks)


@torch.no_grad()
def sequence_effect(
    model: Any, edit: MemberShift, dataset: sequences.SequenceDataset
) -> dict[str, float]:
    """Top-1 = successor / = the shifted target, and the logit diff, before and after the edit."""
    ids = sequences.member_token_ids(sequences.get_tokenizer(model), dataset.task)
    last = dataset.member_ids[:, -1]
    target_idx = last + 1 + edit.shift
    ok = (target_idx >= 0) & (target_idx < N_VALUES)
    out = {}
    for when, e in (("before", None), ("after", edit)):
        logits = edited_last_logits(model, dataset.tokens, e)  # [batch, d_vocab]
        top = logits.argmax(-1)
        out[f"successor_{when}"] = (top == dataset.answers).float().mean().item()
        hit = top[ok] == ids[target_idx[ok]]
        out[f"shifted_{when}"] = hit.float().mean().item()
        out[f"logit_diff_{when}"] = sequences.logit_diff(logits, dataset).item()
    return out


def non_sequence_dataset(
    tokenizer: Any, n: int = 96, seed: int = 1, template: str = "all"
) -> sequences.SequenceDataset:
    """The templates with words, not members, where the members were: nothing to continue.

    Returned as a SequenceDataset (kind "random" rows) whose member slots hold
    nouns or names; answers are meaningless and only the distributions matter.
    """
    tok = sequences.get_tokenizer(tokenizer)
    base = sequences.make_dataset(tok, "numerals", "random", template, n, seed)
    rng = random.Random(f"non-sequence-{seed}")
    prompts, rows = [], []
    for words, verb in zip(base.words, base.templates, strict=True):
        pool = [w for w in sequences.words_for(verb) if w not in words]
        pool = sequences.single_token_words(tok, pool)
        fill = rng.sample(pool, sequences.N_MEMBERS)
        prompt = sequences.make_prompt(words, fill, verb)
        prompts.append(prompt)
        rows.append(
            [tok.bos_token_id, *tok(prompt, add_special_tokens=False)["input_ids"]]
        )
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise ValueError("non-sequence prompts tokenize to different lengths")
    out = base.subset(slice(None))
    out.prompts = prompts
    out.tokens = torch.tensor(rows, dtype=torch.long)
    out.kind = "non-sequence"
    return out


def member_outside_dataset(
    tokenizer: Any, task: str, n: int = 96, seed: int = 1, template: str = "all"
) -> sequences.SequenceDataset:
    """Stories of nouns or names with ONE member of ``task`` among them, in no sequence.

    Like ``non_sequence_dataset`` ("Van was done in Hat. ..."), but one of the
    four slots, chosen at random per row, holds a random member of the task
    ("... Sun was born in May. ..."). ``member_ids`` and ``member_pos`` give
    that member (index, position) in their first column; answers are
    meaningless, only the distributions matter. The specificity test of an
    edit: member tokens the model meets outside a sequence.
    """
    tok = sequences.get_tokenizer(tokenizer)
    base = non_sequence_dataset(tok, n, seed, template)
    ids = sequences.member_token_ids(tok, task)
    rng = random.Random(f"member-outside-{task}-{seed}")
    tokens = base.tokens.clone()
    prompts, which, pos = [], [], []
    for r in range(len(base)):
        slot, member = rng.randrange(sequences.N_MEMBERS), rng.randrange(N_VALUES)
        p = int(base.member_pos[r, slot])
        tokens[r, p] = ids[member]
        words = base.prompts[r].replace(".", " .").split()
        words[p - 1] = sequences.members(task)[member]  # token p is word p - 1 (BOS)
        prompts.append(" ".join(words).replace(" .", "."))
        which.append(member)
        pos.append(p)
    out = base.subset(slice(None))
    out.task = task
    out.tokens, out.prompts, out.kind = tokens, prompts, "member-outside"
    out.member_ids = (
        torch.tensor(which)[:, None].expand(-1, sequences.N_MEMBERS).clone()
    )
    out.member_pos = torch.tensor(pos)[:, None].expand(-1, sequences.N_MEMBERS).clone()
    return out


DISTRIBUTION_PROMPTS = 16  # prompts whose every-position logits are compared at once


@torch.no_grad()
def distribution_change(
    model: Any, edit: MemberShift, tokens: torch.Tensor, positions: str = "last"
) -> dict[str, float]:
    """How much the edit moves next-token distributions: top-1 agreement, mean KL, max |dp|.

    ``positions`` is "last" (the final position) or "all" (every position).
    Every position's logits are compared a few prompts at a time: with
    GPT-2's vocabulary, all of them at once would take gigabytes.
    """
    same, kl_sum, largest, n = 0.0, 0.0, 0.0, 0
    step = len(tokens) if positions == "last" else DISTRIBUTION_PROMPTS
    for i in range(0, len(tokens), step):
        part = tokens[i : i + step]
        if positions == "last":
            before = edited_last_logits(model, part, None)[:, None]
            after = edited_last_logits(model, part, edit)[:, None]
        else:
            before = edited_logits(model, part, None)
            after = edited_logits(model, part, edit)
        logp, logq = before.log_softmax(-1), after.log_softmax(-1)
        kl = (logp.exp() * (logp - logq)).sum(-1)  # [batch, pos]
        same += float((before.argmax(-1) == after.argmax(-1)).float().sum())
        kl_sum += float(kl.sum())
        largest = max(largest, float((logp.exp() - logq.exp()).abs().max()))
        n += kl.numel()
    return {"same_top1": same / n, "mean_kl": kl_sum / n, "max_prob_change": largest}
