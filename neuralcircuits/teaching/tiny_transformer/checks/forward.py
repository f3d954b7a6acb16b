"""Lesson 03's checks for one attention head, as a QK and an OV circuit, and
the forward pass of a one-layer attention-only transformer from its weights.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from neuralcircuits.teaching.checking import (
    as_tensor,
    as_tensors,
    call,
    check,
    clean_model,
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


_INF = float("-inf")

# Each slip in computing a pattern, and how the check names it.
_SCALES = {  # what the scores are divided by: d_model, d_head -> divisor
    "": lambda d_model, d_head: d_head**0.5,
    "the scores are not divided by sqrt(d_head)": lambda d_model, d_head: 1.0,
    "the scores are divided by d_head, not by its square root": lambda d_model, d_head: (
        d_head
    ),
    "the scores are divided by sqrt(d_model), not sqrt(d_head)": lambda d_model, d_head: (
        d_model**0.5
    ),
}
_MASKS = {  # how the future is hidden: (scores, future, axis) -> pattern
    "": lambda s, f, axis: s.masked_fill(f, _INF).softmax(axis),
    "the mask comes after the softmax, so rows no longer sum to 1 (mask with -inf "
    "before it)": lambda s, f, axis: s.softmax(axis).masked_fill(f, 0.0),
    "the future is filled with 0, which the softmax turns into weight (fill it with "
    "-inf)": lambda s, f, axis: s.masked_fill(f, 0.0).softmax(axis),
    "positions attend to later positions (mask the keys after the query with -inf "
    "before the softmax)": lambda s, f, axis: s.softmax(axis),
}
_TRANSPOSED = (
    "the pattern is transposed: row i should hold query i's scores x_i W_QK x_j^T "
    "over the keys j"
)
_QUERY_AXIS = (
    "the softmax runs over the queries; each query's weights over the keys should sum "
    "to 1 (softmax(dim=-1))"
)


def _head_variants(
    x: torch.Tensor,
    W_Q: torch.Tensor,
    W_K: torch.Tensor,
    W_V: torch.Tensor,
    W_O: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, dict[tuple[str, ...], torch.Tensor]]:
    """The right pattern and output, and the pattern of every combination of slips  # {slips: pattern}."""
    d_model, d_head = W_Q.shape
    scores = (x @ W_Q) @ (x @ W_K).transpose(1, 2)  # [batch, q, k]
    n = x.shape[1]
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    wrong: dict[tuple[str, ...], torch.Tensor] = {}
    for transposed in ("", _TRANSPOSED):
        oriented = scores.transpose(1, 2) if transposed else scores
        for scale, divisor in _SCALES.items():
            scaled = oriented / divisor(d_model, d_head)
            for mask, pattern in _MASKS.items():
                for axis in (-1, 1):
                    slips = (transposed, scale, mask, "" if axis == -1 else _QUERY_AXIS)
                    wrong[tuple(s for s in slips if s)] = pattern(scaled, future, axis)
    right = wrong.pop(())
    return right, right @ x @ W_V @ W_O, wrong


def _pattern_problem(
    pattern: torch.Tensor, wrong: dict[tuple[str, ...], torch.Tensor]
) -> str:
    """What a wrong pattern did: the fewest slips that give it, or what it measures."""
    matches = [slips for slips, p in wrong.items() if close(pattern, p)]
    if matches:
        fewest = min(matches, key=lambda slips: len(slips))
        return "Not the pattern yet: " + "; and ".join(fewest) + "."
    if close(pattern.sum(0), torch.ones_like(pattern[0])):
        return (
            "Each (query, key) entry sums to 1 over the batch: the softmax runs over "
            "dim 0; take it over the keys, softmax(dim=-1)."
        )
    n = pattern.shape[-1]
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    past = torch.ones(n, n, dtype=torch.bool).tril(-1)
    on_future = float(pattern[:, future].abs().max())
    if on_future > 1e-4 and float(pattern[:, past].abs().max()) < 1e-6:
        return (
            "Each query attends only to itself and later keys: the mask hides the past; "
            "hide the keys after the query instead, ones(n, n).triu(1)."
        )
    if float(pattern.diagonal(dim1=1, dim2=2)[:, 1:].abs().max()) < 1e-6:
        return (
            "Each query gives itself 0: the mask hides the diagonal too; a position may "
            "attend to itself, so mask only the keys after it, ones(n, n).triu(1)."
        )
    if on_future > 1e-4:
        return (
            f"Keys after their query get up to {on_future:.2f} of the attention; mask "
            "them with -inf before the softmax."
        )
    sums = pattern.sum(-1)
    if not close(sums, torch.ones_like(sums)):
        return (
            f"A query's weights over the keys sum to {float(sums.min()):.3g} to "
            f"{float(sums.max()):.3g}; they should sum to 1 (softmax over the keys, "
            "dim=-1, after the mask)."
        )
    return (
        "The pattern differs from softmax(mask(x W_QK x^T / sqrt(d_head))) with W_QK = "
        "W_Q W_K^T, though it is causal and its rows sum to 1; check the product."
    )


