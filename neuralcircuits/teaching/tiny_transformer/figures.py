"""Lesson 03's figures, in the course style (``teaching.figures``): the training
curve, the direct path against the bigram statistics, one head's attention,
QK parts and OV map, the induction heads' patterns, and composition scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

from neuralcircuits.teaching import figures as style

TOKEN_COLOUR = style.POSITIVE
POSITION_COLOUR = style.NEGATIVE
SUM_COLOUR = style.OUTPUT


def loss_curve(curve: Sequence[float], every: int, bigram_loss: float) -> Figure:
    """The training loss per block of steps, beside the best bigram model's loss."""
    fig, ax = style.figure(height=3.0)
    steps = [every * (i + 1) for i in range(len(curve))]
    ax.plot(steps, curve, color=SUM_COLOUR, label="the model, while training")
    ax.axhline(bigram_loss, color=style.TARGET, ls="--", label="the best bigram model")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_ylim(0, min(6.0, max(curve) + 0.2))
    ax.legend()
    ax.set_title("one layer of attention beats every bigram model")
    return fig


def bigram_scatter(x: torch.Tensor, y: torch.Tensor, r: float) -> Figure:
    """The direct path's log-softmax against the corpus's log bigram probabilities."""
    fig, ax = style.figure(height=3.6, width=5.6)
    ax.scatter(x.numpy(), y.numpy(), s=14, alpha=0.5, color=TOKEN_COLOUR)
    ax.set_xlabel("log p(next | current), counted in the corpus")
    ax.set_ylabel("direct path, log-softmax")
    ax.set_title(f"the direct path reads as bigrams (r = {r:.2f})")
    return fig


def final_query_attention(
    patterns: torch.Tensor, words: Sequence[str], query: int = -1
) -> Figure:
    """Each head's attention from one query over the keys  # patterns [head, q, k]."""
    n_heads = patterns.shape[0]
    n = len(words)
    query = query % n
    rows = patterns[:, query, : query + 1]
    fig, ax = style.figure(height=2.6)
    labels = [f"{w} {i}" for i, w in enumerate(words[: query + 1])]
    style.heatmap(
        ax,
        rows,
        [str(h) for h in range(n_heads)],
        labels,
        "attention",
        cmap="Blues",
        vmin=0.0,
        vmax=1.0,
    )
    ax.set_ylabel("head")
    ax.set_title(f"where each head looks from {words[query]!r} (position {query})")
    return fig


def qk_parts(
    token_part: torch.Tensor, position_part: torch.Tensor, words: Sequence[str]
) -> Figure:
    """One query's scores over the keys: what each key is, where it is, and the sum."""
    fig, ax = style.figure(height=3.4)
    keys = range(len(words))
    ax.bar(
        [k - 0.2 for k in keys],
        token_part.numpy(),
        width=0.4,
        color=TOKEN_COLOUR,
        label="what the key is (token)",
    )
    ax.bar(
        [k + 0.2 for k in keys],
        position_part.numpy(),
        width=0.4,
        color=POSITION_COLOUR,
        label="where the key is (position)",
    )
    total = (token_part + position_part).numpy()
    ax.plot(list(keys), total, "o-", color=SUM_COLOUR, label="score: the sum")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(list(keys), [f"{w} {i}" for i, w in enumerate(words)], rotation=90)
    ax.set_ylabel("attention score")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, frameon=False)
    return fig


def ov_members(block: torch.Tensor, formats: Sequence[str]) -> Figure:
    """A head's OV circuit read on the members: one 12 x 12 panel per format  # block [36, 36]."""
    n = block.shape[0] // len(formats)
    fig, axes = style.figure(1, len(formats), height=3.2)
    ticks = [str(i + 1) if i % 2 == 0 else "" for i in range(n)]
    limit = float(block.abs().max())
    for f, (ax, name) in enumerate(zip(axes, formats, strict=True)):
        part = block[f * n : (f + 1) * n, f * n : (f + 1) * n]
        style.heatmap(
            ax,
            part,
            ticks,
            ticks,
            "logit" if f == len(formats) - 1 else None,
            vmin=-limit,
            vmax=limit,
            colorbar=f == len(formats) - 1,
        )
        ax.set_title(name)
        ax.set_xlabel("logit of member")
        if f == 0:
            ax.set_ylabel("attended member")
    return fig


def induction_patterns(
    patterns: Sequence[torch.Tensor], text: str, titles: Sequence[str]
) -> Figure:
    """Attention patterns [q, k] side by side on one sequence of letters."""
    fig, axes = style.figure(1, len(patterns), height=3.8)
    axes = [axes] if len(patterns) == 1 else list(axes)
    labels = list(text)
    for ax, pattern, title in zip(axes, patterns, titles, strict=True):
        style.heatmap(
            ax,
            pattern,
            labels,
            labels,
            None,
            cmap="Blues",
            vmin=0.0,
            vmax=1.0,
            colorbar=False,
        )
        ax.tick_params(labelsize=style.MIN_FONT_PT)
        ax.set_xlabel("key")
        ax.set_title(title)
    axes[0].set_ylabel("query")
    return fig


def next_token_probability(probs: torch.Tensor, length: int) -> Figure:
    """Mean probability of the right next token at each position of repeated sequences  # probs [batch, pos - 1]."""
    fig, ax = style.figure(height=3.0)
    mean = probs.mean(0).numpy()
    ax.plot(range(len(mean)), mean, "o-", color=SUM_COLOUR)
    ax.axvline(length + 0.5, color=style.TARGET, ls="--")
    ax.text(length + 0.8, 0.5, "second half", color=style.TARGET, fontsize=12)
    ax.set_xlabel("position")
    ax.set_ylabel("p(the right next token)")
    ax.set_ylim(-0.05, 1.05)
    style.integer_ticks(ax, "x")
    ax.set_title("the induction head predicts what it has seen before")
    return fig


def composition_bars(
    scores: dict[str, float], baseline: dict[str, torch.Tensor]
) -> Figure:
    """Q-, K- and V-composition of a pair of heads, beside random pairs of heads."""
    fig, ax = style.figure(height=3.0, width=5.6)
    kinds = list(scores)
    for i, kind in enumerate(kinds):
        random = baseline[kind]
        ax.scatter(
            [i + 0.2] * len(random),
            random.numpy(),
            s=8,
            alpha=0.3,
            color=style.TARGET,
            label="random heads" if i == 0 else None,
        )
        ax.bar(
            i - 0.15,
            scores[kind],
            width=0.3,
            color=SUM_COLOUR,
            label="prev-token -> induction" if i == 0 else None,
        )
    ax.set_xticks(range(len(kinds)), [f"{k}-composition" for k in kinds])
    ax.set_ylabel("composition score")
    ax.legend(loc="upper left")
    ax.set_title("composition shows in the weights")
    return fig
