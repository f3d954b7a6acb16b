"""Lesson 04's checks for the task and attention: the logit-difference metric, the
attention-to-last-member readout, the prediction of the head patching ranks first.
"""

from __future__ import annotations

import torch

from neuralcircuits.science.patching import Component
from neuralcircuits.teaching.checking import (
    as_tensor,
    brief,
    call,
    check,
    close,
    fail,
    inputs_unchanged,
    passed,
)


# ---------------------------------------------------------------------------
# The logit-difference metric
# ---------------------------------------------------------------------------
def _metric_case(seed: int = 0, batch: int = 6, pos: int = 5, d_vocab: int = 11):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, pos, d_vocab, generator=g) * 3  # [batch, pos, d_vocab]
    answers = torch.randint(0, d_vocab, (batch,), generator=g)
    wrong = (answers + torch.randint(1, d_vocab, (batch,), generator=g)) % d_vocab
    return logits, answers, wrong


def _diff(logits, answers, wrong, pos=-1):
    last = logits[:, pos]
    rows = torch.arange(len(answers))
    return last[rows, answers] - last[rows, wrong]  # [batch]


@check
def check_logit_diff_metric(logit_diff_metric) -> None:
    """Check logit(correct) - logit(incorrect) at the last position, averaged over prompts."""
    for case in ((0, 6, 5, 11), (1, 9, 3, 17)):
        _check_metric_case(logit_diff_metric, *case)
    passed(
        "logit_diff_metric gives the mean last-position logit difference (6 and 9 prompts)."
    )


def _check_metric_case(logit_diff_metric, seed, batch, pos, d_vocab) -> None:
    logits, answers, wrong = _metric_case(seed, batch, pos, d_vocab)
    given = {
        "logits": logits.clone(),
        "answers": answers.clone(),
        "wrong_answers": wrong.clone(),
    }
    got = call(logit_diff_metric, *given.values(), name="logit_diff_metric")
    inputs_unchanged(
        {"logits": logits, "answers": answers, "wrong_answers": wrong},
        given,
        "logit_diff_metric",
    )
    if (
        isinstance(got, torch.Tensor)
        and got.dim() == 1
        and got.shape[0] == len(answers)
    ):
        fail(
            f"`logit_diff_metric` returns one value per prompt (shape {tuple(got.shape)}); "
            "average them into one number with .mean()."
        )
    value = as_tensor(got, "the result of logit_diff_metric", shape=())
    want = _diff(logits, answers, wrong).mean()
    if close(value, want):
        return
    if close(value, -want):
        fail(
            "The sign is flipped: it computes logit(incorrect) - logit(correct); "
            "the correct answer's logit comes first."
        )
    n_pos = logits.shape[1]
    for p in range(n_pos - 1):
        if close(value, _diff(logits, answers, wrong, pos=p).mean()):
            fail(
                f"It reads the logits at position {p} ({p - n_pos}); the next token "
                "after the prompt is predicted at the last position, logits[:, -1]."
            )
    rows = torch.arange(len(answers))
    last = logits[:, -1]
    if close(value, (last[:, answers] - last[:, wrong]).mean()):
        fail(
            "It averages every prompt's logits at every prompt's answers: "
            "logits[:, -1, answers] is [batch, batch]; pick one entry per row, "
            "last[torch.arange(batch), answers]."
        )
    if close(value, (logits[rows, :, answers] - logits[rows, :, wrong]).mean()):
        fail(
            "It averages over every position; the answer is predicted at the last "
            "position only, logits[:, -1]."
        )
    if close(value, (last[rows, answers] - last.max(-1).values).mean()):
        fail(
            "It subtracts the largest logit; subtract the incorrect answer's logit, "
            "wrong_answers."
        )
    probs = logits[:, -1].softmax(-1)
    if close(value, (probs[rows, answers] - probs[rows, wrong]).mean()):
        fail(
            "It compares probabilities; the metric compares the raw logits "
            "(before the softmax)."
        )
    if close(value, _diff(logits, answers, wrong).sum()):
        fail(
            "It sums over the prompts; take the mean, so the metric does not grow "
            "with the batch size."
        )
    fail(
        f"On a test batch it gives {float(value):.4f} instead of {float(want):.4f}: take "
        "logits[:, -1], pick each row's correct and incorrect token, subtract, average."
    )


# ---------------------------------------------------------------------------
# The attention-to-last-member readout
# ---------------------------------------------------------------------------
def _readout_case(seed: int, batch: int, n_heads: int, pos: int):
    g = torch.Generator().manual_seed(seed)
    pattern = torch.randn(batch, n_heads, pos, pos, generator=g).exp()
    future = torch.ones(pos, pos, dtype=torch.bool).triu(1)
    pattern = pattern.masked_fill(future, 0)
    pattern = pattern / pattern.sum(-1, keepdim=True)
    member_pos = torch.stack(
        [
            torch.randperm(pos - 2, generator=g)[:4].sort().values + 1
            for _ in range(batch)
        ]
    )
    return pattern, member_pos


