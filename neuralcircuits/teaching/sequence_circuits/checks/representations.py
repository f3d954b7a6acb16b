"""Lesson 04's checks for the representations: the same value in two formats, layer
by layer (One is 1).
"""

from __future__ import annotations

import torch

from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    check,
    close,
    fail,
    passed,
)


# ---------------------------------------------------------------------------
# One is 1: the same value in two formats, layer by layer
# ---------------------------------------------------------------------------
def _streams_case(seed: int, depths: int, d: int):
    g = torch.Generator().manual_seed(seed)
    value = torch.randn(1, 1, 12, d, generator=g)
    fmt = torch.randn(1, 3, 1, d, generator=g) * 0.5
    offset = torch.randn(depths, 1, 1, d, generator=g) * 4  # shared by every member
    noise = torch.randn(depths, 3, 12, d, generator=g)
    mix = torch.linspace(0.2, 2.0, depths)[:, None, None, None]
    return offset + fmt + mix * value + noise


def _similarity_variants(streams, f, g):
    cos = torch.nn.functional.cosine_similarity
    centred = streams - streams.mean((1, 2), keepdim=True)
    right = cos(centred[:, f], centred[:, g], dim=-1).mean(-1)
    per_format = streams - streams.mean(2, keepdim=True)
    per_value = streams - streams.mean(1, keepdim=True)
    every_depth = streams - streams.mean((0, 1, 2), keepdim=True)
    per_vector = streams - streams.mean(-1, keepdim=True)
    two = streams[:, [f, g]] - streams[:, [f, g]].mean((1, 2), keepdim=True)
    return right, {
        "not centred": cos(streams[:, f], streams[:, g], dim=-1).mean(-1),
        "centred per format": cos(per_format[:, f], per_format[:, g], dim=-1).mean(-1),
        "centred per value": cos(per_value[:, f], per_value[:, g], dim=-1).mean(-1),
        "centred over depths": cos(every_depth[:, f], every_depth[:, g], dim=-1).mean(
            -1
        ),
        "centred per vector": cos(per_vector[:, f], per_vector[:, g], dim=-1).mean(-1),
        "two formats": cos(two[:, 0], two[:, 1], dim=-1).mean(-1),
        "mean vectors": cos(centred[:, f].mean(1), centred[:, g].mean(1), dim=-1),
        "dot": (centred[:, f] * centred[:, g]).sum(-1).mean(-1),
        "shifted": cos(centred[:, f, 1:], centred[:, g, :-1], dim=-1).mean(-1),
    }


_SIMILARITY_MISTAKES = {
    "not centred": "it skips the centring; subtract each depth's mean over all 36 members "
    "first, or the part every member shares makes everything look alike",
    "centred per format": "it centres each format on its own mean; centre on the mean of "
    "all 36 members, so a format's own offset still counts as a difference",
    "centred per value": "it centres each value on its own mean over the formats, "
    "which removes the part the formats share; centre on the mean of all 36 members",
    "centred over depths": "it centres on one mean over every depth; centre each "
    "depth on its own mean of the 36 members",
    "centred per vector": "it centres each vector on the mean of its own "
    "coordinates; centre each depth on the mean vector of its 36 members",
    "two formats": "it centres on the mean of the two formats compared (24 members); "
    "centre on the mean of all 36 members",
    "mean vectors": "it compares the mean vector of each format; average the cosine "
    "of each value's pair over the 12 values",
    "dot": "it takes dot products; divide by the norms (cosine similarity)",
    "shifted": "it pairs value v with value v + 1; compare the same value in both formats",
}


@check
def check_format_similarity(format_similarity) -> None:
    """Check the mean cosine similarity of the same value in two formats, per depth, after centring."""
    for seed, depths, d, f, g in ((0, 3, 8, 0, 1), (1, 5, 6, 2, 0)):
        streams = _streams_case(seed, depths, d)
        given = streams.clone()
        got = call(format_similarity, given, f, g, name="format_similarity")
        if not torch.equal(given, streams):
            fail(
                "`format_similarity` changes `streams` in place; centre a copy "
                "(streams - mean, not streams -= mean)."
            )
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (depths, 12):
            fail(
                "It returns one value per depth and member value; average over the 12 "
                f"values (shape [n_depths] = ({depths},))."
            )
        value = as_tensor(got, "the result of format_similarity", shape=(depths,))
        right, wrong = _similarity_variants(streams, f, g)
        if close(value, right):
            continue
        for key, v in wrong.items():
            if close(value, v):
                fail(f"Not yet: {_SIMILARITY_MISTAKES[key]}.")
        fail(
            "Not yet: centre each depth on the mean of all 36 members, then average "
            "cos(streams[:, f, v], streams[:, g, v]) over the 12 values v."
        )
    passed(
        "format_similarity centres on all 36 members and compares each value across formats."
    )