def _nan_problem(got: Any, pos: int) -> str | None:
    """Where a returned pattern is NaN or infinite, and what that means, or None."""
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        return None
    pattern = got[0]
    if not (isinstance(pattern, torch.Tensor) and pattern.is_floating_point()):
        return None
    bad = ~torch.isfinite(pattern.detach())
    if not bad.any() or bad.dim() != 3 or tuple(bad.shape[1:]) != (pos, pos):
        return None
    rows = [int(i) for i in bad.any(0).any(-1).nonzero()]
    future = torch.ones(pos, pos, dtype=torch.bool).triu(1)
    where = bad.any(0)
    if torch.equal(where, future):
        return (
            "The pattern is NaN exactly where a key comes after its query: the softmax "
            "runs over an axis on which those entries are all -inf; take it over the "
            "keys, softmax(dim=-1)."
        )
    if bool(where[rows].all()):
        shown = ", ".join(str(r) for r in rows[:3]) + (", ..." if len(rows) > 3 else "")
        return (
            f"Row {shown} of the pattern is NaN: the mask hides every key of that query; "
            "mask only the keys after the query, ones(n, n).triu(1) (a query may attend "
            "to itself)."
        )
    return None


def _output_problem(out, pattern, x, W_Q, W_K, W_V, W_O) -> str | None:
    """What a wrong output did, with the pattern already right, or None if it is right."""
    W_OV = W_V @ W_O
    if close(out, pattern @ x @ W_OV, atol=1e-3, rtol=1e-3):
        return None
    d_head = W_V.shape[1]
    named = (
        (
            pattern @ x,
            "The output is the pattern times x; it must go through W_OV = W_V W_O.",
        ),
        (
            pattern.transpose(1, 2) @ x @ W_OV,
            "The output uses the transposed pattern; each query mixes the keys' vectors: "
            "pattern @ x @ W_OV.",
        ),
        (
            x @ W_OV,
            "Each position outputs its own x W_OV; the pattern must weight the values: "
            "pattern @ x @ W_OV.",
        ),
        (
            x + pattern @ x @ W_OV,
            "The output adds x: a head returns only what it writes, pattern @ x @ W_OV "
            "(the residual stream adds it to x).",
        ),
        (
            pattern @ x @ W_K @ W_O,
            "The values go through W_K; they are x @ W_V (then W_O).",
        ),
        (
            pattern @ x @ W_Q @ W_O,
            "The values go through W_Q; they are x @ W_V (then W_O).",
        ),
        (
            pattern @ x @ W_OV / d_head**0.5,
            "The output is divided by sqrt(d_head); only the scores are.",
        ),
    )
    for value, sentence in named:
        if close(out, value, atol=1e-3, rtol=1e-3):
            return sentence
    return "The pattern is right but the output is not pattern @ x @ W_V @ W_O; check the OV product."


@check
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
        batch, pos = shape[:2]
        problem = _nan_problem(got, pos)
        if problem:
            fail(problem)
        pattern, out = as_tensors(got, 2, "the result of attention_head")
        if tuple(pattern.shape) != (batch, pos, pos):
            fail(
                f"The pattern has shape {tuple(pattern.shape)}; it should be [batch, "
                f"query, key] = {(batch, pos, pos)}."
            )
        right, _, wrong = _head_variants(x, W_Q, W_K, W_V, W_O)
        if not close(pattern, right):
            fail(_pattern_problem(pattern, wrong))
        if tuple(out.shape) != tuple(x.shape):
            d_head = W_V.shape[1]
            skipped = (
                f" (its last axis is d_head = {d_head}: did you skip W_O?)"
                if out.shape[-1] == d_head
                else ""
            )
            fail(
                f"The output has shape {tuple(out.shape)}; a head writes back into the "
                f"residual stream, shape {tuple(x.shape)}{skipped}."
            )
        problem = _output_problem(out, right, x, W_Q, W_K, W_V, W_O)
        if problem:
            fail(problem)
    passed(
        "attention_head computes the pattern from W_QK and the output through W_OV "
        "(two shapes)."
    )


