"""Hook names and hook functions: the one home of the course's hook idioms.

TransformerLens names every activation ``blocks.{layer}.{point}``; ``hook_name``
spells them, so no module writes the f-string itself. The hook functions here
are what patching, ablation, circuit discovery, training, checks and widgets
attach with ``model.run_with_hooks(tokens, fwd_hooks=[(name, hook), ...])``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import torch

Hook = Callable[..., torch.Tensor]

# The activations the course reads, by short name.
HOOK_POINTS = {
    "resid_pre": "hook_resid_pre",
    "resid_mid": "hook_resid_mid",
    "resid_post": "hook_resid_post",
    "attn_out": "hook_attn_out",
    "mlp_out": "hook_mlp_out",
    "z": "attn.hook_z",
    "v": "attn.hook_v",
    "q": "attn.hook_q",
    "k": "attn.hook_k",
    "pattern": "attn.hook_pattern",
    "mlp_post": "mlp.hook_post",
}


def hook_name(kind: str, layer: int) -> str:
    """The hook name of activation `kind` (a key of HOOK_POINTS) in block `layer`."""
    try:
        return f"blocks.{layer}.{HOOK_POINTS[kind]}"
    except KeyError:
        raise ValueError(
            f"unknown activation {kind!r}: use one of {', '.join(HOOK_POINTS)}"
        ) from None


def replace_hook(source: torch.Tensor) -> Hook:
    """A hook that returns `source` in place of the activation (whole-activation patching)."""

    def hook(act: torch.Tensor, hook: Any) -> torch.Tensor:
        return source.to(act.dtype).expand_as(act).clone()

    return hook


def mean_ablation_hook(replacements: Iterable[tuple[int | None, torch.Tensor]]) -> Hook:
    """A hook that writes each mean over its slice: head `h` of a z, or the whole output (h None).

    `replacements` holds (head or None, mean [pos, ...]) pairs, all for one hook
    point; the mean broadcasts over the batch.
    """
    todo = list(replacements)

    def hook(act: torch.Tensor, hook: Any) -> torch.Tensor:
        act = act.clone()
        for head, mean in todo:
            if head is None:
                act[:] = mean
            else:
                act[:, :, head] = mean
        return act

    return hook


class StopForward(Exception):
    """Raised by a hook to end a forward pass once what was needed is stored."""


def run_until(model: Any, tokens: torch.Tensor, hooks: list[tuple[str, Hook]]) -> None:
    """Run `model` on `tokens` with `hooks`, stopping quietly when one raises StopForward."""
    try:
        with torch.no_grad():
            model.run_with_hooks(tokens, fwd_hooks=hooks)
    except StopForward:
        pass


def store_hook(store: dict[Any, torch.Tensor], key: Any, stop: bool = False) -> Hook:
    """A hook that saves the activation (detached) as store[key]; `stop` then ends the pass.

    The key is given, not read from the hook: a bridge may report an aliased
    hook under its own internal name.
    """

    def hook(act: torch.Tensor, hook: Any) -> torch.Tensor:
        store[key] = act.detach()
        if stop:
            raise StopForward
        return act

    return hook


# The final LayerNorm's hooks, in the order a run reaches them (before the unembedding).
FINAL_NORM_HOOKS = ("ln_final.hook_scale", "ln_final.hook_normalized")


def _depth_of(name: str) -> float | None:
    """Where a run reaches a hook: its block, -1 for the embeddings, after the blocks
    for the final LayerNorm; None for anything else (the logits).
    """
    m = re.match(r"blocks\.(\d+)\.", name)
    if m:
        return int(m.group(1))
    if name in FINAL_NORM_HOOKS:
        return float("inf")
    return -1 if name in ("hook_embed", "hook_pos_embed") else None


def activations(
    model: Any, tokens: torch.Tensor, names: Iterable[str]
) -> dict[str, torch.Tensor]:
    """The named activations of one run of `model` on `tokens`, as ``run_with_cache`` stores them.

    The run stops after the deepest block that holds one of them (or at the
    final LayerNorm), so no logits are computed: with GPT-2's 50,257-token
    vocabulary the unembedding of every position costs about half as much as
    all the blocks.
    """
    names = list(dict.fromkeys(names))
    depths = [_depth_of(n) for n in names]
    if not names or None in depths:  # the logits or an unknown hook: the whole run
        with torch.no_grad():
            _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
        return {n: cache[n].detach() for n in names}
    deepest = max(d for d in depths if d is not None)
    if deepest == float("inf"):
        stop = [n for n in FINAL_NORM_HOOKS if n in names][-1]
    elif deepest >= 0:
        stop = hook_name("resid_post", int(deepest))
    else:
        stop = hook_name("resid_pre", 0)
    store: dict[Any, torch.Tensor] = {}
    hooks = [(n, store_hook(store, n)) for n in names if n != stop]
    run_until(model, tokens, [*hooks, (stop, store_hook(store, stop, stop=True))])
    return {n: store[n] for n in names}
