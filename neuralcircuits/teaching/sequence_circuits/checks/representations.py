"""Lesson 04's checks for section 10, One is 1: the same value in two formats, and
value-subspace patching.
"""

from __future__ import annotations

import torch

from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    check,
    close,
    fail,
    inputs_unchanged,
    passed,
)


# ---------------------------------------------------------------------------
# The same value in two formats, layer by layer
# ---------------------------------------------------------------------------
def _streams_case(seed: int, depths: int, d: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    value = torch.randn(1, 1, 12, d, generator=g)
    fmt = torch.randn(1, 3, 1, d, generator=g) * 3  # each format's own offset
    offset = torch.randn(depths, 1, 1, d, generator=g) * 4  # shared by every member
    noise = torch.randn(depths, 3, 12, d, generator=g)
    mix = torch.linspace(0.2, 2.0, depths)[:, None, None, None]
    return offset + fmt + mix * value + noise


def _similarity_variants(streams, f, g):
    cos = torch.nn.functional.cosine_similarity
    per_format = streams - streams.mean(2, keepdim=True)
    right = cos(per_format[:, f], per_format[:, g], dim=-1).mean(-1)
    everyone = streams - streams.mean((1, 2), keepdim=True)
    over_depths = streams - streams.mean(0, keepdim=True)
    per_value = streams - streams.mean(1, keepdim=True)
    per_vector = streams - streams.mean(-1, keepdim=True)
    return right, {
        "centred per value": cos(per_value[:, f], per_value[:, g], dim=-1).mean(-1),
        "centred per vector": cos(per_vector[:, f], per_vector[:, g], dim=-1).mean(-1),
        "mean vectors": cos(per_format[:, f].mean(1), per_format[:, g].mean(1), dim=-1),
        "not centred": cos(streams[:, f], streams[:, g], dim=-1).mean(-1),
        "centred on all 36": cos(everyone[:, f], everyone[:, g], dim=-1).mean(-1),
        "centred over depths": cos(over_depths[:, f], over_depths[:, g], dim=-1).mean(
            -1
        ),
        "dot": (per_format[:, f] * per_format[:, g]).sum(-1).mean(-1),
        "shifted": cos(per_format[:, f, 1:], per_format[:, g, :-1], dim=-1).mean(-1),
    }


_SIMILARITY_MISTAKES = {
    "centred per value": "it centres each value on its own mean over the formats, "
    "which removes the very part the formats share",
    "centred per vector": "it centres each vector on the mean of its own coordinates, "
    "which leaves each format's offset in place",
    "mean vectors": "it compares each format's mean vector; the question is each "
    "value's pair, averaged over the 12 values",
    "not centred": "it compares the raw vectors, so the part every member shares makes "
    "everything look alike",
    "centred on all 36": "it centres on the mean of all 36 members, which leaves each "
    "format's own offset in its vectors",
    "centred over depths": "it subtracts the mean over depths, which leaves every "
    "member's shared part (and each format's offset) in place",
    "dot": "it returns dot products, which grow with the vectors' lengths; a cosine "
    "divides by both norms",
    "shifted": "it pairs value v of one format with value v + 1 of the other",
}


@check
def check_format_similarity(format_similarity) -> None:
    """Check the per-depth cosine of the same value in two formats, each format centred on its own mean."""
    for seed, depths, d, f, g in ((0, 3, 8, 0, 1), (1, 5, 6, 2, 0)):
        streams = _streams_case(seed, depths, d)
        given = streams.clone()
        got = call(format_similarity, given, f, g, name="format_similarity")
        inputs_unchanged({"streams": streams}, {"streams": given}, "format_similarity")
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
            "Not yet: at each depth, subtract each format's mean over its 12 values, "
            "then average cos(f's value v, g's value v) over the 12 values."
        )
    passed(
        "format_similarity centres each format on its own mean and compares each "
        "value across formats."
    )


# ---------------------------------------------------------------------------
# Value-subspace patching
# ---------------------------------------------------------------------------
def _subspace_case(seed: int, n: int, d: int, k: int):
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(n, d, generator=g)
    source = torch.randn(n, d, generator=g)
    basis = torch.linalg.qr(torch.randn(d, k, generator=g))[0].T  # [k, d] orthonormal
    return target, source, basis


def _subspace_variants(target, source, basis):
    P = basis.T @ basis  # [d, d]: projection onto the span
    right = target - target @ P + source @ P
    return right, {
        "whole": source.clone(),
        "added": target + source @ P,
        "removed": target - target @ P,
        "swapped": source - source @ P + target @ P,
    }


_SUBSPACE_MISTAKES = {
    "whole": "it returns the source vectors whole; only their part in the basis's span "
    "should move, and the rest of the target stays",
    "added": "it adds the source's part in the span without first taking out the "
    "target's own part, so both values are there at once",
    "removed": "it takes out the target's part in the span but puts nothing in its "
    "place: that ablates the value instead of patching it",
    "swapped": "it keeps everything of the source outside the span and the target's "
    "part inside it: the roles of source and target are swapped",
}


@check
def check_patch_subspace(patch_subspace) -> None:
    """Check that only the basis's span of ``target`` is replaced by ``source``'s."""
    for seed, n, d, k in ((0, 5, 9, 3), (1, 7, 6, 2)):
        target, source, basis = _subspace_case(seed, n, d, k)
        given = {"target": target.clone(), "source": source.clone(), "basis": basis}
        got = call(
            patch_subspace,
            given["target"],
            given["source"],
            given["basis"].clone(),
            name="patch_subspace",
        )
        inputs_unchanged(
            {"target": target, "source": source},
            {"target": given["target"], "source": given["source"]},
            "patch_subspace",
        )
        value = as_tensor(got, "the result of patch_subspace", shape=(n, d))
        right, wrong = _subspace_variants(target, source, basis)
        if close(value, right, atol=1e-4):
            continue
        for key, v in wrong.items():
            if close(value, v, atol=1e-4):
                fail(f"Not yet: {_SUBSPACE_MISTAKES[key]}.")
        inside = value @ basis.T  # the result's coordinates in the span
        if close(inside, source @ basis.T, atol=1e-4):
            fail(
                "Inside the span it matches the source, but outside it differs from "
                "the target: the part outside the span must stay the target's."
            )
        fail(
            "Not yet: the result's coordinates along the basis should be the source's "
            "and everything else the target's; check the projection (basis rows are "
            "orthonormal, so a vector's part in the span is (x @ basis.T) @ basis)."
        )
    passed(
        "patch_subspace moves the source's part in the span and keeps the rest of "
        "the target (two shapes)."
    )
