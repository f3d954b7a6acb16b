"""Checks for lesson 03's induction heads: the previous-token head, the induction
head, the two-copies prediction and the diagnosis of three broken heads.

Every check runs the learner's heads in the readable residual stream of
``science.induction`` and says in one sentence what the heads did.
"""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science import induction as ind
from neuralcircuits.science import transformer_parts as tp
from neuralcircuits.teaching.checking import brief, call, check, fail, passed
from neuralcircuits.teaching.tiny_transformer.checks.last_member import head_weights

_BLOCKS = ("TOKEN", "PREV", "POS", "OUT")


def _head(value: Any, name: str) -> ind.Head:
    """The learner's (W_Q, W_K, W_V, W_O), checked for shapes."""
    return head_weights(value, name, ind.D_MODEL)


def _reads(matrix: torch.Tensor, share: float = 0.05) -> list[str]:
    """The subspaces whose rows of a [d_model, ...] matrix carry weight."""
    norms = {b: float(matrix[ind.SUBSPACES[b]].norm()) for b in _BLOCKS}
    total = sum(norms.values()) or 1.0
    return [b for b in _BLOCKS if norms[b] > share * total]


def _said(blocks: list[str]) -> str:
    return " and ".join(blocks) if blocks else "nothing"


def _written(out: torch.Tensor) -> dict[str, float]:
    """The largest absolute value a head's output puts in each subspace."""
    return {b: float(out[..., ind.SUBSPACES[b]].abs().max()) for b in _BLOCKS}


def _scores(head: ind.Head, x: torch.Tensor) -> torch.Tensor:
    """A head's attention scores after the division by sqrt(d_head), the future unmasked  # [batch, q, k]."""
    W_QK, _ = tp.qk_ov(*head)
    return x @ W_QK @ x.transpose(1, 2) / head[0].shape[1] ** 0.5


def _lead(scores: torch.Tensor, queries: torch.Tensor, keys: torch.Tensor) -> float:
    """How far each query's score of its right key leads every other key it may see (the median)."""
    n = scores.shape[-1]
    seen = torch.arange(n)[None, :] <= queries[:, None]  # [q, k]: not in the future
    s = scores[:, queries]  # [batch, q, k]
    right = s[:, range(len(queries)), keys]  # [batch, q]
    others = s.masked_fill(~seen, float("-inf"))
    others[:, range(len(queries)), keys] = float("-inf")
    return float((right - others.max(-1).values).median())


def _positions(shares: torch.Tensor, queries: torch.Tensor) -> str:
    """The query positions whose share is below one half, in words ("21, 22 and 23")."""
    low = [int(p) for p in queries[shares < 0.5]]
    shown = [str(p) for p in low[:4]] + (["..."] if len(low) > 4 else [])
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


# ---------------------------------------------------------------------------
# The previous-token head
# ---------------------------------------------------------------------------
def _letters(n: int, length: int, seed: int) -> torch.Tensor:
    """``<bos>`` and random letters, repeats allowed  # [n, 1 + length]."""
    g = torch.Generator().manual_seed(seed)
    body = torch.randint(1, ind.N_TOKENS, (n, length), generator=g)
    return torch.cat([torch.zeros(n, 1, dtype=torch.long), body], 1)


def _previous_problem(head, x, att, pos, to_prev: float, where: str) -> str:
    """Where a previous-token head's attention went instead of p - 1, measured."""
    per_query = att[:, range(len(pos)), pos - 1].mean(0)  # [query p >= 1]
    if float((per_query > 0.9).float().mean()) > 0.5 and bool((per_query < 0.5).any()):
        return (
            f"On {where}, positions {_positions(per_query, pos)} give the position "
            f"before them under half their attention, while others give it over 90%; "
            "the query of every position p must look for p - 1"
        )
    scores = _scores(head, x)[:, pos]  # [batch, query p >= 1, key], future unmasked
    offset = scores.argmax(-1) - pos  # where each query's top score is
    k = int(offset.flatten().mode().values)
    if k != -1 and float((offset == k).float().mean()) > 0.9:
        if k == 0:
            to_self = float(att[:, range(len(pos)), pos].mean())
            return (
                f"On {where}, each position attends to itself ({to_self:.0%}); the "
                "query of position p must match the key of position p - 1"
            )
        if k > 0:
            return (
                f"On {where}, each position p scores position p + {k} highest, a later "
                "position the mask hides, so the rest share its attention; the query "
                "of p must match the key of p - 1"
            )
        to_k = float(att[:, range(len(pos)), (pos + k).clamp(min=0)].mean())
        return (
            f"On {where}, each position p attends to p - {-k} ({to_k:.0%}); the query "
            "of p must match the key of p - 1"
        )
    key = scores.argmax(-1)
    j = int(key.flatten().mode().values)
    if float((key == j).float().mean()) > 0.9:
        return (
            f"On {where}, every position p, whatever p, gives its top score to "
            f"position {j}; the query of p must match the key of p - 1"
        )
    if float((offset == -1).float().mean()) > 0.9:
        lead = _lead(_scores(head, x), pos, pos - 1)
        return (
            f"On {where}, position p - 1 gets the most attention but only {to_prev:.0%} "
            f"of it: its score leads the others by {lead:.3g} after the division by "
            "sqrt(d_head); make the lead about 10 so it beats every other key"
        )
    return (
        f"On {where}, only {to_prev:.0%} of each position's attention reaches the "
        f"position before it (your queries read {_said(_reads(head[0]))}, your keys "
        f"{_said(_reads(head[1]))})"
    )


