"""Lesson 03's checks: right answers pass, wrong ones fail with one clear sentence."""

import torch
from check_answers import fails_with as fails
from check_answers import stub

from neuralcircuits.science import transformer_parts
from neuralcircuits.teaching.tiny_transformer import checks
from neuralcircuits.teaching.tiny_transformer.checks import (
    check_attention_head,
    check_last_member_head,
)


# -- one head as QK and OV circuits ---------------------------------------------------
def right_head(x, W_Q, W_K, W_V, W_O):
    return transformer_parts.attention_head(x, W_Q, W_K, W_V, W_O)


def test_attention_head(capsys):
    check_attention_head(right_head)

    def einsum_version(x, W_Q, W_K, W_V, W_O):  # written differently: q and k first
        q, k = x @ W_Q, x @ W_K
        scores = torch.einsum("bqd,bkd->bqk", q, k) / q.shape[-1] ** 0.5
        mask = torch.tril(torch.ones(x.shape[1], x.shape[1])) == 0
        pattern = torch.softmax(scores.masked_fill(mask, -1e9), dim=-1)
        return pattern, torch.einsum("bqk,bkd->bqd", pattern, x @ W_V) @ W_O

    check_attention_head(einsum_version)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_attention_head, stub, "not written yet")
    fails(check_attention_head, lambda *a: None, "None")
    fails(check_attention_head, lambda *a: right_head(*a)[0], "tuple of 2")

    def variant(kind):
        def fn(x, W_Q, W_K, W_V, W_O):
            _, _, wrong = checks._head_variants(x, W_Q, W_K, W_V, W_O)
            pattern = wrong[kind]
            return pattern, pattern.nan_to_num() @ x @ W_V @ W_O

        return fn

    fails(check_attention_head, variant("unscaled"), "sqrt(d_head)")
    fails(check_attention_head, variant("unmasked"), "mask the future")
    fails(check_attention_head, variant("queries"), "query axis")
    fails(check_attention_head, variant("after"), "after the softmax")
    fails(check_attention_head, variant("transposed"), "transposed")
    fails(
        check_attention_head,
        lambda x, *w: (right_head(x, *w)[0], right_head(x, *w)[0] @ x),
        "W_OV",
    )

    def no_w_o(x, W_Q, W_K, W_V, W_O):
        pattern = right_head(x, W_Q, W_K, W_V, W_O)[0]
        return pattern, pattern @ x @ W_V

    fails(check_attention_head, no_w_o, "skip W_O")

    def mutates(x, *w):
        out = right_head(x.clone(), *w)
        x.add_(1)
        return out

    fails(check_attention_head, mutates, "in place")


# -- the hand-set head ----------------------------------------------------------------
def test_last_member_head(capsys):
    check_last_member_head(transformer_parts.last_member_head)
    d = transformer_parts.D_MODEL

    def wider(d_head=20, slope=6.0):  # written differently: a wider head, another slope
        W_Q, W_K, W_V, W_O = (
            torch.zeros(d, d_head),
            torch.zeros(d, d_head),
            torch.zeros(d, d_head),
            torch.zeros(d_head, d),
        )
        W_Q[transformer_parts.CONSTANT, 3] = 1.0
        W_K[transformer_parts.IS_MEMBER, 3] = 5000.0
        W_K[transformer_parts.POSITION, 3] = slope * d_head**0.5
        W_V[:12, 5:17] = 2 * torch.eye(12)
        W_O[5:17, :12] = 0.5 * torch.eye(12)
        return W_Q, W_K, W_V, W_O

    check_last_member_head(wider)
    assert capsys.readouterr().out.count("✔") == 2
    fails(check_last_member_head, stub, "not written yet")
    fails(check_last_member_head, lambda: None, "None")
    fails(check_last_member_head, lambda: wider()[:3], "tuple of 4")
    fails(
        check_last_member_head,
        lambda: (
            torch.zeros(d, 3),
            torch.zeros(d, 4),
            torch.zeros(d, 3),
            torch.zeros(3, d),
        ),
        "same d_head",
    )
    fails(check_last_member_head, lambda: wider(slope=-6.0), "first member")
    fails(check_last_member_head, lambda: wider(slope=0.0), "spreads attention")

    def no_member_score():
        W_Q, W_K, W_V, W_O = wider()
        W_K[transformer_parts.IS_MEMBER] = 0
        return W_Q, W_K, W_V, W_O

    fails(check_last_member_head, no_member_score, "IS_MEMBER")

    def successor():
        W_Q, W_K, W_V, W_O = wider()
        W_O[5:17, :12] = 0
        W_O[5:16, 1:12] = 0.5 * torch.eye(11)
        W_O[16, 11] = 0.5
        return W_Q, W_K, W_V, W_O

    fails(check_last_member_head, successor, "successor")

    def weak():
        W_Q, W_K, W_V, W_O = wider()
        return W_Q, W_K, W_V, W_O * 0.1

    fails(check_last_member_head, weak, "weakly")
