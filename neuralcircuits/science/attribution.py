"""Direct logit attribution, and three ways to ablate a component side by side.

**Direct logit attribution** (Elhage et al. 2021; Nanda 2023; Wang et al.
2022): the residual stream at the final position is a sum of what every
component wrote. The final LayerNorm is linear once its scale (one number
per prompt) is fixed, so the logit difference splits into one term per
component: its output, centred, divided by the final LayerNorm's scale,
dotted with the unembedding's answer-minus-wrong-answer direction. It says
what a head writes *directly* into the answer, not what it enables later.

**Ablation kinds.** Zero ablation writes 0 (a value the model never saw);
mean ablation writes the mean over reference prompts (the paper's choice:
Lan, Torr & Barez 2023, after Wang et al. 2022); resampling ablation writes
the activation of another reference prompt, row by row.
"""

from __future__ import annotations

from typing import Any

import torch

from neuralcircuits.science import sequences
from neuralcircuits.science.hooks import activations, hook_name
from neuralcircuits.science.patching import Component


def answer_directions(model: Any, dataset: sequences.SequenceDataset) -> torch.Tensor:
    """Per prompt, the residual direction read out as logit(correct) - logit(wrong)  # [batch, d_model].

    It includes the final LayerNorm's weight and is centred, since the
    LayerNorm removes each vector's mean.
    """
    W_U = model.W_U.float()  # [d_model, d_vocab]
    d = W_U[:, dataset.answers].T - W_U[:, dataset.wrong_answers].T  # [batch, d_model]
    if not _has_final_ln(model):  # no LayerNorm: the logits read the stream as it is
        return d
    w = getattr(model.ln_final, "w", None)
    if w is not None:
        d = d * w.detach().float()
    return d - d.mean(-1, keepdim=True)


def _has_final_ln(model: Any) -> bool:
    return getattr(model.cfg, "normalization_type", None) is not None


@torch.no_grad()
def final_cache(
    model: Any, dataset: sequences.SequenceDataset
) -> dict[str, torch.Tensor]:
    """The activations direct logit attribution needs, at the final position.

    Read from the clean run the other final-position readings share
    (``final_position.final_position_run``).
    """
    from neuralcircuits.science.final_position import final_position_run

    run = final_position_run(model, dataset.tokens)
    out = {hook_name("resid_pre", 0): run.resid[0].float()}
    for L in range(model.cfg.n_layers):
        out[hook_name("z", L)] = run.z[L].float()
        out[hook_name("mlp_out", L)] = run.mlp_out[L].float()
    # no LayerNorm: a scale of 1
    scale = run.scale if _has_final_ln(model) else None
    out["ln_final.hook_scale"] = (
        scale.float() if scale is not None else torch.ones(len(dataset), 1)
    )
    return out


def head_dla(
    z: torch.Tensor, W_O: torch.Tensor, scale: torch.Tensor, directions: torch.Tensor
) -> torch.Tensor:
    """Each head's mean direct contribution to the logit difference  # [n_heads].

    ``z`` [batch, n_heads, d_head] at the final position, ``W_O`` [n_heads,
    d_head, d_model], ``scale`` [batch, 1] the final LayerNorm's scale,
    ``directions`` [batch, d_model] from ``answer_directions``.
    """
    out = torch.einsum("bhd,hdm->bhm", z, W_O)  # [batch, n_heads, d_model]
    return ((out / scale[:, :, None]) * directions[:, None]).sum(-1).mean(0)


@torch.no_grad()
def logit_attribution(model: Any, dataset: sequences.SequenceDataset) -> dict[str, Any]:
    """Direct logit attribution of every head [n_layers, n_heads], every MLP [n_layers], the embeddings,
    the attention biases and the constant terms; they add up to the logit difference.
    """
    cache = final_cache(model, dataset)
    directions = answer_directions(model, dataset)
    scale = cache["ln_final.hook_scale"].reshape(-1, 1)

    def direct(x):  # [batch, d_model] -> mean contribution
        return float(((x / scale) * directions).sum(-1).mean())

    n = model.cfg.n_layers
    W_O = model.W_O.float()
    heads = torch.stack(
        [
            head_dla(cache[hook_name("z", L)], W_O[L], scale, directions)
            for L in range(n)
        ]
    )
    mlps = torch.tensor([direct(cache[hook_name("mlp_out", L)]) for L in range(n)])
    b_O = model.b_O.float()  # [n_layers, d_model]
    biases = sum(direct(b_O[L].expand(len(dataset), -1)) for L in range(n))
    embed = direct(cache[hook_name("resid_pre", 0)])
    # what the LayerNorm's bias and the unembedding's bias add to the difference
    W_b = getattr(model.ln_final, "b", None) if _has_final_ln(model) else None
    const = torch.zeros(len(dataset))
    W_U = model.W_U.float()
    if W_b is not None:
        const += (
            W_U[:, dataset.answers] - W_U[:, dataset.wrong_answers]
        ).T @ W_b.float()
    b_U = model.b_U.float()
    const += b_U[dataset.answers] - b_U[dataset.wrong_answers]
    return {
        "heads": heads,
        "mlps": mlps,
        "embed": embed,
        "attn_biases": biases,
        "constant": float(const.mean()),
    }