@check
def check_previous_token_head(previous_token_head) -> None:
    """Check hand-set weights: every position attends to the one before and copies its token into PREV."""
    head = _head(
        call(previous_token_head, name="previous_token_head"), "previous_token_head"
    )
    cases = (
        ("repeated sequences", ind.repeated_sequences(32, 10, seed=5)),
        (
            f"random letters over all {ind.N_CTX} positions",
            _letters(32, ind.N_CTX - 1, 6),
        ),
    )
    for where, tokens in cases:
        x = ind.embed(tokens)
        stream, (pattern,) = ind.run(x, [[head]])
        n = tokens.shape[1]
        pos = torch.arange(1, n)
        att = pattern[:, 0, pos]  # [batch, query p >= 1, key]
        to_prev = float(att[:, range(n - 1), pos - 1].mean())
        if to_prev < 0.9:
            fail(_previous_problem(head, x, att, pos, to_prev, where) + ".")
        out = (stream - x)[:, 1:]  # what the head wrote, at positions p >= 1
        prev_tokens = tokens[:, :-1]
        written = _written(out)
        prev_block = out[..., ind.PREV]
        copied = float((prev_block.argmax(-1) == prev_tokens).float().mean())
        if copied < 0.95:
            if max(written.values()) < 0.1:
                fail(
                    f"On {where}, it writes nothing at all (your values read "
                    f"{_said(_reads(head[2]))}); W_V W_O should map TOKEN[t] to PREV[t]."
                )
            minus = float((prev_block.argmin(-1) == prev_tokens).float().mean())
            if minus > 0.95 and float(prev_block.min()) < -0.2:
                fail(
                    f"On {where}, it writes minus the previous token into PREV (down to "
                    f"{float(prev_block.min()):.2f}); W_V W_O should map TOKEN[t] to "
                    "+PREV[t]."
                )
            for block in ("TOKEN", "OUT"):
                wrote = out[..., ind.SUBSPACES[block]].argmax(-1) == prev_tokens
                if written[block] > 0.2 and wrote.float().mean() > 0.9:
                    fail(
                        f"On {where}, it writes the previous token into {block}, not "
                        "into PREV, the subspace kept for it."
                    )
            fail(
                f"On {where}, the largest entry of PREV is the previous token at only "
                f"{copied:.0%} of positions; W_V W_O should map TOKEN[t] to PREV[t] "
                f"(your values read {_said(_reads(head[2]))})."
            )
        strength = float(prev_block.gather(-1, prev_tokens[..., None]).mean())
        if strength < 0.5:
            fail(
                f"On {where}, it copies the previous token into PREV weakly ({strength:.2f}); "
                "scale W_V W_O so a token comes out with strength about 1."
            )
        extra = [b for b in ("TOKEN", "POS", "OUT") if written[b] > 0.2]
        if extra:
            fail(
                f"On {where}, it also writes into {extra[0]} (up to "
                f"{written[extra[0]]:.2f}), which later heads read; write only into PREV."
            )
    passed(
        "Every position attends to the one before it and copies that token into PREV."
    )


# ---------------------------------------------------------------------------
# The induction head
# ---------------------------------------------------------------------------
def _key_names(length: int) -> dict[int, str]:
    """Keys a second-half query may attend to, by offset from the query, in words."""
    return {
        0: "the current position",
        -1: "the position before it",
        -length: "the earlier copy of the current token",
        -length - 1: "the token before the earlier copy",
    }


