"""Lesson 03's checks: right answers pass, wrong ones fail with one clear sentence."""

import torch
from check_answers import assert_mistakes_named, assert_right_answers_pass, stub
from check_answers import fails_with as fails

from neuralcircuits.science import attention_only as aot
from neuralcircuits.science import transformer_parts
from neuralcircuits.teaching.tiny_transformer import checks
from neuralcircuits.teaching.tiny_transformer.checks import (
    check_attention_head,
    check_direct_path_prediction,
    check_head_reading,
    check_last_member_head,
    check_one_layer_forward,
    forward,
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
            _, _, wrong = forward._head_variants(x, W_Q, W_K, W_V, W_O)
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


# -- the one-layer forward pass -------------------------------------------------------
def test_one_layer_forward(capsys):
    def folded(w, tokens):  # the lesson's solution: biases folded into the matrices
        return aot.forward(w, tokens)[0]

    def by_hand(w, tokens):  # written differently: einsum over all heads at once
        x = w["W_E"][tokens] + w["W_pos"][: tokens.shape[1]]
        q = torch.einsum("bpd,hde->bhpe", x, w["W_Q"]) + w["b_Q"][:, None]
        k = torch.einsum("bpd,hde->bhpe", x, w["W_K"]) + w["b_K"][:, None]
        v = torch.einsum("bpd,hde->bhpe", x, w["W_V"]) + w["b_V"][:, None]
        n = tokens.shape[1]
        scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        scores = scores + torch.full((n, n), -1e9).triu(1)
        z = scores.softmax(-1) @ v  # [batch, head, pos, d_head]
        out = torch.einsum("bhpe,hed->bpd", z, w["W_O"])
        return (x + out + w["b_O"]) @ w["W_U"] + w["b_U"]

    assert_right_answers_pass(check_one_layer_forward, [folded, by_hand], capsys)
    fails(check_one_layer_forward, stub, "not written yet")
    fails(check_one_layer_forward, lambda w, t: None, "None")

    def slip(**kwargs):
        return lambda w, tokens: forward._forward(w, tokens, **kwargs)

    assert_mistakes_named(
        "one_layer_forward",
        check_one_layer_forward,
        [
            ("no positions", slip(positions=False), "positional embedding"),
            ("no direct path", slip(direct=False), "direct path"),
            ("no head biases", slip(head_biases=False), "b_Q, b_K and b_V"),
            ("no b_O", slip(out_bias=False), "b_O"),
            ("one head", slip(heads=(0,)), "only head 0"),
            ("no mask", slip(causal=False), "mask the future"),
            (
                "probabilities",
                lambda w, t: forward._forward(w, t).softmax(-1),
                "probabilities",
            ),
            (
                "log-probabilities",
                lambda w, t: forward._forward(w, t).log_softmax(-1),
                "log-probabilities",
            ),
            (
                "hard-coded for four heads",
                lambda w, t: (
                    forward._forward(w, t, heads=(0, 1, 2, 3))
                    if w["W_Q"].shape[0] == 4
                    else forward._forward(w, t, heads=(0,))
                ),
                "another shape",
            ),
            (
                "the residual stream, not the logits",
                lambda w, t: forward._forward(w, t)[..., : w["W_U"].shape[0]],
                "shape",
            ),
        ],
    )


# -- the predictions about the trained model ------------------------------------------
RIGHT_KINDS = {
    "Desk": "was",
    "was": "verb",
    "done": "in",
    "in": "member",
    "5": ".",
    ".": "<bos>",
}


def test_direct_path_prediction(capsys):
    measured = {t: checks.direct_path_top(t)[1] for t in checks.DIRECT_PATH_TOKENS}
    assert measured == RIGHT_KINDS  # the lesson's solution, measured
    with_extra = {**RIGHT_KINDS, "Sun": "was"}  # a wider dict still answers the six
    assert_right_answers_pass(
        check_direct_path_prediction,
        [lambda: dict(RIGHT_KINDS), lambda: with_extra],
        capsys,
    )
    fails(check_direct_path_prediction, stub, "not written yet")
    assert_mistakes_named(
        "predict_direct_path",
        check_direct_path_prediction,
        [
            (
                "a word after '.'",
                lambda: {**RIGHT_KINDS, ".": "word"},
                "after '.' you said 'word'",
            ),
            (
                "the member's successor kind",
                lambda: {**RIGHT_KINDS, "5": "member"},
                "after '5' you said 'member'",
            ),
            (
                "two wrong",
                lambda: {**RIGHT_KINDS, "was": "word", "in": "word"},
                "2 of your 6 predictions differ",
            ),
            ("a list", lambda: list(RIGHT_KINDS.values()), "Return a dict"),
            (
                "a token missing",
                lambda: {k: v for k, v in RIGHT_KINDS.items() if k != "done"},
                "no prediction for 'done'",
            ),
            (
                "not a kind",
                lambda: {**RIGHT_KINDS, "Desk": "noun"},
                "not one of the kinds",
            ),
        ],
    )


def test_head_reading(capsys):
    reading = checks.head_reading()
    assert (reading["last"], reading["head"]) == (23, 0)
    assert_right_answers_pass(
        check_head_reading,
        [lambda: (23, "7"), lambda: [-6, "7"], lambda: (torch.tensor(23), "7")],
        capsys,
    )
    fails(check_head_reading, stub, "not written yet")
    assert_mistakes_named(
        "predict_head_reading",
        check_head_reading,
        [
            ("a copying head", lambda: (23, "6"), "a copy of the member it reads"),
            ("the first member", lambda: (5, "7"), "Position 5 holds '3'"),
            ("the query itself", lambda: (28, "7"), "Position 28 holds 'in'"),
            ("the verb", lambda: (27, "7"), "Position 27 holds 'done'"),
            ("another format", lambda: (23, "seven"), "its largest"),
            ("outside the story", lambda: (40, "7"), "29 positions"),
            ("one value", lambda: 23, "pair (position, token)"),
            ("not a token", lambda: (23, "Seven"), "not a token"),
        ],
    )
