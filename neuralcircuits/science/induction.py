"""Induction heads built by hand, in a residual stream you can read (Elhage et al. 2021; Olsson et al. 2022).

An **induction head** completes a pattern it has seen: "... A B ... A" -> B.
It takes two heads in two layers (Elhage et al. 2021):

- a **previous-token head** (layer 0): each position attends to the position
  before it and copies that token into a subspace of its own residual
  stream, "the token before me";
- the **induction head** (layer 1): its query is the current token A; its
  keys read the subspace the previous-token head wrote, so the key that
  matches is the position whose *previous* token was A, the B that followed
  A last time; its OV circuit copies B into the prediction.

The induction head's keys are made from another head's output: that is
**K-composition**. Composition shows in the weights (Elhage et al.'s
composition scores): ``|W_A W_B|_F / (|W_A|_F |W_B|_F)`` is large when what
one head writes is what the other reads.

The residual stream here is a labelled basis (``D_MODEL`` = 57 directions):

=========  =======  =====================================================
name       dims     written by / meaning
=========  =======  =====================================================
TOKEN      0-10     the embedding: this position's token (one-hot)
PREV       11-21    a previous-token head: the token before this position
POS        22-45    the positional embedding: this position (one-hot)
OUT        46-56    an induction head: the token it predicts next
=========  =======  =====================================================

Tokens are ``<bos>`` and the ten letters A to J; the unembedding reads OUT
(``UNEMBED`` times the one-hot of each token), so logits are what the heads
wrote there.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch

from neuralcircuits.science import transformer_parts as tp

LETTERS = "ABCDEFGHIJ"
TOKENS = ("<bos>", *LETTERS)
N_TOKENS = len(TOKENS)
N_CTX = 24
TOKEN = slice(0, N_TOKENS)
PREV = slice(N_TOKENS, 2 * N_TOKENS)
POS = slice(2 * N_TOKENS, 2 * N_TOKENS + N_CTX)
OUT = slice(2 * N_TOKENS + N_CTX, 3 * N_TOKENS + N_CTX)
D_MODEL = 3 * N_TOKENS + N_CTX
SUBSPACES = {"TOKEN": TOKEN, "PREV": PREV, "POS": POS, "OUT": OUT}
UNEMBED = 10.0  # logit per unit written into OUT
SCORE = 10.0  # attention score of a match in the library's heads

Head = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def encode(text: str) -> torch.Tensor:
    """Letters as token ids with ``<bos>`` first: "ABCA" -> [0, 1, 2, 3, 1]  # [len(text) + 1]."""
    return torch.tensor([0] + [1 + LETTERS.index(c) for c in text], dtype=torch.long)


def decode(tokens: Sequence[int] | torch.Tensor) -> str:
    """Token ids as text, ``<bos>`` shown as "^"."""
    return "".join("^" if int(t) == 0 else LETTERS[int(t) - 1] for t in tokens)


def embed(tokens: torch.Tensor) -> torch.Tensor:
    """The residual stream before layer 0: one-hot token in TOKEN, one-hot position in POS  # [batch, pos, D_MODEL]."""
    tokens = tokens if tokens.dim() == 2 else tokens[None]
    batch, n = tokens.shape
    x = torch.zeros(batch, n, D_MODEL)
    x[..., TOKEN] = torch.nn.functional.one_hot(tokens, N_TOKENS).float()
    x[:, :, POS][:, :, :n] = torch.eye(n)
    return x


def repeated_sequences(n: int = 32, length: int = 10, seed: int = 0) -> torch.Tensor:
    """``<bos>``, a random order of ``length`` letters, then the same letters again  # [n, 1 + 2 length].

    Each letter appears once in each half, so in the second half every token
    has exactly one earlier copy, followed by the token to predict.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        half = rng.sample(range(1, N_TOKENS), length)
        rows.append([0, *half, *half])
    return torch.tensor(rows, dtype=torch.long)


def run(
    x: torch.Tensor, layers: Sequence[Sequence[Head]]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """An attention-only transformer on the stream x: each layer's heads read the stream and add to it.

    Returns (the final stream [batch, pos, D_MODEL], one pattern
    [batch, head, q, k] per layer).
    """
    patterns = []
    for heads in layers:
        outs = [tp.attention_head(x, *(w.float() for w in head)) for head in heads]
        patterns.append(torch.stack([p for p, _ in outs], 1))
        x = x + sum(o for _, o in outs)
    return x, patterns


def logits(stream: torch.Tensor) -> torch.Tensor:
    """What the unembedding reads: UNEMBED times OUT  # [batch, pos, N_TOKENS]."""
    return UNEMBED * stream[..., OUT]


