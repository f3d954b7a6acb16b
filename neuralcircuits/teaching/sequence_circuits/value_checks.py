"""Checks for lesson 04's predictions and its "One is 1" section (is 5 coded like five and May?)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

import torch

from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    close,
    fail,
    inputs_unchanged,
    passed,
)


# ---------------------------------------------------------------------------
# Predict, then reveal
# ---------------------------------------------------------------------------
def check_choice(
    prediction: Callable[[], str] | str,
    options: Sequence[str],
    answer: str,
    why: str,
) -> None:
    """Check a prediction made before a reveal: one of ``options``, compared with ``answer``.

    ``why`` is the sentence that explains the measured answer; it is printed
    whether the prediction was right or not, since the reveal is the lesson.
    """
    if callable(prediction):
        prediction = call(
            prediction, name=getattr(prediction, "__name__", "your function")
        )
    choices = ", ".join(f'"{o}"' for o in options)
    if not isinstance(prediction, str) or not prediction.strip():
        fail(f"Return your prediction as one of {choices}.")
    said = prediction.strip().lower()
    if said not in options:
        fail(f"{prediction!r} is not one of the options; return one of {choices}.")
    if said != answer:
        fail(f'You predicted "{said}"; the model says "{answer}": {why}')
    passed(f'Right: "{answer}".')
    print(
        textwrap.fill(
            why[:1].upper() + why[1:], 78, initial_indent="  ", subsequent_indent="  "
        )
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
    return right, {
        "not centred": cos(streams[:, f], streams[:, g], dim=-1).mean(-1),
        "centred on all 36": cos(everyone[:, f], everyone[:, g], dim=-1).mean(-1),
        "centred over depths": cos(over_depths[:, f], over_depths[:, g], dim=-1).mean(
            -1
        ),
        "dot": (per_format[:, f] * per_format[:, g]).sum(-1).mean(-1),
        "shifted": cos(per_format[:, f, 1:], per_format[:, g, :-1], dim=-1).mean(-1),
    }


_SIMILARITY_MISTAKES = {
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
