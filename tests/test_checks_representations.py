"""Lesson 04's prediction checks and section 10's checks: right answers pass, mistakes fail naming what they did."""

import torch
from check_answers import fails_with as fails
from check_answers import stub

from neuralcircuits.science import representations
from neuralcircuits.teaching.checking import check_choice
from neuralcircuits.teaching.sequence_circuits.checks.representations import (
    check_format_similarity,
    check_patch_subspace,
)

OPTIONS = ("positive", "negative", "about zero")


def test_choice(capsys):
    check_choice(lambda: "negative", OPTIONS, "negative", "the answer flips.")
    check_choice(lambda: "  Negative ", OPTIONS, "negative", "the answer flips.")
    check_choice("negative", OPTIONS, "negative", "the answer flips.")
    assert capsys.readouterr().out.count("✔") == 3
    fails(
        lambda f: check_choice(f, OPTIONS, "negative", "why"), stub, "not written yet"
    )
    fails(lambda f: check_choice(f, OPTIONS, "negative", "why"), lambda: None, "one of")
    fails(
        lambda f: check_choice(f, OPTIONS, "negative", "why"),
        lambda: "neg",
        "not one of",
    )
    fails(
        lambda f: check_choice(f, OPTIONS, "negative", "it flips."),
        lambda: "positive",
        'You predicted "positive"',
    )
    fails(lambda f: check_choice(f, OPTIONS, "negative", "why"), lambda: 3, "one of")


# -- the same value in two formats ----------------------------------------------------
def right_similarity(streams, f, g):
    centred = streams - streams.mean(2, keepdim=True)
    return torch.nn.functional.cosine_similarity(
        centred[:, f], centred[:, g], dim=-1
    ).mean(-1)


def test_format_similarity(capsys):
    check_format_similarity(right_similarity)

    def library(streams, f, g):  # written differently: the library's pieces
        c = representations.centre_by_format(streams)
        return representations.cosine_by_layer(c[:, f], c[:, g])

    check_format_similarity(library)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_format_similarity, stub, "not written yet")
    fails(check_format_similarity, lambda s, f, g: None, "None")
    cos = torch.nn.functional.cosine_similarity
    fails(
        check_format_similarity,
        lambda s, f, g: cos(s[:, f], s[:, g], dim=-1).mean(-1),
        "raw vectors",
    )

    def on_all_36(s, f, g):
        c = s - s.mean((1, 2), keepdim=True)
        return cos(c[:, f], c[:, g], dim=-1).mean(-1)

    fails(check_format_similarity, on_all_36, "all 36")

    def dot(s, f, g):
        c = s - s.mean(2, keepdim=True)
        return (c[:, f] * c[:, g]).sum(-1).mean(-1)

    fails(check_format_similarity, dot, "cosine")

    def shifted(s, f, g):
        c = s - s.mean(2, keepdim=True)
        return cos(c[:, f, 1:], c[:, g, :-1], dim=-1).mean(-1)

    fails(check_format_similarity, shifted, "v + 1")

    def over_depths(s, f, g):
        c = s - s.mean(0, keepdim=True)
        return cos(c[:, f], c[:, g], dim=-1).mean(-1)

    fails(check_format_similarity, over_depths, "over depths")

    def per_value(s, f, g):
        c = s - s.mean(2, keepdim=True)
        return cos(c[:, f], c[:, g], dim=-1)

    fails(check_format_similarity, per_value, "average over the 12")

    def in_place(s, f, g):
        s -= s.mean(2, keepdim=True)
        return cos(s[:, f], s[:, g], dim=-1).mean(-1)

    fails(check_format_similarity, in_place, "in place")


# -- value-subspace patching ------------------------------------------------------------
def test_patch_subspace(capsys):
    check_patch_subspace(representations.patch_subspace)

    def with_projector(target, source, basis):  # written differently
        P = basis.T @ basis
        return target + (source - target) @ P

    check_patch_subspace(with_projector)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_patch_subspace, stub, "not written yet")
    fails(check_patch_subspace, lambda t, s, b: None, "None")
    fails(check_patch_subspace, lambda t, s, b: s.clone(), "whole")
    fails(
        check_patch_subspace,
        lambda t, s, b: t + (s @ b.T) @ b,
        "without first taking out",
    )
    fails(check_patch_subspace, lambda t, s, b: t - (t @ b.T) @ b, "ablates")
    fails(
        check_patch_subspace,
        lambda t, s, b: s - (s @ b.T) @ b + (t @ b.T) @ b,
        "swapped",
    )
    fails(check_patch_subspace, lambda t, s, b: t - t @ b.T @ b + s, "outside the span")

    def not_normalised(target, source, basis):  # projects with b b^T scaled twice
        P = 2 * basis.T @ basis
        return target - target @ P + source @ P

    fails(check_patch_subspace, not_normalised, "Not yet")

    def in_place(target, source, basis):
        target += ((source - target) @ basis.T) @ basis
        return target

    fails(check_patch_subspace, in_place, "in place")