# ---------------------------------------------------------------------------
# The forward pass of a one-layer attention-only transformer
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _trained() -> tuple[Any, dict[str, torch.Tensor]]:
    """The lesson's trained model and its weights, loaded once.

    Neither is ever handed to a learner's function: each attempt gets copies,
    so nothing an earlier attempt did to them reaches a later check.
    """
    from neuralcircuits.science import attention_only as aot

    model = aot.load()
    return model, aot.weights(model)


def _forward(
    w: dict[str, torch.Tensor],
    tokens: torch.Tensor,
    *,
    positions: str = "first",
    direct: bool = True,
    head_biases: str = "QKV",
    out_bias: str = "once",
    unembed_bias: bool = True,
    heads: tuple[int, ...] | None = None,
    mask: str = "future",
    scale: str | int = "d_head",
) -> torch.Tensor:
    """The logits of a one-layer attention-only model, or of a plausible slip in writing it.

    ``positions``: "first" (W_pos[:n]), "last" (W_pos[-n:]) or "none";
    ``head_biases``: which of b_Q, b_K, b_V the heads add; ``out_bias``:
    "once", "per head" or "none"; ``mask``: "future", "diagonal" (the
    future and the diagonal, filled with -1e9) or "none"; ``scale``: the
    scores are divided by sqrt(d_head), sqrt(d_model) ("d_model"), nothing
    ("none") or the square root of a fixed number.
    """
    n = tokens.shape[1]
    x = w["W_E"][tokens]
    if positions != "none":
        x = x + (w["W_pos"][:n] if positions == "first" else w["W_pos"][-n:])
    resid = x if direct else torch.zeros_like(x)
    resid = resid + (w["b_O"] if out_bias == "once" else 0)
    hidden = torch.ones(n, n, dtype=torch.bool).triu(0 if mask == "diagonal" else 1)
    d_model, d_head = w["W_Q"].shape[1:]
    divisor = {"d_head": d_head, "d_model": d_model, "none": 1}.get(str(scale), scale)
    for h in heads if heads is not None else range(w["W_Q"].shape[0]):
        q, k, v = (
            x @ w[f"W_{c}"][h] + (w[f"b_{c}"][h] if c in head_biases else 0)
            for c in "QKV"
        )
        scores = q @ k.transpose(1, 2) / float(divisor) ** 0.5
        if mask != "none":
            scores = scores.masked_fill(hidden, -1e9 if mask == "diagonal" else _INF)
        resid = resid + scores.softmax(-1) @ v @ w["W_O"][h]
        resid = resid + (w["b_O"] if out_bias == "per head" else 0)
    return resid @ w["W_U"] + (w["b_U"] if unembed_bias else 0)


def _random_weights(seed: int) -> dict[str, torch.Tensor]:
    """Weights of another one-layer shape: 2 heads, d_model 10, d_head 3, 174 tokens."""
    g = torch.Generator().manual_seed(seed)
    V, d, H, dh, n_ctx = 174, 10, 2, 3, 32
    shapes = {
        "W_E": (V, d),
        "W_pos": (n_ctx, d),
        "W_Q": (H, d, dh),
        "b_Q": (H, dh),
        "W_K": (H, d, dh),
        "b_K": (H, dh),
        "W_V": (H, d, dh),
        "b_V": (H, dh),
        "W_O": (H, dh, d),
        "b_O": (d,),
        "W_U": (d, V),
        "b_U": (V,),
    }
    return {name: torch.randn(*shape, generator=g) for name, shape in shapes.items()}


