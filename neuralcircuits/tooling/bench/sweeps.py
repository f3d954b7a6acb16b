"""The same patching cells with both tools, the test models and tasks, and attribution patching's cost."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from neuralcircuits.science import patching as P
from neuralcircuits.tooling.bench.measure import measure, median
from neuralcircuits.tooling.bench.rows import Row

_TL_SPEC = {
    # method: (activation name, patch setter name, index columns)
    "heads": ("z", "layer_head_vector_patch_setter", ["layer", "head"]),
    "heads_by_pos": (
        "z",
        "layer_pos_head_vector_patch_setter",
        ["layer", "pos", "head"],
    ),
    "resid": ("resid_pre", "layer_pos_patch_setter", ["layer", "pos"]),
    "attn_out": ("attn_out", "layer_pos_patch_setter", ["layer", "pos"]),
    "mlp_out": ("mlp_out", "layer_pos_patch_setter", ["layer", "pos"]),
}


OURS: dict[str, Callable[..., torch.Tensor]] = {
    "heads": P.patch_heads,
    "heads_by_pos": partial(P.patch_heads, by_pos=True),
    "resid": P.patch_resid,
    "attn_out": P.patch_attn_out,
    "mlp_out": P.patch_mlp_out,
}


TL_FULL = {
    "heads": "get_act_patch_attn_head_out_all_pos",
    "heads_by_pos": "get_act_patch_attn_head_out_by_pos",
    "resid": "get_act_patch_resid_pre",
    "attn_out": "get_act_patch_attn_out",
    "mlp_out": "get_act_patch_mlp_out",
}


def tl_cells(model, corrupted, clean_cache, metric, method, cells):
    """transformer_lens.patching.generic_activation_patch on explicit cells: [n_cells]."""
    import pandas as pd
    import transformer_lens.patching as tlp

    name, setter, columns = _TL_SPEC[method]
    df = pd.DataFrame(cells, columns=columns)
    return tlp.generic_activation_patch(
        model,
        corrupted,
        clean_cache,
        metric,
        patch_setter=getattr(tlp, setter),
        activation_name=name,
        index_df=df,
    )


def gpt2_shaped(n_layers: int = 12):
    """GPT-2 small's shape with random weights (boot_native, seed 0), in eval mode."""
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    cfg = TransformerBridgeConfig(
        n_layers=n_layers,
        n_heads=12,
        d_model=768,
        d_head=64,
        d_mlp=3072,
        n_ctx=1024,
        d_vocab=50257,
        act_fn="gelu_new",
        normalization_type="LN",
        seed=0,
    )
    model = TransformerBridge.boot_native(cfg)  # type: ignore[attr-defined]  # TL attaches boot_native with setattr
    model.eval()
    return model


def random_task(d_vocab: int, batch: int = 8, pos: int = 24, seed: int = 0):
    """Clean and corrupted random tokens and a logit-difference metric at the last position."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.randint(0, d_vocab, (batch, pos), generator=g)
    corrupted = clean.clone()
    corrupted[:, -4:] = torch.randint(0, d_vocab, (batch, 4), generator=g)
    right = torch.randint(0, d_vocab, (batch,), generator=g)
    wrong = torch.randint(0, d_vocab, (batch,), generator=g)
    rows = torch.arange(batch)

    def metric(logits):
        return (logits[rows, -1, right] - logits[rows, -1, wrong]).mean()

    return clean, corrupted, metric


def representative_subsets(
    n_layers: int, n_pos: int
) -> dict[str, dict[str, list[int]]]:
    """Per sweep, layers / positions whose cells cost what the whole sweep's do on average.

    A cell at layer L, position p costs about (n_layers - 1 - L) * (n_pos - p);
    layers and positions spread symmetrically about the middle have the same
    mean L and mean p as the whole sweep, so the same mean cost.
    """
    quarter = [round((i + 0.5) * n_layers / 4 - 0.5) for i in range(4)]
    pair = [n_layers // 3, n_layers - 1 - n_layers // 3]
    spread = list(range(1, n_pos, 3))
    by_layer_and_pos = {"layers": pair, "positions": spread}
    return {
        "heads": {"layers": quarter},
        "heads_by_pos": by_layer_and_pos,
        "resid": by_layer_and_pos,
        "attn_out": by_layer_and_pos,
        "mlp_out": by_layer_and_pos,
    }


TL_CELLS_PER_RUN = {
    "heads": 3,
    "heads_by_pos": 3,
    "resid": 2,
    "attn_out": 2,
    "mlp_out": 2,
}


def subset_cells(method, n_layers, n_heads, n_pos, subset):
    """The cells of a sweep in the subset's layers (and positions)."""
    layers = subset.get("layers", range(n_layers))
    positions = subset.get("positions", range(n_pos))
    if method == "heads":
        return [(L, h) for L in layers for h in range(n_heads)]
    if method == "heads_by_pos":
        return [(L, p, h) for L in layers for p in positions for h in range(n_heads)]
    return [(L, p) for L in layers for p in positions]


def n_cells(method, n_layers, n_heads, n_pos):
    """How many cells the whole sweep has."""
    return {
        "heads": n_layers * n_heads,
        "heads_by_pos": n_layers * n_pos * n_heads,
    }.get(method, n_layers * n_pos)


def ours_subset(model, clean, corrupted, metric, method, subset):
    """Our sweep restricted to the subset's layers (and positions)."""
    return OURS[method](model, clean, corrupted, metric, progress=False, **subset)


def bench_attribution(label, model, clean, corrupted, metric, repeats: int):
    """Time attribution patching of every head and position, interleaved with
    forward passes so load changes hit both; return its row and its cost in
    forward passes (median of the paired ratios).
    """
    attr_times, fwd_times, attr_peak = [], [], 0
    for _ in range(repeats):
        t, peak, _ = measure(
            lambda: P.attribution_patch_heads(
                model, clean, corrupted, metric, by_pos=True
            ),
            1,
        )
        attr_times += t
        attr_peak = max(attr_peak, peak)
        with torch.no_grad():
            fwd_times += measure(lambda: model(corrupted), 1)[0]
    ratio = median([a / f for a, f in zip(attr_times, fwd_times, strict=True)])
    row = Row(
        label,
        "attribution (every head & position)",
        "all",
        median(attr_times),
        None,
        None,
        None,
        None,
        attr_peak / 2**20,
        None,
        f"{repeats}/-",
        notes=f"{ratio:.2f} forward passes (median of paired ratios)",
        ours_times=attr_times,
    )
    return row, ratio
