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
    positions: bool = True,
    direct: bool = True,
    head_biases: bool = True,
    out_bias: bool = True,
    heads: tuple[int, ...] | None = None,
    causal: bool = True,
) -> torch.Tensor:
    """The logits of a one-layer attention-only model, or of a plausible slip in writing it."""
    n = tokens.shape[1]
    x = w["W_E"][tokens] + (w["W_pos"][:n] if positions else 0)
    resid = (x if direct else torch.zeros_like(x)) + (w["b_O"] if out_bias else 0)
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    for h in heads if heads is not None else range(w["W_Q"].shape[0]):
        q, k, v = (x @ w[f"W_{c}"][h] for c in "QKV")
        if head_biases:
            q, k, v = q + w["b_Q"][h], k + w["b_K"][h], v + w["b_V"][h]
        scores = q @ k.transpose(1, 2) / q.shape[-1] ** 0.5
        if causal:
            scores = scores.masked_fill(future, float("-inf"))
        resid = resid + scores.softmax(-1) @ v @ w["W_O"][h]
    return resid @ w["W_U"] + w["b_U"]


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
        {"positions": False},
        "they are the model's logits without the positional embedding: add "
        "W_pos[:n_positions] to the token embeddings",
    ),
    (
        {"direct": False},
        "they leave out the direct path: the residual stream is the embedding plus "
        "what the heads add, so keep x in the sum before W_U",
    ),
    (
        {"head_biases": False},
        "the heads' queries, keys and values leave out their biases b_Q, b_K and b_V",
    ),
    ({"out_bias": False}, "they leave out b_O, which the layer adds once"),
    ({"heads": (0,)}, "only head 0 adds to the residual stream; add every head"),
    ({"causal": False}, "positions attend to later positions: mask the future"),
)


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
        for slip, sentence in _FORWARD_SLIPS:
            if close(got, _forward(w, tokens, **slip), atol=1e-3, rtol=1e-4):
                fail(f"Not the logits yet on {where}: {sentence}.")
        gap = (got - right).abs()
        row, pos = _largest(gap)
        fail(
            f"On {where} your logits differ from the model's by up to {gap.max():.3g} "
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