@check
def check_attention_to_last_member(attention_to_last_member) -> None:
    """Check the mean attention from the final position to each row's last member, per head."""
    for seed, shape in ((0, (5, 3, 12)), (1, (4, 6, 9))):
        pattern, member_pos = _readout_case(seed, *shape)
        given = {"pattern": pattern.clone(), "member_pos": member_pos.clone()}
        got = call(
            attention_to_last_member, *given.values(), name="attention_to_last_member"
        )
        inputs_unchanged(
            {"pattern": pattern, "member_pos": member_pos},
            given,
            "attention_to_last_member",
        )
        batch, n_heads, _ = shape
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (batch, n_heads):
            fail(
                "It returns one value per prompt and head; average over the prompts "
                f"(shape [n_heads] = ({n_heads},))."
            )
        value = as_tensor(got, "the result", shape=(n_heads,))
        rows = torch.arange(batch)
        final = pattern[:, :, -1]  # [batch, head, key]
        want = final[rows, :, member_pos[:, -1]].mean(0)
        if close(value, want):
            continue
        guesses = {
            "the first member": final[rows, :, member_pos[:, 0]].mean(0),
            "the final position itself": final[:, :, -1].mean(0),
            "row 0's last-member position in every row": final[
                :, :, member_pos[0, -1]
            ].mean(0),
            "every member together": final.gather(
                2, member_pos[:, None, :].expand(-1, n_heads, -1)
            )
            .sum(-1)
            .mean(0),
            "the last member's own query row": pattern[
                rows, :, member_pos[:, -1], member_pos[:, -1]
            ].mean(0),
            "every row's last member, from every row (pattern[:, :, -1, "
            "member_pos[:, -1]] pairs each row with every row's position)": final[
                :, :, member_pos[:, -1]
            ].mean((0, 2)),
            "the four members on average": final.gather(
                2, member_pos[:, None, :].expand(-1, n_heads, -1)
            )
            .mean(-1)
            .mean(0),
            "the token after the last member": final[
                rows, :, (member_pos[:, -1] + 1).clamp(max=final.shape[-1] - 1)
            ].mean(0),
            "whichever key gets the most": final.max(-1).values.mean(0),
        }
        for what, v in guesses.items():
            if close(value, v):
                fail(
                    f"It reads the attention to {what}; read query -1 (the final position) "
                    "at key member_pos[:, -1], row by row."
                )
        if close(value, torch.zeros_like(value)):
            fail(
                "It gives 0 for every head, as the attention from the last member to "
                "the final position does (the causal mask): if query and key are "
                "swapped, the query is the final position, "
                "pattern[rows, :, -1, member_pos[:, -1]]."
            )
        for q in range(pattern.shape[-1] - 1):
            v = pattern[rows, :, q, member_pos[:, -1]].mean(0)
            if v.abs().sum() > 1e-6 and close(value, v):
                fail(
                    f"It reads the attention from query {q}; the final position's "
                    "attention is query -1, pattern[:, :, -1]."
                )
        if close(value, want * batch):
            fail("It sums over the prompts; take the mean.")
        fail(
            "Not the attention to the last member yet: take pattern[:, :, -1] (query = the "
            "final position), pick each row's key member_pos[row, -1], average over rows."
        )
    passed(
        "attention_to_last_member reads query -1 at each row's own last member (two shapes)."
    )


@check
def check_head_prediction(prediction, head_table: torch.Tensor) -> None:
    """Check a prediction ("L.H", or a function returning it) of the head patching ranks first."""
    if callable(prediction):
        prediction = call(
            prediction, name=getattr(prediction, "__name__", "your function")
        )
    if prediction is None or prediction == "":
        fail('Return your prediction, e.g. return "0.3" (layer 0, head 3).')
    try:
        comp = Component.parse(prediction)
    except (ValueError, TypeError):
        fail(
            f'{brief(prediction)} is not a head; write it as "layer.head", e.g. "0.3".'
        )
    if comp.kind != "head" or comp.head is None:
        fail(f'{comp} is an MLP; the prediction is about a head ("layer.head").')
    n_layers, n_heads = head_table.shape
    if not (0 <= comp.layer < n_layers and 0 <= comp.head < n_heads):
        fail(f"{comp} is not in this model ({n_layers} layers x {n_heads} heads).")
    flat = int(head_table.flatten().argmax())
    top = Component("head", flat // n_heads, flat % n_heads)
    score = float(head_table[comp.layer, comp.head])
    if comp != top:
        fail(
            f"Patching ranks head {top} first ({float(head_table[top.layer, top.head]):.2f}); "
            f"{comp} restores {score:.2f}: look again at which head attends to the last "
            "member from the final position."
        )
    passed(
        f"Right: patching ranks {top} first, restoring {score:.2f} of the clean answer."
    )
