"""The "One is 1" question: do 5, five and May share a representation? (the precursor of Lan, Torr & Barez 2023).

At the members' positions we collect the residual stream before every block
and after the last, averaged per member value (1..12) and per format
(numerals, number words, months). Then, each format centred on its own mean
(``centre_by_format``):

- **cosine by layer**: how similar are the same value's vectors in two
  formats, against different values?
- **PCA**: the 36 centred members in the plane of their two main directions;
- **a linear probe** for a member's value (12 classes), fitted on numerals
  and read on the other formats, beside the same probe fitted on shuffled
  values (the control);
- **value-subspace patching**, the causal test: the few directions along
  which the 12 numerals differ, patched from a numerals prompt into a
  number-words or months prompt at the last member. A shared code makes the
  model answer the numeral's successor in the context's format;
- **steering** (activation addition, Turner et al. 2023, "Activation
  Addition: Steering Language Models Without Optimization"): add one real
  step between two numerals at the last member and see whether the answer
  moves one further in every format.

Gould et al. 2023 ("Successor Heads") found the published analogue in GPT-2
and larger models: mod-10 features shared across numerals, number words and
months, and vector arithmetic on them that moves a successor head's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from neuralcircuits.science import circuit_study, disk_cache, sequences
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

    ``data`` maps each task to its TaskData. Only the random prompts are
    used: they show every value at every one of the four places, so a
    value's mean is not tied to where it stands in the prompt (in a clean
    run, 12 can only come last).
    """
    out = []
    for task in FORMATS:
        acts, values, _ = member_activations(model, [data[task].random])
        out.append(mean_by_value(acts, values))
    return torch.stack(out, 1)


def centre_by_format(streams: torch.Tensor) -> torch.Tensor:
    """Subtract, at each depth, each format's own mean over its 12 values  # same shape.

    One mean for all 36 members would leave each format's offset in its
    vectors (every number word shares "I am a number word"), and that
    offset would dominate the comparison of values across formats.
    """
    return streams - streams.nanmean(-2, keepdim=True)


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
# A linear probe for a member's value, fitted on one format
# ---------------------------------------------------------------------------
PROBE_RIDGE = 1.0  # per prompt; fixed before looking at any other format


def fit_value_probe(
    x: torch.Tensor, values: torch.Tensor, ridge: float = PROBE_RIDGE
) -> torch.Tensor:
    """A 12-way linear probe: ridge regression of one-hot values [n] on x [n, d]  # [d + 1, 12].

    ``x`` is already centred on its format's mean; the last row is the bias.
    """
    xb = torch.cat([x, torch.ones(x.shape[0], 1)], 1)
    target = torch.nn.functional.one_hot(values, N_VALUES).float()
    eye = torch.eye(xb.shape[1])
    eye[-1, -1] = 0  # no penalty on the bias
    return torch.linalg.solve(xb.T @ xb + ridge * x.shape[0] * eye, xb.T @ target)


