"""The "One is 1" question: do 5, five and May share a representation? (the precursor of Lan, Torr & Barez 2023).

At the members' positions we collect the residual stream before every block
and after the last, averaged per member value (1..12) and per format
(numerals, number words, months). Then:

- **cosine by layer**: after centring each layer on the mean of all 36
  members (the part every member shares says nothing about its value), how
  similar are the same value's vectors in two formats, against different
  values?
- **PCA**: the 36 centred members in the plane of their two main directions;
- **a linear probe** for a member's place in its sequence (1 for 1, one and
  January), fitted on numerals and tested on the other formats;
- **a "+1" direction**: the mean step from each member to the next, per
  format; its cosine across formats, and **activation addition** (Turner et
  al. 2023, "Activation Addition: Steering Language Models Without
  Optimization"): add it at the last member and measure what the model answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from neuralcircuits.science import disk_cache, sequences
from neuralcircuits.science.hooks import activations, hook_name
from neuralcircuits.science.members import N_VALUES

FORMATS = sequences.TASKS  # ("numerals", "number_words", "months")


def depth_names(model: Any) -> list[str]:
    """Hook names of the residual stream before each block and after the last."""
    n = model.cfg.n_layers
    return [hook_name("resid_pre", L) for L in range(n)] + [
        hook_name("resid_post", n - 1)
    ]


@torch.no_grad()
def member_activations(
    model: Any, datasets: Sequence[sequences.SequenceDataset]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Residual stream at every shown member, at every depth.

    Returns (acts [n_depths, n_rows, d_model], values [n_rows] 0-based,
    slots [n_rows] 0..3: the member's place among the four shown).
    """
    names = depth_names(model)
    acts, values, slots = [], [], []
    for ds in datasets:

        def at_members(ds=ds) -> torch.Tensor:  # [n_depths, rows * members, d_model]
            cache = activations(model, ds.tokens, names)
            rows = torch.arange(len(ds))[:, None]
            return torch.stack(
                [cache[n][rows, ds.member_pos].float().flatten(0, 1) for n in names]
            )

        # the cosine, PCA, probe and "+1" analyses all read these: one pass each
        acts.append(
            disk_cache.remembered(
                "member_activations", model, [ds.tokens, ds.member_pos], at_members
            )
        )
        values.append(ds.member_ids.flatten())
        slots.append(torch.arange(ds.member_ids.shape[1]).repeat(len(ds)))
    return torch.cat(acts, 1), torch.cat(values), torch.cat(slots)