# ---------------------------------------------------------------------------
# Zero, mean and resampling ablation of one component
# ---------------------------------------------------------------------------
def _activation_name(comp: Component) -> str:
    return (
        hook_name("z", comp.layer)
        if comp.kind == "head"
        else hook_name("mlp_out", comp.layer)
    )


@torch.no_grad()
def _reference_activation(
    model: Any, comp: Component, tokens: torch.Tensor
) -> torch.Tensor:
    name = _activation_name(comp)
    act = activations(model, tokens, [name])[name]
    return act[:, :, comp.head] if comp.kind == "head" else act


def ablation_values(
    kind: str, reference: torch.Tensor, batch: int, seed: int = 0
) -> torch.Tensor:
    """What an ablation writes, from the reference activations [n_ref, pos, ...]  # [batch, pos, ...].

    ``zero``: zeros; ``mean``: the mean over the reference prompts, the same
    for every row; ``resample``: row i gets reference prompt perm[i].
    """
    if kind == "zero":
        return torch.zeros(batch, *reference.shape[1:])
    if kind == "mean":
        return reference.mean(0).expand(batch, *reference.shape[1:]).clone()
    if kind == "resample":
        g = torch.Generator().manual_seed(seed)
        rows = torch.randint(0, reference.shape[0], (batch,), generator=g)
        return reference[rows].clone()
    raise ValueError(f"unknown ablation {kind!r}: use zero, mean or resample")


@torch.no_grad()
def ablation_kinds(
    model: Any,
    comp: Any,
    clean: sequences.SequenceDataset,
    reference: sequences.SequenceDataset,
    kinds: tuple[str, ...] = ("zero", "mean", "resample"),
    seeds: tuple[int, ...] = (0, 1, 2),
) -> dict[str, dict[str, float]]:
    """Each ablation of one component: the logit difference kept (share of clean) and its spread.

    Returns {kind: {"kept": mean share, "spread": std over resampling seeds
    (0 otherwise), "kept_row_std": std of the per-prompt share}}.
    """
    comp = Component.parse(comp)
    full = sequences.logit_diff(
        sequences.last_logits(model, clean.tokens), clean, per_prompt=True
    )
    ref = _reference_activation(model, comp, reference.tokens)
    name = _activation_name(comp)
    out = {}
    for kind in kinds:
        kept = []
        rows = []
        for seed in seeds if kind == "resample" else seeds[:1]:
            value = ablation_values(kind, ref, len(clean), seed)

            def hook(act, hook, value=value):
                act = act.clone()
                if comp.head is None:
                    act[:] = value.to(act.dtype)
                else:
                    act[:, :, comp.head] = value.to(act.dtype)
                return act

            logits = sequences.last_logits(
                model, clean.tokens, fwd_hooks=[(name, hook)]
            )
            diff = sequences.logit_diff(logits, clean, per_prompt=True).float()
            kept.append(float(diff.mean() / full.mean()))
            rows.append(diff / full.mean())
        kept_t = torch.tensor(kept)
        out[kind] = {
            "kept": float(kept_t.mean()),
            "spread": float(kept_t.std()) if len(kept) > 1 else 0.0,
            "kept_row_std": float(torch.cat(rows).std()),
        }
    return out


def activation_norm_ratio(
    model: Any, comp: Any, reference: sequences.SequenceDataset
) -> float:
    """Mean norm of the component's mean activation over the mean norm of its activations.

    Near 1 when the component's output is mostly a constant offset: zero
    ablation then removes that offset too, which no prompt ever lacks.
    """
    comp = Component.parse(comp)
    ref = _reference_activation(model, comp, reference.tokens).float()
    return float(ref.mean(0).norm(dim=-1).mean() / ref.norm(dim=-1).mean())