def probe_values(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The value (0-based) the probe reads from each row of x [n, d]  # [n]."""
    return (torch.cat([x, torch.ones(x.shape[0], 1)], 1) @ w).argmax(-1)


@torch.no_grad()
def value_probe_transfer(
    model: Any,
    data: dict[str, Any],
    train: str = "numerals",
    shuffled: bool = False,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Per depth, the share of members whose value a probe fitted on ``train`` reads exactly, per format.

    Fitted on the clean and random prompts of ``train``; scored on new random
    prompts of every format (seed 1: new words and members), so even the
    training format is scored on prompts the probe never saw. Each format is
    centred on its own mean (``centre_by_format``'s reason). ``shuffled``
    fits the probe on the same vectors with the values shuffled across
    rows: the control, which can only read chance (1 in 12) if the probe
    finds value and nothing else.
    """
    x_all, y = member_activations(model, [data[train].clean, data[train].random])[:2]
    if shuffled:
        y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))]
    tests = {}
    for task in FORMATS:
        make = circuit_study.prompt_maker(model)
        fresh = make(model.tokenizer, task, "random", "all", 48, 1)
        tests[task] = member_activations(model, [fresh])[:2]
    out = []
    for depth in range(x_all.shape[0]):
        x = x_all[depth]
        scale = x.std(0) + 1e-6  # every direction on one footing (the numerals')
        w = fit_value_probe((x - x.mean(0)) / scale, y)
        out.append(
            {
                task: float(
                    (probe_values(w, (a[depth] - a[depth].mean(0)) / scale) == v)
                    .float()
                    .mean()
                )
                for task, (a, v) in tests.items()
            }
        )
    return out


# ---------------------------------------------------------------------------
# Value-subspace patching: the causal form of "One is 1"
# ---------------------------------------------------------------------------
def value_subspace(value_means: torch.Tensor, variance: float = 0.95) -> torch.Tensor:
    """The few directions along which one format's 12 value means differ most  # basis [k, d_model].

    ``value_means`` [12, d_model]: one format's mean residual stream per
    value at one depth. Centred on their mean, the 12 vectors span at most
    11 directions; the basis keeps the top ones (by singular value), as few
    as explain ``variance`` of how the 12 differ. Its rows are orthonormal.
    """
    seen = value_means[~value_means.isnan().any(-1)]  # values never shown are NaN
    centred = seen - seen.mean(0)
    _, s, vt = torch.linalg.svd(centred, full_matrices=False)
    share = (s**2).cumsum(0) / (s**2).sum()
    k = int((share < variance).sum()) + 1
    return vt[:k]


def patch_subspace(
    target: torch.Tensor, source: torch.Tensor, basis: torch.Tensor
) -> torch.Tensor:
    """``target`` with its component in the basis's span replaced by ``source``'s  # same shape.

    ``basis`` [k, d] has orthonormal rows; everything of ``target`` outside
    the span is kept.
    """
    return target - (target @ basis.T) @ basis + (source @ basis.T) @ basis


def partner_rows(
    source_values: torch.Tensor, target_values: torch.Tensor
) -> torch.Tensor:
    """For each target row, the next source row (cyclically) whose value differs  # [n_target].

    Values are 0-based; a partner's value must have a successor (< 11).
    """
    n = len(source_values)
    out = []
    for i, v in enumerate(target_values.tolist()):
        for j in range(1, n + 1):
            s = int(source_values[(i + j) % n])
            if s != v and s + 1 < N_VALUES:
                out.append((i + j) % n)
                break
        else:
            raise ValueError("no source prompt has a different value with a successor")
    return torch.tensor(out)


@torch.no_grad()
def subspace_patch_effect(
    model: Any,
    source: sequences.SequenceDataset,
    target: sequences.SequenceDataset,
    layer: int,
    basis: torch.Tensor,
) -> dict[str, float]:
    """Patch the basis's span of the last member's residual stream (before block ``layer``) from source prompts into target prompts.

    Each target prompt gets the value part of a source prompt whose last
    member has another value (``partner_rows``). Returns the share of target
    prompts whose top token is the successor of the *source's* last member,
    written in the *target's* format ("source"), and the share still
    answering their own successor ("own").
    """
    name = hook_name("resid_pre", layer)
    partner = partner_rows(source.member_ids[:, -1], target.member_ids[:, -1])
    # the value patch and its random control read the same source run
    src = disk_cache.remembered(
        "resid_pre",
        model,
        [source.tokens, layer],
        lambda: activations(model, source.tokens, [name])[name],
    )
    rows = torch.arange(len(partner))
    src_last = src[partner, source.member_pos[partner, -1]].float()  # [n, d_model]
    pos = target.member_pos[:, -1]

    def hook(x, hook):
        x = x.clone()
        x[rows, pos] = patch_subspace(x[rows, pos].float(), src_last, basis).to(x.dtype)
        return x

    top = sequences.last_logits(model, target.tokens, fwd_hooks=[(name, hook)]).argmax(
        -1
    )
    ids = sequences.member_token_ids(sequences.get_tokenizer(model), target.task)
    source_next = ids[source.member_ids[partner, -1] + 1]
    own_next = ids[(target.member_ids[:, -1] + 1).clamp(max=N_VALUES - 1)]
    return {
        "source": float((top == source_next).float().mean()),
        "own": float((top == own_next).float().mean()),
    }


def random_subspace(k: int, d_model: int, seed: int = 0) -> torch.Tensor:
    """Random orthonormal directions, k of them  # [k, d_model]: the control for ``value_subspace``."""
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(d_model, k, generator=g))[0].T


# ---------------------------------------------------------------------------
# Steering by one step between real members
# ---------------------------------------------------------------------------
@torch.no_grad()
def step_steering(
    model: Any,
    dataset: sequences.SequenceDataset,
    value_means: torch.Tensor,
    layer: int,
    alpha: float = 1.0,
) -> dict[str, float]:
    """Add alpha times one real step, ``value_means[v + 1] - value_means[v]``, at the last member (value v) before block ``layer``.

    ``value_means`` [12, d_model] is one format's mean residual stream per
    value at that depth (e.g. the numerals'); each prompt gets the step that
    starts at its own last member's value, at that step's own size (a prompt
    whose step was never measured is left out). (A single
    "+1" direction, the mean of the 11 steps, would be (s12 - s1) / 11: the
    steps telescope, and what is left is a small fraction of any one step.)
    Returns the share of prompts whose top token is the member after the
    answer ("plus_two"), the answer itself, and the mean logit difference.
    """
    last = dataset.member_ids[:, -1]
    steps = value_means[(last + 1).clamp(max=N_VALUES - 1)] - value_means[last]
    ds = dataset.subset((last + 2 < N_VALUES) & ~steps.isnan().any(-1))
    last = ds.member_ids[:, -1]
    step = (value_means[last + 1] - value_means[last]).float()  # [n, d_model]
    rows, pos = torch.arange(len(ds)), ds.member_pos[:, -1]

    def hook(x, hook):
        x = x.clone()
        x[rows, pos] += alpha * step.to(x.dtype)
        return x

    name = hook_name("resid_pre", layer)
    logits = sequences.last_logits(model, ds.tokens, fwd_hooks=[(name, hook)])
    top = logits.argmax(-1)
    ids = sequences.member_token_ids(sequences.get_tokenizer(model), ds.task)
    return {
        "plus_two": float((top == ids[last + 2]).float().mean()),
        "answer": float((top == ids[last + 1]).float().mean()),
        "logit_diff": float(sequences.logit_diff(logits, ds)),
    }
