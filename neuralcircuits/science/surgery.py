"""Circuit surgery: make the heads that carry the last member read it as another member.

The edit acts on a head's value vectors, the "V" of its OV circuit. For each
member token of each task we measure the head's mean value vector at that
member (over many prompts) and give the head, at every position holding that
token, the value of the member ``shift`` places away instead:

    v'(member m) = v(member m) + mean v(member m + shift) - mean v(member m).

It is a table of one correction vector per member token and head: tokens
that are not members get no correction, so prompts without members run
exactly as before. With ``shift = -2`` a head that carries the last member to
the final position now carries the member two before it, so a model that
answers "the successor of what the head carried" answers the *predecessor*
of the last member instead; ``shift = +1`` skips one ahead. The model's
weights are never modified: the edit is a hook on ``hook_v``.

Measured on sequence prompts of all three tasks (does the top-1 move to the
shifted answer?) and on prompts that do not continue a sequence (do their
next-token distributions stay put?).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from neuralcircuits.science import sequences
from neuralcircuits.science.patching import Component


@dataclass
class MemberShift:
    """A fitted edit: per head, one value correction per vocabulary token."""

    shift: int
    corrections: dict[Component, torch.Tensor] = field(
        default_factory=dict
    )  # [d_vocab, d_head]

    @property
    def heads(self) -> list[Component]:
        """The edited heads."""
        return list(self.corrections)


@torch.no_grad()
def member_value_means(
    model: Any, heads: list[Component], datasets: Iterable[sequences.SequenceDataset]
) -> dict[Component, dict[int, torch.Tensor]]:
    """Per head, the mean value vector of each member token over the prompts  # {token: [d_head]}."""
    layers = sorted({h.layer for h in heads})
    names = {f"blocks.{L}.attn.hook_v" for L in layers}
    sums: dict[Component, dict[int, list[torch.Tensor]]] = {h: {} for h in heads}
    for ds in datasets:
        _, cache = model.run_with_cache(ds.tokens, names_filter=lambda n: n in names)
        ids = sequences.member_token_ids(sequences.get_tokenizer(model), ds.task)
        rows = torch.arange(len(ds))[:, None]
        for head in heads:
            v = cache[f"blocks.{head.layer}.attn.hook_v"][:, :, head.head].float()
            at = v[rows, ds.member_pos]  # [batch, 4, d_head]
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
) -> MemberShift:
    """The value corrections that make ``heads`` read member m as member m + shift, in every task."""
    heads = [Component.parse(h) for h in heads]
    datasets = list(datasets)
    means = member_value_means(model, heads, datasets)
    tok = sequences.get_tokenizer(model)
    edit = MemberShift(shift)
    for head in heads:
        table = torch.zeros(model.cfg.d_vocab, model.cfg.d_head)
        for task in sorted({ds.task for ds in datasets}):
            ids = sequences.member_token_ids(tok, task).tolist()
            for m, token in enumerate(ids):
                if not 0 <= m + shift < len(ids):
                    continue
                source, target = means[head].get(token), means[head].get(ids[m + shift])
                if source is not None and target is not None:
                    table[token] = target - source
        edit.corrections[head] = table
    return edit


def surgery_hooks(edit: MemberShift, tokens: torch.Tensor) -> list[tuple[str, Any]]:
    """Forward hooks applying the edit on ``tokens`` [batch, pos]."""
    by_layer: dict[int, list[tuple[int, torch.Tensor]]] = {}
    for head, table in edit.corrections.items():
        by_layer.setdefault(head.layer, []).append(
            (head.head, table[tokens])
        )  # [batch, pos, d_head]

    def make(todo):
        def hook(v, hook):
            v = v.clone()
            for h, correction in todo:
                v[:, :, h] = v[:, :, h] + correction.to(v.dtype)
            return v

        return hook

    return [(f"blocks.{L}.attn.hook_v", make(todo)) for L, todo in by_layer.items()]


@torch.no_grad()
def edited_logits(
    model: Any, tokens: torch.Tensor, edit: MemberShift | None
) -> torch.Tensor:
    """Logits of the model with the edit applied (or without, for None)  # [batch, pos, d_vocab]."""
    if edit is None:
        return model(tokens).float()
    return model.run_with_hooks(tokens, fwd_hooks=surgery_hooks(edit, tokens)).float()


@torch.no_grad()
def sequence_effect(
    model: Any, edit: MemberShift, dataset: sequences.SequenceDataset
) -> dict[str, float]:
    """Top-1 = successor / = the shifted target, and the logit diff, before and after the edit."""
    ids = sequences.member_token_ids(sequences.get_tokenizer(model), dataset.task)
    last = dataset.member_ids[:, -1]
    target_idx = last + 1 + edit.shift
    ok = (target_idx >= 0) & (target_idx < 12)
    out = {}
    for when, e in (("before", None), ("after", edit)):
        logits = edited_logits(model, dataset.tokens, e)[:, -1]  # [batch, d_vocab]
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


@torch.no_grad()
def distribution_change(
    model: Any, edit: MemberShift, tokens: torch.Tensor, positions: str = "last"
) -> dict[str, float]:
    """How much the edit moves next-token distributions: top-1 agreement, mean KL, max |dp|.

    ``positions`` is "last" (the final position) or "all" (every position).
    """
    before = edited_logits(model, tokens, None)
    after = edited_logits(model, tokens, edit)
    if positions == "last":
        before, after = before[:, -1:], after[:, -1:]
    logp, logq = before.log_softmax(-1), after.log_softmax(-1)
    kl = (logp.exp() * (logp - logq)).sum(-1)  # [batch, pos]
    return {
        "same_top1": (before.argmax(-1) == after.argmax(-1)).float().mean().item(),
        "mean_kl": kl.mean().item(),
        "max_prob_change": (logp.exp() - logq.exp()).abs().max().item(),
    }
