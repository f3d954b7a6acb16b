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
    # the members in no particular order: the last is not the largest
    dict(n=48, length=30, n_members=4, seed=14, gaps=(2, 7), shuffled=True),
)


def _streams(shuffled: bool = False, **case: Any) -> Any:
    """The check's prompts; with ``shuffled``, each row's members in a random order."""
    from neuralcircuits.science import transformer_parts as tp

    streams = tp.member_streams(**case)
    if not shuffled:
        return streams
    g = torch.Generator().manual_seed(case["seed"])
    n, k = streams.member_values.shape
    rows = torch.arange(n)[:, None]
    order = torch.stack([torch.randperm(k, generator=g) for _ in range(n)])
    streams.member_values = streams.member_values.gather(1, order)
    streams.x[rows, streams.member_pos, tp.MEMBER_DIMS] = 0.0
    streams.x[rows, streams.member_pos, streams.member_values] = 1.0
    return streams


def _features() -> dict[str, Any]:
    from neuralcircuits.science import transformer_parts as tp

    return {
        "MEMBER_DIMS": tp.MEMBER_DIMS,
        "IS_MEMBER": [tp.IS_MEMBER],
        "POSITION": [tp.POSITION],
        "CONSTANT": [tp.CONSTANT],
    }


def _reads(matrix: torch.Tensor, share: float = 1e-3) -> str:
    """The features whose rows of a [d_model, ...] matrix carry weight, in words."""
    norms = {f: float(matrix[rows].norm()) for f, rows in _features().items()}
    total = sum(norms.values()) or 1.0
    return " and ".join(f for f, v in norms.items() if v > share * total) or "nothing"


def _query_scores(W_Q: torch.Tensor, W_K: torch.Tensor, n: int) -> torch.Tensor:
    """What each feature of a key adds to its score from the final position  # [d_model].

    The final position is a filler at position n - 1: its stream is POSITION
    = n - 1 and CONSTANT = 1, so its query is (n - 1) W_Q[POSITION] +
    W_Q[CONSTANT], and a key x scores x W_K q / sqrt(d_head).
    """
    from neuralcircuits.science import transformer_parts as tp

    q = (n - 1) * W_Q[tp.POSITION] + W_Q[tp.CONSTANT]
    return W_K @ q / W_Q.shape[1] ** 0.5


def _lost_weight(W_Q: torch.Tensor, W_K: torch.Tensor, n: int, feature: int) -> bool:
    """Whether W_K reads `feature` only in head dimensions the final query leaves at 0."""
    from neuralcircuits.science import transformer_parts as tp

    q = (n - 1) * W_Q[tp.POSITION] + W_Q[tp.CONSTANT]
    row = W_K[feature]
    return float(row.norm()) > 0 and abs(float(row @ q)) < 1e-6 * float(
        row.norm() * q.norm()
    )


def _query_turns(W_Q: torch.Tensor) -> bool:
    """Whether the query's direction changes with position: it reads POSITION and CONSTANT, not in proportion."""
    from neuralcircuits.science import transformer_parts as tp

    pos, const = W_Q[tp.POSITION], W_Q[tp.CONSTANT]
    if float(pos.norm()) < 1e-6 * float(W_Q.norm()) or float(const.norm()) == 0:
        return False
    cos = float(pos @ const / (pos.norm() * const.norm()))
    return cos < 1 - 1e-6


def _attention_problem(W_Q, W_K, streams, final: torch.Tensor, where: str) -> str:
    """Where the final position's attention went, and why, measured on the answer's weights."""
    from neuralcircuits.science import transformer_parts as tp

    n = streams.x.shape[1]
    rows = torch.arange(final.shape[0])
    pos = streams.member_pos
    to_last = float(final[rows, pos[:, -1]].mean())
    share = (
        f"{where}, the last member gets {to_last:.0%} of the final position's attention"
    )
    q = (n - 1) * W_Q[tp.POSITION] + W_Q[tp.CONSTANT]  # the final position is a filler
    if float(q.norm()) < 1e-6:
        reads = _reads(W_Q)
        why = (
            "your W_Q is all zeros"
            if reads == "nothing"
            else f"W_Q reads {reads}, 0 at a non-member like the final position"
        )
        return (
            f"{share}: its query is 0 ({why}), so every key scores the same; build the "
            "query from CONSTANT, which is 1 at every position"
        )
    lost = [
        name
        for name, f in (("IS_MEMBER", tp.IS_MEMBER), ("POSITION", tp.POSITION))
        if _lost_weight(W_Q, W_K, n, f)
    ]
    if lost:
        return (
            f"{share}: your keys read {' and '.join(lost)} only in head dimensions "
            "(columns of W_K) where its query is 0, so that adds nothing to a key's "
            "score; give the query weight in the same columns"
        )
    s = _query_scores(W_Q, W_K, n)
    m, r = float(s[tp.IS_MEMBER]), float(s[tp.POSITION])
    is_member = torch.zeros_like(final, dtype=torch.bool)
    is_member[rows[:, None], pos] = True
    after = torch.arange(n)[None] > pos[:, -1:]  # non-members after the last member
    to_after = float((final * after).sum(-1).mean())
    to_earlier = float((final * is_member).sum(-1).mean()) - to_last
    late = to_after >= to_earlier
    if _query_turns(W_Q):
        went = (
            f"{to_after:.0%} goes to later non-members"
            if late
            else f"{to_earlier:.0%} to earlier members"
        )
        return (
            f"{share} ({went}): your query reads POSITION as well as CONSTANT, so the "
            f"key scores change with the query's position (here a member scores "
            f"{m:.4g}, each later position {r:.3g}); build the query from CONSTANT alone"
        )
    if late:
        if abs(m) < 1e-6:
            return (
                f"{share}: {to_after:.0%} goes to the non-members after it, since being "
                f"a member adds nothing to a key's score (your keys read {_reads(W_K)}); "
                "score IS_MEMBER"
            )
        return (
            f"{share}: {to_after:.0%} goes to the non-members after it, up to "
            f"{int((n - 1 - pos[:, -1]).max())} positions later, since a member scores "
            f"{m:.4g} and each later position {r:.3g} (after the division by "
            "sqrt(d_head)); the member score must beat what position adds over that distance"
        )
    by_value = s[tp.MEMBER_DIMS][streams.member_values].argmax(-1)  # [batch]
    to_valued = float(final[rows, pos[rows, by_value]].mean())
    if float(s[tp.MEMBER_DIMS].std()) > 0.5 and to_valued > 0.5:
        return (
            f"{share}: {to_valued:.0%} goes to another member, the one whose value "
            "your keys score highest (they read MEMBER_DIMS: which member, not where); "
            "score the keys by IS_MEMBER and POSITION alone"
        )
    if r < -1e-6:
        to_first = float(final[rows, pos[:, 0]].mean())
        return (
            f"{share}: {to_first:.0%} goes to the first member, since the score falls "
            f"by {-r:.3g} per position; the position score must grow with position"
        )
    if r < 1e-6:
        return (
            f"{share}: the earlier members get {to_earlier:.0%}, since a key's score "
            f"does not grow with its position (your keys read {_reads(W_K)}); add a "
            "score that grows with POSITION"
        )
    return (
        f"{share}: the earlier members get {to_earlier:.0%}, since a member two "
        f"positions later scores only {2 * r:.2g} more ({r:.2g} per position after the "
        "division by sqrt(d_head)); make the position score steeper"
    )