def _zeros(d_head: int) -> Head:
    return (
        torch.zeros(D_MODEL, d_head),
        torch.zeros(D_MODEL, d_head),
        torch.zeros(D_MODEL, d_head),
        torch.zeros(d_head, D_MODEL),
    )


def previous_token_head(score: float = SCORE) -> Head:
    """A head whose every position attends to the position before it and copies its token into PREV.

    QK: the query of position p is p's one-hot position shifted by one, the
    key of position j its one-hot position, so only j = p - 1 scores
    ``score``. OV: TOKEN -> PREV. Position 0 has no previous position and
    attends to itself.
    """
    d_head = N_CTX
    W_Q, W_K, W_V, W_O = _zeros(d_head)
    scale = math.sqrt(d_head) * score  # the head divides scores by sqrt(d_head)
    for p in range(1, N_CTX):
        W_Q[POS.start + p, p - 1] = scale  # "I look for position p - 1"
    W_K[POS, :] = torch.eye(N_CTX)  # "I am position j"
    W_V[TOKEN, :N_TOKENS] = torch.eye(N_TOKENS)  # read my token ...
    W_O[:N_TOKENS, PREV] = torch.eye(N_TOKENS)  # ... write it as the next one's PREV
    return W_Q, W_K, W_V, W_O


def induction_head(score: float = SCORE) -> Head:
    """A head that attends to the token after an earlier copy of the current token and predicts it.

    QK: query TOKEN[a] meets key PREV[a] (K-composition with the previous-
    token head). OV: TOKEN -> OUT.
    """
    d_head = N_TOKENS
    W_Q, W_K, W_V, W_O = _zeros(d_head)
    W_Q[TOKEN, :] = torch.eye(N_TOKENS) * math.sqrt(d_head) * score
    W_K[PREV, :] = torch.eye(N_TOKENS)
    W_V[TOKEN, :] = torch.eye(N_TOKENS)
    W_O[:, OUT] = torch.eye(N_TOKENS)
    return W_Q, W_K, W_V, W_O


def second_half(tokens: torch.Tensor) -> torch.Tensor:
    """Positions of the second half of repeated sequences, except the last  # [length - 1] long."""
    length = (tokens.shape[1] - 1) // 2
    return torch.arange(length + 1, 2 * length)


@torch.no_grad()
def score_induction(
    prev_head: Head, ind_head: Head, tokens: torch.Tensor
) -> dict[str, float]:
    """How well two heads, in layers 0 and 1, do induction on repeated sequences.

    ``prev_attention``: mean attention of layer 0 from each position p >= 1
    to p - 1. ``induction_attention``: mean attention of layer 1, from the
    second half, to the token after the earlier copy. ``accuracy``: share
    of second-half positions whose top logit is the next token.
    ``first_half_accuracy``: the same on the first half (positions 1 to
    length - 1), where nothing has repeated yet.
    """
    stream, (p0, p1) = run(embed(tokens), [[prev_head], [ind_head]])
    n = tokens.shape[1]
    length = (n - 1) // 2
    pos = torch.arange(1, n)
    prev_att = p0[:, 0, pos, pos - 1].mean()
    q = second_half(tokens)
    ind_att = p1[:, 0, q, q - length + 1].mean()
    predicted = logits(stream).argmax(-1)  # [batch, pos]
    right = predicted[:, :-1] == tokens[:, 1:]
    first = torch.arange(1, length)
    return {
        "prev_attention": float(prev_att),
        "induction_attention": float(ind_att),
        "accuracy": float(right[:, q].float().mean()),
        "first_half_accuracy": float(right[:, first].float().mean()),
    }


