"""Checks for lesson 03, reverse-engineering a tiny transformer."""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.teaching.checking import (
    as_tensors,
    call,
    close,
    fail,
    inputs_unchanged,
    passed,
)


# ---------------------------------------------------------------------------
# One attention head, as a QK and an OV circuit
# ---------------------------------------------------------------------------
def _head_case(batch: int, pos: int, d_model: int, d_head: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, pos, d_model, generator=g)
    ws = [torch.randn(d_model, d_head, generator=g) for _ in range(3)]
    W_O = torch.randn(d_head, d_model, generator=g)
    return x, *ws, W_O


def _head_variants(x, W_Q, W_K, W_V, W_O):
    """The right pattern and output, and the patterns of plausible mistakes."""
    d_head = W_Q.shape[1]
    scores = (x @ W_Q) @ (x @ W_K).transpose(1, 2)  # [batch, q, k]
    n = x.shape[1]
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    right = (scores / d_head**0.5).masked_fill(future, float("-inf")).softmax(-1)
    wrong = {
        "unscaled": scores.masked_fill(future, float("-inf")).softmax(-1),
        "unmasked": (scores / d_head**0.5).softmax(-1),
        "queries": (scores / d_head**0.5).masked_fill(future, float("-inf")).softmax(1),
        "after": (scores / d_head**0.5).softmax(-1).masked_fill(future, 0.0),
        "transposed": (scores.transpose(1, 2) / d_head**0.5)
        .masked_fill(future, float("-inf"))
        .softmax(-1),
    }
    return right, right @ x @ W_V @ W_O, wrong


_HEAD_MISTAKES = {
    "unscaled": "the scores are not divided by sqrt(d_head) before the softmax",
    "unmasked": "positions attend to later positions; mask the future (keys after the "
    "query) with -inf before the softmax",
    "queries": "the softmax runs over the query axis; each query's weights over the keys "
    "should sum to 1 (softmax(dim=-1))",
    "after": "the mask is applied after the softmax, so the rows no longer sum to 1; mask "
    "with -inf before it",
    "transposed": "the pattern is transposed: row i should hold query i's scores x_i W_QK "
    "x_j^T over keys j",
}


def check_attention_head(attention_head) -> None:
    """Check a causal head computed from its QK and OV circuits."""
    for shape in ((2, 5, 6, 3), (3, 7, 4, 2)):
        x, W_Q, W_K, W_V, W_O = _head_case(*shape, seed=sum(shape))
        given = {
            "x": x.clone(),
            "W_Q": W_Q.clone(),
            "W_K": W_K.clone(),
            "W_V": W_V.clone(),
            "W_O": W_O.clone(),
        }
        got = call(attention_head, *given.values(), name="attention_head")
        inputs_unchanged(
            {"x": x, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O},
            given,
            "attention_head",
        )
        pattern, out = as_tensors(got, 2, "the result of attention_head")
        batch, pos = shape[:2]
        if tuple(pattern.shape) != (batch, pos, pos):
            fail(
                f"The pattern has shape {tuple(pattern.shape)}; it should be [batch, "
                f"query, key] = {(batch, pos, pos)}."
            )
        right, right_out, wrong = _head_variants(x, W_Q, W_K, W_V, W_O)
        if not close(pattern, right):
            for key, p in wrong.items():
                if close(pattern, p):
                    fail(f"Not the pattern yet: {_HEAD_MISTAKES[key]}.")
            fail(
                "The pattern differs from softmax(mask(x W_QK x^T / sqrt(d_head))) with "
                "W_QK = W_Q W_K^T; check the product, the scaling and the mask."
            )
        if tuple(out.shape) != tuple(x.shape):
            fail(
                f"The output has shape {tuple(out.shape)}; a head writes back into the "
                f"residual stream, shape {tuple(x.shape)} (did you skip W_O?)."
            )
        if close(out, right_out, atol=1e-3, rtol=1e-3):
            continue
        if close(out, right @ x):
            fail(
                "The output is the pattern times x; it must go through W_OV = W_V W_O."
            )
        if close(out, right.transpose(1, 2) @ x @ W_V @ W_O, atol=1e-3, rtol=1e-3):
            fail(
                "The output uses the transposed pattern; each query mixes the keys' "
                "vectors: pattern @ x @ W_OV."
            )
        else:
            fail(
                "The pattern is right but the output is not pattern @ x @ W_V @ W_O; check "
                "the OV product."
            )
    passed(
        "attention_head computes the pattern from W_QK and the output through W_OV, "
        "on two shapes of input."
    )


