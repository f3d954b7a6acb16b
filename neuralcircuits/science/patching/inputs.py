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


def metric_columns(
    metric: Metric, logits: torch.Tensor, read: list[int]
) -> torch.Tensor | None:
    """The vocabulary entries the metric reads at the positions it reads, or None.

    Found from the metric's gradient with respect to the logits (the entries
    it is not flat in), then checked: with every other entry at those
    positions NaN, the metric must be unchanged. None when it reads more
    than a quarter of the vocabulary (a softmax reads all of it), has no
    gradient, or fails the check: then every entry is computed.
    """
    vocab = logits.shape[-1]
    x = logits.detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            value = scalar(metric, x)
            if not value.requires_grad:
                return None
            (grad,) = torch.autograd.grad(value, x)
    except RuntimeError:
        return None
    cols = (grad[:, read] != 0).flatten(0, 1).any(0).nonzero().flatten()
    if not 0 < len(cols) <= vocab // 4:
        return None
    base = value.detach().double()
    others = torch.ones(vocab, dtype=torch.bool)
    others[cols] = False
    probe = logits.detach().clone()
    at = probe[:, read]  # [batch, n_read, vocab], a copy
    at[..., others] = float("nan")
    probe[:, read] = at
    with torch.no_grad():
        if not bool(torch.as_tensor(metric(probe)).detach().double() == base):
            return None
    return cols
