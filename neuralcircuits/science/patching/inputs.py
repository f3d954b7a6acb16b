"""Checks on what a sweep is given, and which positions a metric reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

Metric = Callable[[torch.Tensor], Any]


def check_model(model: Any) -> None:
    """Fail clearly on a model in training mode (dropout would make every patched run differ)."""
    if getattr(model, "training", False):
        raise ValueError(
            "the model is in training mode; call model.eval() before patching "
            "(dropout would make every patched run different)"
        )


def check_tokens(tokens: Any, what: str) -> torch.Tensor:
    """Return `tokens` if it is a [batch, pos] tensor of token ids; else fail saying what it is."""
    if not isinstance(tokens, torch.Tensor):
        raise TypeError(
            f"{what} must be a torch.Tensor of token ids, got {type(tokens).__name__}"
        )
    if tokens.ndim != 2:
        raise ValueError(
            f"{what} must have shape [batch, pos], got {tuple(tokens.shape)}"
        )
    return tokens


def check_pair(model: Any, clean_tokens: Any, corrupted_tokens: Any) -> None:
    """Check the model and that clean and corrupted tokens are batches of one shape."""
    check_model(model)
    clean = check_tokens(clean_tokens, "clean_tokens")
    corrupted = check_tokens(corrupted_tokens, "corrupted_tokens")
    if clean.shape != corrupted.shape:
        raise ValueError(
            f"clean and corrupted batches must have the same shape [batch, pos]; got clean "
            f"{tuple(clean.shape)} and corrupted {tuple(corrupted.shape)}"
        )


def scalar(metric: Metric, logits: torch.Tensor) -> torch.Tensor:
    """metric(logits) as a 0-d tensor, or a clear error."""
    out = metric(logits)
    try:
        value = torch.as_tensor(out)
    except Exception as exc:
        raise TypeError(
            f"metric must return a scalar tensor, got {type(out).__name__}"
        ) from exc
    if value.ndim != 0:
        raise ValueError(
            f"metric must return a scalar (0-d tensor), got shape {tuple(value.shape)}; "
            "average over the batch, e.g. return logit_diff.mean()"
        )
    return value


def metric_positions(metric: Metric, logits: torch.Tensor) -> list[int]:
    """Return the positions whose logits the metric reads, found by NaN-probing each position."""
    base = scalar(metric, logits).detach().double()
    n_pos = logits.shape[1]
    if not torch.isfinite(base):
        return list(range(n_pos))
    probe = logits.clone()
    read = []
    for pos in range(n_pos):
        saved = probe[:, pos].clone()
        probe[:, pos] = float("nan")
        value = torch.as_tensor(metric(probe)).detach().double()
        probe[:, pos] = saved
        if not bool(value == base):
            read.append(pos)
    # Joint check: with every other position NaN the metric must be unchanged.
    unread = [p for p in range(n_pos) if p not in read]
    if unread:
        probe[:, unread] = float("nan")
        value = torch.as_tensor(metric(probe)).detach().double()
        if not bool(value == base):
            return list(range(n_pos))
    return read or [n_pos - 1]


def selection(n: int, chosen: Iterable[int] | None) -> list[int]:
    """The sorted indices of `chosen` among range(n) (negative counts from the end); all when None."""
    return sorted(set(range(n) if chosen is None else (i % n for i in chosen)))