def _copy_problem(W_V, W_O, streams, out: torch.Tensor, where: str) -> str | None:
    """What the head wrote at the final position, if it is not the last member's copy."""
    from neuralcircuits.science import transformer_parts as tp

    rows = torch.arange(out.shape[0])
    written = out[:, -1, tp.MEMBER_DIMS]  # [batch, 12]
    top = written.argmax(-1)
    last = streams.last_member
    right = float((top == last).float().mean())
    values = f"(your values read {_reads(W_V)}, your W_O writes {_reads(W_O.T)})"
    if right < 0.95:
        offset = top - last
        k = int(offset.mode().values)
        if k != 0 and float((offset == k).float().mean()) > 0.8:
            if k == 1:
                return (
                    f"{where}, it writes the last member's successor; this head only "
                    "copies (W_V W_O the identity on MEMBER_DIMS), the +1 comes later"
                )
            return (
                f"{where}, it writes the last member's value {k:+d}: W_V W_O shifts "
                f"each member direction by {k:+d} {values}; it should map each to itself"
            )
        d = int(top.mode().values)
        if float((top == d).float().mean()) > 0.9:
            return (
                f"{where}, it writes member direction {d} whatever the last member is "
                f"{values}; W_V W_O should map each member direction to itself"
            )
        return (
            f"{where}, the output's largest member direction is the last member in "
            f"only {right:.0%} of prompts; W_V W_O should map each member direction "
            f"to itself {values}"
        )
    strength = float(written[rows, last].mean())
    if strength < 0.5:
        return (
            f"{where}, it copies the right member but weakly ({strength:.2f} along its "
            "direction); scale W_V W_O so a member comes out with strength about 1"
        )
    names = {
        "IS_MEMBER": tp.IS_MEMBER,
        "POSITION": tp.POSITION,
        "CONSTANT": tp.CONSTANT,
    }
    extra = {f: float(out[:, -1, i].abs().max()) for f, i in names.items()}
    worst = max(extra, key=lambda f: extra[f])
    if extra[worst] > 0.2:
        return (
            f"{where}, it also writes into {worst} (up to {extra[worst]:.2f}), which "
            "other heads read; W_V W_O should copy MEMBER_DIMS and nothing else"
        )
    return None


@check
def check_last_member_head(last_member_head) -> None:
    """Check hand-set weights: from the final position, attend to the last member and copy its value."""
    from neuralcircuits.science import transformer_parts as tp

    W_Q, W_K, W_V, W_O = head_weights(
        call(last_member_head, name="last_member_head"), "last_member_head", tp.D_MODEL
    )
    for case in _STREAM_CASES:
        streams = _streams(**case)
        pattern, out = tp.attention_head(streams.x, W_Q, W_K, W_V, W_O)
        rows = torch.arange(streams.x.shape[0])
        final = pattern[:, -1]  # [batch, key]
        where = (
            f"On prompts of {case['length']} positions with {case['n_members']} members"
            + (" in no particular order" if case.get("shuffled") else "")
        )
        if final[rows, streams.member_pos[:, -1]].mean() < 0.9:
            fail(_attention_problem(W_Q, W_K, streams, final, where) + ".")
        problem = _copy_problem(W_V, W_O, streams, out, where)
        if problem:
            fail(problem + ".")
    passed(
        "Your head attends from the final position to the last member and copies it "
        "(3-5 members)."
    )