def _induction_problem(head, stream, att, q, length: int, where: str) -> str:
    """Where an induction head's attention went instead of the token after the copy, measured."""
    rows = range(len(q))
    target = float(att[:, rows, q - length + 1].mean())
    W_QK, _ = tp.qk_ov(*head)
    reads = (
        f"your queries read {_said(_reads(W_QK))} and your keys {_said(_reads(W_QK.T))}"
    )
    on_copy = float((att[:, rows, q - length] + att[:, rows, q]).mean())
    if on_copy > 0.5:
        return (
            f"{where}, the second half attends to the current token and its earlier "
            f"copy ({on_copy:.0%}), not to the token after the copy; {reads}"
        )
    if float((att.argmax(-1) == (q - length + 1)).float().mean()) > 0.9:
        lead = _lead(_scores(head, stream), q, q - length + 1)
        return (
            f"{where}, the token after the earlier copy gets the most attention but "
            f"only {target:.0%} of it: its score leads the others by {lead:.3g} after "
            "the division by sqrt(d_head); make the lead about 10"
        )
    offsets = torch.arange(att.shape[-1])[None, :] - q[:, None]  # [query, key]
    shares = {
        int(o): float((att * (offsets == o)).sum(-1).mean()) for o in offsets.unique()
    }
    first, second = sorted(shares, key=lambda o: -shares[o])[:2]
    names = _key_names(length)

    def key(o: int) -> str:
        return f"{shares[o]:.0%} to " + names.get(o, f"the key {-o} positions back")

    if shares[first] > 0.5:
        went = key(first) + (f" and {key(second)}" if shares[second] > 0.2 else "")
    else:
        went = "it spreads over the earlier keys"
    return (
        f"{where}, only {target:.0%} of the second half's attention reaches the token "
        f"after the earlier copy ({went}); {reads}"
    )


@check
def check_induction_head(induction_head) -> None:
    """Check a layer-1 head that, with the library's previous-token head, completes repeated sequences."""
    head = _head(call(induction_head, name="induction_head"), "induction_head")
    prev = ind.previous_token_head()
    _, W_OV = tp.qk_ov(*head)
    for length, seed in ((10, 7), (6, 8)):
        tokens = ind.repeated_sequences(32, length, seed=seed)
        where = f"On repeated sequences of {length} letters"
        x = ind.embed(tokens)
        after_prev, _ = ind.run(x, [[prev]])  # what the induction head reads
        stream, (_, pattern) = ind.run(x, [[prev], [head]])
        q = ind.second_half(tokens)
        att = pattern[:, 0, q]  # [batch, query, key]
        target = float(att[:, range(len(q)), q - length + 1].mean())
        if target < 0.9:
            fail(_induction_problem(head, after_prev, att, q, length, where) + ".")
        logits = ind.logits(stream)[:, q]  # [batch, query, token]
        predicted = logits.argmax(-1)
        right = float((predicted == tokens[:, q + 1]).float().mean())
        if right < 0.95:
            written = _written((stream - after_prev)[:, q])  # this head's own output
            if written["OUT"] < 0.1:
                blocks = [b for b in _BLOCKS if written[b] > 0.1]
                fail(
                    f"{where}, it writes nothing into OUT, the only subspace the "
                    f"unembedding reads (it writes into {_said(blocks)})."
                )
            if float((predicted == tokens[:, q]).float().mean()) > 0.9:
                fail(
                    f"{where}, it attends to the right key but predicts the current token "
                    f"again; your values read {_said(_reads(W_OV))}."
                )
            fail(
                f"{where}, the top logit is the next token at only {right:.0%} of the "
                f"second half; W_V W_O should map TOKEN[t] to OUT[t] (your values read "
                f"{_said(_reads(W_OV))}, your output writes {_said(_reads(W_OV.T))})."
            )
        strength = float(
            stream[:, q, ind.OUT].gather(-1, tokens[:, q + 1, None]).mean()
        )
        if strength < 0.5:
            fail(
                f"{where}, it predicts the right token but weakly ({strength:.2f} in OUT); "
                "scale W_V W_O so a token comes out with strength about 1."
            )
    passed(
        "Above the previous-token head, yours completes the second half of every "
        "repeated sequence."
    )


