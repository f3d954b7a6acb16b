"""Lesson 03's check of a head set by hand: from the final position, attend to
the last member and copy it. ``head_weights`` reads any hand-set head's four
matrices (the induction checks use it too).
"""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.teaching.checking import as_tensors, call, check, fail, passed


def head_weights(
    value: Any, name: str, d_model: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (W_Q, W_K, W_V, W_O) a learner's function returned, as tensors of a head's shapes."""
    W_Q, W_K, W_V, W_O = as_tensors(value, 4, f"the result of {name}")
    for label, w in (("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V)):
        if w.dim() != 2 or w.shape[0] != d_model:
            fail(
                f"{label} has shape {tuple(w.shape)}; it should be [d_model = "
                f"{d_model}, d_head]."
            )
    if W_Q.shape[1] != W_K.shape[1]:
        fail(
            f"W_Q and W_K have {W_Q.shape[1]} and {W_K.shape[1]} columns; queries and "
            "keys must live in the same d_head space."
        )
    if W_O.dim() != 2 or tuple(W_O.shape) != (W_V.shape[1], d_model):
        fail(
            f"W_O has shape {tuple(W_O.shape)}; it should be [d_head of W_V = "
            f"{W_V.shape[1]}, d_model = {d_model}]."
        )
    return W_Q, W_K, W_V, W_O


# ---------------------------------------------------------------------------
# A head set by hand: attend to the last member, copy it
# ---------------------------------------------------------------------------
_STREAM_CASES: tuple[dict[str, Any], ...] = (
    dict(n=48, length=26, n_members=4, seed=11, gaps=(3, 6)),
    dict(n=48, length=40, n_members=5, seed=12, gaps=(2, 7)),
    dict(n=48, length=18, n_members=3, seed=13, gaps=(2, 5)),
)


@check
def check_last_member_head(last_member_head) -> None:
    """Check hand-set weights: from the final position, attend to the last member and copy its value."""
    from neuralcircuits.science import transformer_parts as tp

    W_Q, W_K, W_V, W_O = head_weights(
        call(last_member_head, name="last_member_head"), "last_member_head", tp.D_MODEL
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