@torch.no_grad()
def next_token_probs(
    prev_head: Head, ind_head: Head, tokens: torch.Tensor
) -> torch.Tensor:
    """The probability each position gives the token that comes next  # [batch, pos - 1]."""
    stream, _ = run(embed(tokens), [[prev_head], [ind_head]])
    probs = logits(stream).softmax(-1)[:, :-1]
    return probs.gather(-1, tokens[:, 1:, None])[..., 0]


# ---------------------------------------------------------------------------
# Composition in the weights
# ---------------------------------------------------------------------------
def composition_score(W_A: torch.Tensor, W_B: torch.Tensor) -> float:
    """Elhage et al.'s composition score ``|W_A W_B|_F / (|W_A|_F |W_B|_F)``, between 0 and 1."""
    return float((W_A @ W_B).norm() / (W_A.norm() * W_B.norm()))


def composition_scores(first: Head, second: Head) -> dict[str, float]:
    """How much a layer-1 head reads what a layer-0 head writes, in its queries, keys and values.

    With row vectors (x W), the first head writes ``x W_OV1``; the second
    reads it in its queries through ``W_OV1 W_QK2`` (Q), in its keys through
    ``W_OV1 W_QK2^T`` (K) and in its values through ``W_OV1 W_OV2`` (V).
    """
    _, W_OV1 = tp.qk_ov(*first)
    W_QK2, W_OV2 = tp.qk_ov(*second)
    return {
        "Q": composition_score(W_OV1, W_QK2),
        "K": composition_score(W_OV1, W_QK2.T),
        "V": composition_score(W_OV1, W_OV2),
    }


def random_head(d_head: int, generator: torch.Generator) -> Head:
    """A head with Gaussian weights of the given d_head (the baseline for composition scores)."""
    W_Q, W_K, W_V = (
        torch.randn(D_MODEL, d_head, generator=generator) for _ in range(3)
    )
    return W_Q, W_K, W_V, torch.randn(d_head, D_MODEL, generator=generator)


def random_baseline(
    n: int = 200, d_heads: tuple[int, int] = (N_CTX, N_TOKENS), seed: int = 0
) -> dict[str, torch.Tensor]:
    """Composition scores of ``n`` pairs of random heads with the library's shapes  # each [n]."""
    g = torch.Generator().manual_seed(seed)
    scores: dict[str, list[float]] = {"Q": [], "K": [], "V": []}
    for _ in range(n):
        s = composition_scores(random_head(d_heads[0], g), random_head(d_heads[1], g))
        for kind, value in s.items():
            scores[kind].append(value)
    return {kind: torch.tensor(v) for kind, v in scores.items()}


# ---------------------------------------------------------------------------
# Heads that go wrong
# ---------------------------------------------------------------------------
def _reads(W: torch.Tensor, source: slice, target: slice) -> torch.Tensor:
    """W with the rows of `source` moved to `target` (reads another subspace)."""
    out = torch.zeros_like(W)
    out[target] = W[source]
    return out


def broken_heads() -> dict[str, Head]:
    """Three induction heads with one matrix wrong each (lesson 03's diagnosis exercise).

    - "a": its keys read TOKEN instead of PREV (W_K);
    - "b": its queries read PREV instead of TOKEN (W_Q);
    - "c": its values read PREV instead of TOKEN (W_V).
    """
    W_Q, W_K, W_V, W_O = induction_head()
    return {
        "a": (W_Q, _reads(W_K, PREV, TOKEN), W_V, W_O),
        "b": (_reads(W_Q, TOKEN, PREV), W_K, W_V, W_O),
        "c": (W_Q, W_K, _reads(W_V, TOKEN, PREV), W_O),
    }


BROKEN_FAULTS = {"a": "W_K", "b": "W_Q", "c": "W_V"}

# Lesson 03's prediction: the final A has two earlier copies, followed by B and E.
TWO_COPIES = "ABCDAEFGA"