_FORWARD_SLIPS: tuple[tuple[dict[str, Any], str], ...] = (
    (
        {"positions": "none"},
        "they are the model's logits without the positional embedding: add "
        "W_pos[:n_positions] to the token embeddings",
    ),
    (
        {"positions": "last"},
        "they add the last n rows of W_pos; position p's embedding is W_pos[p], so "
        "take W_pos[:n]",
    ),
    (
        {"direct": False},
        "they leave out the direct path: the residual stream is the embedding plus "
        "what the heads add, so keep x in the sum before W_U",
    ),
    (
        {"head_biases": ""},
        "the heads' queries, keys and values leave out their biases b_Q, b_K and b_V",
    ),
    ({"head_biases": "KV"}, "the heads' queries leave out their bias b_Q"),
    ({"head_biases": "QK"}, "the heads' values leave out their bias b_V"),
    ({"out_bias": "none"}, "they leave out b_O, which the layer adds once"),
    (
        {"out_bias": "per head"},
        "they add b_O once per head; it is the layer's bias, added once",
    ),
    ({"unembed_bias": False}, "they leave out b_U, the unembedding's bias"),
    ({"heads": (0,)}, "only head 0 adds to the residual stream; add every head"),
    ({"mask": "none"}, "positions attend to later positions: mask the future"),
    (
        {"mask": "diagonal"},
        "the mask hides each position from itself too; mask only the keys after the "
        "query, triu(1)",
    ),
    (
        {"scale": "none"},
        "the heads' scores are not divided by sqrt(d_head)",
    ),
    (
        {"scale": "d_model"},
        "the heads divide their scores by sqrt(d_model), not sqrt(d_head)",
    ),
)


def _nan_positions(got: Any) -> str | None:
    """A sentence for logits that are NaN at the first position only, or None."""
    if not (
        isinstance(got, torch.Tensor) and got.is_floating_point() and got.dim() == 3
    ):
        return None
    bad = ~torch.isfinite(got.detach()).all(-1).all(0)  # [pos]
    if bool(bad[0]) and not bool(bad[1:].any()):
        return (
            "Your logits are NaN at position 0 only: the mask hides every key of the "
            "first query, itself included; mask only the keys after the query, triu(1)."
        )
    return None


@check
def check_one_layer_forward(one_layer_forward) -> None:
    """Check a forward pass from the weights against the lesson's model and another shape."""
    from neuralcircuits.science import attention_only as aot

    model, trained = _trained()
    story = aot.story_tokens(aot.STORY)
    windows = aot.corpus(seed=3, n_tokens=2 * story.shape[1]).reshape(2, -1)
    cases = [
        ("the lesson's model", trained, torch.cat([story, windows])),
        (
            "random weights of another shape (2 heads, d_model 10)",
            _random_weights(0),
            torch.randint(0, 174, (3, 12), generator=torch.Generator().manual_seed(1)),
        ),
    ]
    for where, w, tokens in cases:
        copies = {name: tensor.clone() for name, tensor in w.items()}
        got = call(one_layer_forward, copies, tokens.clone(), name="one_layer_forward")
        problem = _nan_positions(got)
        if problem:
            fail(problem)
        shape = (*tokens.shape, w["W_U"].shape[1])
        got = as_tensor(got, "the result of one_layer_forward", shape)
        with torch.no_grad():
            right = (
                clean_model(model)(tokens).float()
                if w is trained
                else _forward(w, tokens)
            )
        if close(got, right, atol=1e-3, rtol=1e-4):
            continue
        if close(got, right.softmax(-1), atol=1e-4):
            fail(
                f"On {where} you return probabilities; return the logits, before any softmax."
            )
        if close(got, right.log_softmax(-1), atol=1e-3):
            fail(
                f"On {where} you return log-probabilities; return the logits themselves."
            )
        lesson_d_head = trained["W_Q"].shape[-1]
        fixed = (
            {"scale": lesson_d_head},
            f"the heads divide their scores by sqrt({lesson_d_head}), the lesson's "
            "d_head; read d_head from the weights, W_Q.shape[-1]",
        )
        for slip, sentence in (*_FORWARD_SLIPS, fixed):
            if close(got, _forward(w, tokens, **slip), atol=1e-3, rtol=1e-4):
                fail(f"Not the logits yet on {where}: {sentence}.")
        gap = (got - right).abs()
        row, pos = _largest(gap)
        fail(
            f"On {where} your logits differ from the right ones by up to {gap.max():.3g} "
            f"(row {row}, position {pos}); build them as (x + the heads' outputs + b_O) "
            "W_U + b_U, with x = W_E[tokens] + W_pos[:n]."
        )
    passed(
        "one_layer_forward reproduces the lesson's model (to 1e-3) and a model of "
        "another shape."
    )


def _largest(gap: torch.Tensor) -> tuple[int, int]:
    """The (row, position) of the largest entry of a [batch, pos, vocab] tensor."""
    flat = int(gap.flatten().argmax())
    _, pos, vocab = gap.shape
    return flat // (pos * vocab), flat // vocab % pos