# ---------------------------------------------------------------------------
# The prediction: two earlier copies
# ---------------------------------------------------------------------------
def two_copies() -> dict[str, Any]:
    """The library's induction pair on ``ind.TWO_COPIES``: the final query's attention and its keys."""
    tokens = ind.encode(ind.TWO_COPIES)[None]
    _, (_, pattern) = ind.run(
        ind.embed(tokens), [[ind.previous_token_head()], [ind.induction_head()]]
    )
    final = tokens[0, -1]
    after = [p + 1 for p in range(tokens.shape[1] - 1) if tokens[0, p] == final]
    shares = [float(pattern[0, 0, -1, k]) for k in after]
    return {"keys": after, "shares": shares, "text": ind.TWO_COPIES}


@check
def check_two_copies(predict_two_copies) -> None:
    """Check the predicted attention of the final token on the tokens after its two earlier copies."""
    got = call(predict_two_copies, name="predict_two_copies")
    if isinstance(got, torch.Tensor) and got.numel() == 2:
        got = got.flatten().tolist()
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(
            "Return a pair of shares, (on the first key, on the second key), e.g. (0.2, 0.7)."
        )
    try:
        first, second = (float(v) for v in got)
    except (TypeError, ValueError):
        fail(f"The two shares should be numbers between 0 and 1; got {brief(got)}.")
    if max(first, second) > 1 and min(first, second) >= 0 and first + second <= 101:
        fail(
            f"You predicted ({first:g}, {second:g}): percentages? Give shares between "
            "0 and 1, e.g. 0.25 for 25%."
        )
    if not (0 <= first <= 1 and 0 <= second <= 1):
        fail(
            f"Attention shares lie between 0 and 1; you predicted ({first}, {second})."
        )
    if first + second > 1.01:
        fail(
            f"Your shares add up to {first + second:.2f}; a query's attention over its "
            "keys adds up to 1."
        )
    truth = two_copies()
    a, b = truth["shares"]
    if abs(first - a) <= 0.1 and abs(second - b) <= 0.1:
        passed(
            f"Right: {a:.2f} and {b:.2f}; nothing in this head's QK circuit reads position."
        )
        return
    if second > first + 0.2:
        what = "most of the attention on the later copy's next token"
    elif first > second + 0.2:
        what = "most of the attention on the earlier copy's next token"
    else:
        what = f"{1 - first - second:.0%} of the attention to other keys"
    fail(
        f"You predicted {what}; the head puts {a:.2f} and {b:.2f} on the two keys that "
        f"follow an earlier copy, and {1 - a - b:.2f} on the other keys."
    )


# ---------------------------------------------------------------------------
# The diagnosis of three broken heads
# ---------------------------------------------------------------------------
_MATRICES = ("W_Q", "W_K", "W_V", "W_O")


def repaired_accuracy(name: str, matrix: str) -> float:
    """Second-half accuracy of broken head `name` with `matrix` replaced by the working head's."""
    broken = list(ind.broken_heads()[name])
    broken[_MATRICES.index(matrix)] = ind.induction_head()[_MATRICES.index(matrix)]
    head = (broken[0], broken[1], broken[2], broken[3])
    tokens = ind.repeated_sequences(32, 10, seed=9)
    return ind.score_induction(ind.previous_token_head(), head, tokens)["accuracy"]


@check
def check_diagnosis(diagnose_broken_heads) -> None:
    """Check which matrix of each broken induction head is wrong, by repairing it."""
    got = call(diagnose_broken_heads, name="diagnose_broken_heads")
    names = sorted(ind.broken_heads())
    if not isinstance(got, dict):
        fail(
            f"Return a dict from each broken head ({', '.join(names)}) to the name of its "
            f"faulty matrix, e.g. {{'a': 'W_Q', ...}}; got a {type(got).__name__}."
        )
    for name in names:
        if name not in got:
            fail(f"Your dict has no diagnosis for head {name!r}.")
        if got[name] not in _MATRICES:
            fail(
                f"Your diagnosis of head {name!r} is {got[name]!r}; name one of "
                f"{', '.join(_MATRICES)}."
            )
    working = ind.induction_head()
    for name in names:
        matrix = got[name]
        accuracy = repaired_accuracy(name, matrix)
        if accuracy < 0.95:
            same = torch.equal(
                ind.broken_heads()[name][_MATRICES.index(matrix)],
                working[_MATRICES.index(matrix)],
            )
            why = (
                "it is the working head's already"
                if same
                else "it differs from the working head's, but the fault is elsewhere"
            )
            fail(
                f"Putting the working head's {matrix} into head {name!r} leaves its "
                f"second-half accuracy at {accuracy:.0%} ({why})."
            )
    passed(
        "All three diagnosed: the working matrix in place of the one you named "
        "repairs each head."
    )
