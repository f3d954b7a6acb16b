"""A transformer's parts from lesson 01's linear algebra: LayerNorm, one attention head, a head set by hand.

Elhage et al. 2021 ("A Mathematical Framework for Transformer Circuits") read
one attention head as two circuits, each a matrix product:

- the **QK circuit** ``W_QK = W_Q W_K^T`` [d_model, d_model]: the score of
  query position i on key position j is ``x_i W_QK x_j / sqrt(d_head)``, so it
  decides *where to look*;
- the **OV circuit** ``W_OV = W_V W_O`` [d_model, d_model]: what the head
  writes is the attention-weighted sum of ``x_j W_OV``, so it decides *what to
  move*.

This module computes a head both ways, and builds the small residual
streams on which the learner sets one head's weights by hand: a head that
attends from the final position to the last member and copies it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

# The hand-set head's residual stream: one direction per idea (a basis the
# learner can read, as in lesson 01).
N_MEMBER_VALUES = 12
MEMBER_DIMS = slice(0, N_MEMBER_VALUES)  # which member (one-hot), at member positions
IS_MEMBER = N_MEMBER_VALUES  # 1 at a member's position
POSITION = N_MEMBER_VALUES + 1  # the position index p, as a number
CONSTANT = N_MEMBER_VALUES + 2  # 1 at every position
D_MODEL = N_MEMBER_VALUES + 3


def layer_norm(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """LayerNorm over the last axis: centre, divide by the standard deviation, scale, shift."""
    x = x - x.mean(-1, keepdim=True)
    scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
    return x / scale * w + b


def qk_ov(
    W_Q: torch.Tensor, W_K: torch.Tensor, W_V: torch.Tensor, W_O: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """A head's QK and OV circuits  # ([d_model, d_model], [d_model, d_model])."""
    return W_Q @ W_K.T, W_V @ W_O


def attention_head(
    x: torch.Tensor,
    W_Q: torch.Tensor,
    W_K: torch.Tensor,
    W_V: torch.Tensor,
    W_O: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One causal head on x [batch, pos, d_model]: (pattern [batch, q, k], output [batch, pos, d_model])."""
    W_QK, W_OV = qk_ov(W_Q, W_K, W_V, W_O)
    d_head = W_Q.shape[-1]
    scores = torch.einsum("bqi,ij,bkj->bqk", x, W_QK, x) / math.sqrt(d_head)
    n = x.shape[1]
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    pattern = scores.masked_fill(future, float("-inf")).softmax(-1)
    return pattern, pattern @ x @ W_OV


# ---------------------------------------------------------------------------
# Residual streams for the head the learner sets by hand
# ---------------------------------------------------------------------------
@dataclass
class MemberStreams:
    """Residual streams in the readable basis above, with where the members are."""

    x: torch.Tensor  # [batch, pos, D_MODEL]
    member_pos: torch.Tensor  # [batch, n_members]
    member_values: torch.Tensor  # [batch, n_members] 0-based value of each member

    @property
    def last_member(self) -> torch.Tensor:
        """The value of each row's last member  # [batch]."""
        return self.member_values[:, -1]


def member_streams(
    n: int = 64,
    length: int = 24,
    n_members: int = 4,
    seed: int = 0,
    gaps: tuple[int, int] = (2, 7),
) -> MemberStreams:
    """Random prompts: fillers with members spaced ``gaps`` apart, the last position a filler."""
    rng = random.Random(seed)
    x = torch.zeros(n, length, D_MODEL)
    x[:, :, POSITION] = torch.arange(length, dtype=torch.float)
    x[:, :, CONSTANT] = 1.0
    positions, values = [], []
    for row in range(n):
        while True:
            steps = [rng.randint(*gaps) for _ in range(n_members)]
            pos = [sum(steps[: i + 1]) for i in range(n_members)]
            if pos[-1] <= length - 2:
                break
        start = rng.randint(0, N_MEMBER_VALUES - n_members)
        vals = [start + i for i in range(n_members)]
        for p, v in zip(pos, vals, strict=True):
            x[row, p, v] = 1.0
            x[row, p, IS_MEMBER] = 1.0
        positions.append(pos)
        values.append(vals)
    return MemberStreams(x, torch.tensor(positions), torch.tensor(values))


@torch.no_grad()
def score_last_member_head(
    weights: tuple[torch.Tensor, ...], streams: MemberStreams
) -> dict[str, float]:
    """How well a head (W_Q, W_K, W_V, W_O) attends from the final position to the last member and copies it.

    ``attention``: mean attention from the final position to the last member;
    ``copied``: share of rows whose output at the final position is largest,
    among the member directions, at the last member's value;
    ``copy_strength``: mean output along the last member's direction.
    """
    W_Q, W_K, W_V, W_O = (w.float() for w in weights)
    pattern, out = attention_head(streams.x, W_Q, W_K, W_V, W_O)
    rows = torch.arange(streams.x.shape[0])
    last_pos = streams.member_pos[:, -1]
    final = out[:, -1, MEMBER_DIMS]  # [batch, 12]
    return {
        "attention": float(pattern[rows, -1, last_pos].mean()),
        "copied": float((final.argmax(-1) == streams.last_member).float().mean()),
        "copy_strength": float(final[rows, streams.last_member].mean()),
    }


def last_member_head(
    sharpness: float = 4.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights (W_Q, W_K, W_V, W_O) of a head that attends to the last member and copies its value.

    The query at every position is the constant direction; the key of a
    member is a large "member" score plus a smaller score that grows with
    position, so the latest member wins. OV copies the member directions.
    """
    d_head = N_MEMBER_VALUES  # OV must copy 12 directions, so d_head >= 12
    W_Q = torch.zeros(D_MODEL, d_head)
    W_K = torch.zeros(D_MODEL, d_head)
    W_Q[CONSTANT, 0] = W_Q[CONSTANT, 1] = math.sqrt(d_head)  # cancels 1/sqrt(d_head)
    W_K[IS_MEMBER, 0] = 1000.0
    W_K[POSITION, 1] = sharpness
    W_V = torch.zeros(D_MODEL, d_head)
    W_V[MEMBER_DIMS, :] = torch.eye(N_MEMBER_VALUES)
    W_O = torch.zeros(d_head, D_MODEL)
    W_O[:, MEMBER_DIMS] = torch.eye(N_MEMBER_VALUES)
    return W_Q, W_K, W_V, W_O