# ---------------------------------------------------------------------------
# A head set by hand: attend to the last member, copy it
# ---------------------------------------------------------------------------
_STREAM_CASES: tuple[dict[str, Any], ...] = (
    dict(n=48, length=26, n_members=4, seed=11, gaps=(3, 6)),
    dict(n=48, length=40, n_members=5, seed=12, gaps=(2, 7)),
    dict(n=48, length=18, n_members=3, seed=13, gaps=(2, 5)),
)


def check_last_member_head(last_member_head) -> None:
    """Check hand-set weights: from the final position, attend to the last member and copy its value."""
    from neuralcircuits.science import transformer_parts as tp

    weights = as_tensors(
        call(last_member_head, name="last_member_head"),
        4,
        "the result of last_member_head",
    )
    W_Q, W_K, W_V, W_O = weights
    d = tp.D_MODEL
    for name, w, n_rows in (("W_Q", W_Q, d), ("W_K", W_K, d), ("W_V", W_V, d)):
        if w.dim() != 2 or w.shape[0] != n_rows:
            fail(
                f"{name} has shape {tuple(w.shape)}; it should be [d_model = {d}, d_head]."
            )
    if W_Q.shape[1] != W_K.shape[1]:
        fail(
            f"W_Q and W_K have {W_Q.shape[1]} and {W_K.shape[1]} columns; queries and "
            "keys must live in the same d_head space."
        )
    if W_O.dim() != 2 or W_O.shape != (W_V.shape[1], d):
        fail(
            f"W_O has shape {tuple(W_O.shape)}; it should be [d_head of W_V, d_model = {d}]."
        )
    for case in _STREAM_CASES:
        streams = tp.member_streams(**case)
        pattern, out = tp.attention_head(streams.x, W_Q, W_K, W_V, W_O)
        rows = torch.arange(streams.x.shape[0])
        final = pattern[:, -1]  # [batch, key]
        to_last = final[rows, streams.member_pos[:, -1]].mean()
        to_members = final.gather(1, streams.member_pos).sum(-1).mean()
        to_first = final[rows, streams.member_pos[:, 0]].mean()
        where = (
            f"On prompts of {case['length']} positions with {case['n_members']} members"
        )
        if to_last < 0.9:
            if to_first > 0.5:
                fail(
                    f"{where}, the final position attends to the first member "
                    f"({to_first:.0%}); the key's position score must grow with position."
                )
            if to_members > 0.9:
                fail(
                    f"{where}, it spreads attention over the members ({to_last:.0%} on the "
                    "last); add a key score that grows with POSITION, steep enough to pick "
                    "the latest."
                )
            fail(
                f"{where}, only {to_last:.0%} of the final position's attention reaches the "
                f"last member ({to_members:.0%} on members at all); score keys by IS_MEMBER "
                "strongly enough to beat every non-member."
            )
        written = out[:, -1, tp.MEMBER_DIMS]  # [batch, 12]
        top = written.argmax(-1)
        if (top == streams.last_member).float().mean() < 0.95:
            if (top == (streams.last_member + 1).clamp(max=11)).float().mean() > 0.9:
                fail(
                    f"{where}, it writes the last member's successor; this head only copies "
                    "(W_V W_O the identity on MEMBER_DIMS); the +1 comes later."
                )
            fail(
                f"{where}, the output's largest member direction is the last member in only "
                f"{(top == streams.last_member).float().mean():.0%} of prompts; W_V W_O should "
                "map each member direction to itself."
            )
        strength = written[rows, streams.last_member].mean()
        if strength < 0.5:
            fail(
                f"{where}, it copies the right member but weakly ({strength:.2f} along its "
                "direction); scale W_V W_O so a member comes out with strength about 1."
            )
    passed(
        "Your head attends from the final position to the last member and copies it "
        "(3-5 members)."
    )