def mean_by_value(acts: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Mean activation per member value  # [n_depths, 12, d_model] (NaN for unseen values)."""
    out = torch.full((acts.shape[0], N_VALUES, acts.shape[-1]), float("nan"))
    for v in range(N_VALUES):
        keep = values == v
        if keep.any():
            out[:, v] = acts[:, keep].mean(1)
    return out


@torch.no_grad()
def member_streams(model: Any, data: dict[str, Any]) -> torch.Tensor:
    """Per depth, format and value, the mean residual stream at that member  # [n_depths, 3, 12, d_model].

    ``data`` maps each task to its TaskData; clean and random prompts are used
    (the random ones show all twelve members).
    """
    out = []
    for task in FORMATS:
        acts, values, _ = member_activations(
            model, [data[task].clean, data[task].random]
        )
        out.append(mean_by_value(acts, values))
    return torch.stack(out, 1)


def centre(streams: torch.Tensor) -> torch.Tensor:
    """Subtract, at each depth, the mean over every format and value  # same shape."""
    flat = streams.flatten(1, -2)  # [depths, formats * values, d_model]
    return streams - flat.nanmean(1)[:, None, None]


def cosine_by_layer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity of a[:, v] and b[:, v] over values  # [n_depths].

    ``a`` and ``b`` are [n_depths, 12, d_model], already centred.
    """
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)  # [depths, 12]
    return cos.nanmean(-1)


def mismatched_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean cosine of a[:, v] and b[:, w] over pairs v != w: the baseline  # [n_depths]."""
    an = torch.nn.functional.normalize(a, dim=-1)
    bn = torch.nn.functional.normalize(b, dim=-1)
    cos = an @ bn.transpose(1, 2)  # [depths, 12, 12]
    off = ~torch.eye(N_VALUES, dtype=torch.bool)
    return cos[:, off].nanmean(-1)


def pca_2d(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The points [n, d] (NaN rows dropped to NaN) in their top-2 principal plane, and the share of variance kept."""
    keep = ~points.isnan().any(-1)
    x = points[keep] - points[keep].mean(0)
    _, s, vt = torch.linalg.svd(x, full_matrices=False)
    out = torch.full((points.shape[0], 2), float("nan"))
    out[keep] = x @ vt[:2].T
    return out, (s[:2] ** 2).sum() / (s**2).sum()


# ---------------------------------------------------------------------------
# A linear probe for a member's place in its sequence
# ---------------------------------------------------------------------------
def fit_probe(x: torch.Tensor, y: torch.Tensor, ridge: float = 1e-2) -> torch.Tensor:
    """Ridge regression of y [n] on x [n, d] with a bias  # weights [d + 1]."""
    xb = torch.cat([x, torch.ones(x.shape[0], 1)], 1)
    eye = torch.eye(xb.shape[1])
    eye[-1, -1] = 0  # no penalty on the bias
    return torch.linalg.solve(xb.T @ xb + ridge * x.shape[0] * eye, xb.T @ y.float())


def probe_predict(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The probe's prediction  # [n]."""
    return torch.cat([x, torch.ones(x.shape[0], 1)], 1) @ w


def probe_scores(pred: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Exact (rounded) accuracy, within-one accuracy and R^2 of a value probe."""
    y = y.float()
    r2 = 1 - ((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return {
        "exact": float((pred.round() == y).float().mean()),
        "within_one": float(((pred - y).abs() <= 1).float().mean()),
        "r2": float(r2),
    }


@torch.no_grad()
def value_probe_transfer(
    model: Any, data: dict[str, Any], train: str = "numerals"
) -> list[dict[str, dict[str, float]]]:
    """Per depth, a probe for the member's value (1..12) fitted on one format, scored on every format.

    Fitted on the clean and random prompts of ``train``; scored on the seed-1
    random prompts of every format (new nouns and starts), so even the
    training format is scored on prompts the probe never saw. The residual
    streams are collected once for every depth.
    """
    x_all, y = member_activations(model, [data[train].clean, data[train].random])[:2]
    tests = {}
    for task in FORMATS:
        fresh = sequences.make_dataset(model, task, "random", "all", 48, seed=1)
        tests[task] = member_activations(model, [fresh])[:2]
    out = []
    for depth in range(x_all.shape[0]):
        x = x_all[depth]
        mu, sd = x.mean(0), x.std(0) + 1e-6
        w = fit_probe((x - mu) / sd, y.float() + 1)
        out.append(
            {
                task: probe_scores(
                    probe_predict(w, (acts[depth] - mu) / sd), values + 1
                )
                for task, (acts, values) in tests.items()
            }
        )
    return out


# ---------------------------------------------------------------------------
# The "+1" direction, and steering with it
# ---------------------------------------------------------------------------
def plus_one_direction(streams: torch.Tensor) -> torch.Tensor:
    """Mean step from each member to the next  # [..., d_model] from [..., 12, d_model]."""
    steps = streams[..., 1:, :] - streams[..., :-1, :]
    return steps.nanmean(-2)


@torch.no_grad()
def steering_effect(
    model: Any,
    dataset: sequences.SequenceDataset,
    direction: torch.Tensor,
    layer: int,
    alphas: Sequence[float] = (0.0, 1.0, 2.0),
) -> dict[float, dict[str, float]]:
    """What the model answers with alpha * direction added before block ``layer`` at the last member.

    Per alpha: the share of prompts whose top token is the answer (the
    member after the last), the member after that ("+2", one step further),
    and the mean logit difference (answer minus last member).
    """
    ids = sequences.member_token_ids(sequences.get_tokenizer(model), dataset.task)
    last = dataset.member_ids[:, -1]
    keep = last + 2 < N_VALUES
    ds = dataset.subset(keep)
    last = last[keep]
    pos = ds.member_pos[:, -1]
    rows = torch.arange(len(ds))
    name = hook_name("resid_pre", layer)
    out = {}
    for alpha in alphas:

        def hook(x, hook, alpha=alpha):
            x = x.clone()
            x[rows, pos] += alpha * direction.to(x.dtype)
            return x

        if alpha == 0:  # nothing added: the clean run, read by earlier sections too
            logits = sequences.clean_last_logits(model, dataset.tokens)[keep]
        else:
            logits = sequences.last_logits(model, ds.tokens, fwd_hooks=[(name, hook)])
        top = logits.argmax(-1)
        out[float(alpha)] = {
            "answer": float((top == ids[last + 1]).float().mean()),
            "plus_two": float((top == ids[last + 2]).float().mean()),
            "logit_diff": float(sequences.logit_diff(logits, ds)),
        }
    return out
