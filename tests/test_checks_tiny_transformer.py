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
)


# -- one head as QK and OV circuits ---------------------------------------------------
def right_head(x, W_Q, W_K, W_V, W_O):
    return transformer_parts.attention_head(x, W_Q, W_K, W_V, W_O)


def head(
    divide="sqrt d_head",
    mask="triu(1)",
    fill=float("-inf"),
    dim=-1,
    keys_first=False,
    mask_after=False,
    output="pattern @ v",
):
    """attention_head as a learner writes it, each choice a parameter."""

    def attention_head(x, W_Q, W_K, W_V, W_O):
        d_model, d_head = W_Q.shape
        q, k = x @ W_Q, x @ W_K
        scores = k @ q.transpose(1, 2) if keys_first else q @ k.transpose(1, 2)
        scores = (
            scores
            / {
                "sqrt d_head": d_head**0.5,
                "nothing": 1.0,
                "d_head": d_head,
                "sqrt d_model": d_model**0.5,
            }[divide]
        )
        n = x.shape[1]
        ones = torch.ones(n, n, dtype=torch.bool)
        hidden = {
            "triu(1)": ones.triu(1),
            "triu(0)": ones.triu(0),
            "tril(-1)": ones.tril(-1),
            "none": ~ones,
        }[mask]
        if mask_after:
            pattern = scores.softmax(dim).masked_fill(hidden, 0.0)
        else:
            pattern = scores.masked_fill(hidden, fill).softmax(dim)
        v = x @ W_V @ W_O
        out = {
            "pattern @ v": lambda: pattern @ v,
            "v": lambda: v,
            "x + pattern @ v": lambda: x + pattern @ v,
            "W_K for values": lambda: pattern @ x @ W_K @ W_O,
            "scaled": lambda: pattern @ v / d_head**0.5,
            "pattern @ x": lambda: pattern @ x,
            "transposed pattern": lambda: pattern.transpose(1, 2) @ v,
        }[output]()
        return pattern, out

    return attention_head


def test_attention_head(capsys):
    def einsum_version(x, W_Q, W_K, W_V, W_O):  # written differently: q and k first
        q, k = x @ W_Q, x @ W_K
        scores = torch.einsum("bqd,bkd->bqk", q, k) / q.shape[-1] ** 0.5
        mask = torch.tril(torch.ones(x.shape[1], x.shape[1])) == 0
        pattern = torch.softmax(scores.masked_fill(mask, -1e9), dim=-1)
        return pattern, torch.einsum("bqk,bkd->bqd", pattern, x @ W_V) @ W_O

    assert_right_answers_pass(
        check_attention_head, [right_head, einsum_version, head(fill=-1e9)], capsys
    )
    fails(check_attention_head, stub, "not written yet")
    fails(check_attention_head, lambda *a: None, "None")
    fails(check_attention_head, lambda *a: right_head(*a)[0], "tuple of 2")

    def no_w_o(x, W_Q, W_K, W_V, W_O):
        pattern = right_head(x, W_Q, W_K, W_V, W_O)[0]
        return pattern, pattern @ x @ W_V

    def mutates(x, *w):
        out = right_head(x.clone(), *w)
        x.add_(1)
        return out

    root = "not divided by sqrt(d_head)"
    assert_mistakes_named(
        "attention_head",
        check_attention_head,
        [
            ("unscaled", head(divide="nothing"), root),
            (
                "by d_head",
                head(divide="d_head"),
                "divided by d_head, not by its square",
            ),
            ("by sqrt(d_model)", head(divide="sqrt d_model"), "sqrt(d_model)"),
            ("no mask", head(mask="none"), "attend to later positions"),
            ("the mask filled with 0", head(fill=0.0), "filled with 0"),
            ("the mask after the softmax", head(mask_after=True), "after the softmax"),
            ("softmax over the queries", head(dim=1), "runs over the queries"),
            ("keys times queries", head(keys_first=True), "transposed"),
            (
                "two slips at once",
                head(keys_first=True, divide="nothing"),
                f"transposed: row i should hold query i's scores x_i W_QK x_j^T over "
                f"the keys j; and the scores are {root}",
            ),
            ("the diagonal masked, -inf", head(mask="triu(0)"), "Row 0 of the pattern"),
            (
                "the diagonal masked, -1e9",
                head(mask="triu(0)", fill=-1e9),
                "hides the diagonal too",
            ),
            ("the past masked", head(mask="tril(-1)"), "the mask hides the past"),
            ("softmax over the batch, -inf", head(dim=0), "NaN exactly where a key"),
            ("softmax over the batch, -1e9", head(dim=0, fill=-1e9), "over the batch"),
            ("no W_OV", head(output="pattern @ x"), "W_OV = W_V W_O"),
            ("the transposed pattern", head(output="transposed pattern"), "transposed"),
            ("no pattern in the output", head(output="v"), "its own x W_OV"),
            ("x added to the output", head(output="x + pattern @ v"), "adds x"),
            ("W_K for the values", head(output="W_K for values"), "through W_K"),
            ("the output scaled", head(output="scaled"), "output is divided"),
            ("no W_O", no_w_o, "skip W_O"),
            (
                "the pattern as the output",
                lambda *a: (right_head(*a)[0], right_head(*a)[0]),
                "shape (2, 5, 5); a head writes back into the residual stream, shape "
                "(2, 5, 6).",
            ),
            ("changes x in place", mutates, "in place"),
        ],
    )


# -- the hand-set head ----------------------------------------------------------------
TP = transformer_parts


def hand_set(
    d_head=12, query=TP.CONSTANT, q_cols=(0, 1), member=1000.0, slope=4.0, scale=None
):
    """The lesson's design, with the choices a learner makes as parameters."""
    W_Q, W_K = torch.zeros(TP.D_MODEL, d_head), torch.zeros(TP.D_MODEL, d_head)
    W_Q[query, list(q_cols)] = d_head**0.5 if scale is None else scale
    W_K[TP.IS_MEMBER, 0] = member
    W_K[TP.POSITION, 1] = slope
    W_V, W_O = torch.zeros(TP.D_MODEL, d_head), torch.zeros(d_head, TP.D_MODEL)
    W_V[TP.MEMBER_DIMS, :12] = torch.eye(12)
    W_O[:12, TP.MEMBER_DIMS] = torch.eye(12)
    return W_Q, W_K, W_V, W_O


def changed(**matrices):
    """The lesson's design with some matrices replaced: changed(W_K=lambda W: ...)."""
    head = dict(zip(("W_Q", "W_K", "W_V", "W_O"), hand_set(), strict=True))
    for name, edit in matrices.items():
        head[name] = edit(head[name].clone())
    return tuple(head.values())


def _set(W, index, value):
    W[index] = value
    return W


def test_last_member_head(capsys):
    d = TP.D_MODEL

    def wider(d_head=20, slope=6.0):  # written differently: a wider head, another slope
        W_Q, W_K, W_V, W_O = (
            torch.zeros(d, d_head),
            torch.zeros(d, d_head),
            torch.zeros(d, d_head),
            torch.zeros(d_head, d),
        )
        W_Q[TP.CONSTANT, 3] = 1.0
        W_K[TP.IS_MEMBER, 3] = 5000.0
        W_K[TP.POSITION, 3] = slope * d_head**0.5
        W_V[:12, 5:17] = 2 * torch.eye(12)
        W_O[5:17, :12] = 0.5 * torch.eye(12)
        return W_Q, W_K, W_V, W_O

    def one_column():  # both scores in one head dimension
        W_Q, W_K, W_V, W_O = hand_set(q_cols=(0,))
        W_K[TP.POSITION, 0], W_K[TP.POSITION, 1] = 4.0, 0.0
        return W_Q, W_K, W_V, W_O

    assert_right_answers_pass(
        check_last_member_head,
        [
            TP.last_member_head,
            hand_set,
            wider,
            one_column,
            # sqrt(d_head) forgotten: the scores are 3.5 times smaller, still enough
            lambda: hand_set(scale=1.0),
            # a query from POSITION alone: at the final position it is CONSTANT's
            # query times n - 1, the same direction, so the same keys win
            lambda: hand_set(query=TP.POSITION),
            # a stronger copy than 1 is still the member's direction
            lambda: changed(W_O=lambda W: 3 * W),
        ],
        capsys,
    )
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

    def successor(W):
        W[:, TP.MEMBER_DIMS] = 0
        W[:11, 1:12] = torch.eye(11)
        return W

    def predecessor(W):
        W[:, TP.MEMBER_DIMS] = 0
        W[1:12, 0:11] = torch.eye(11)
        return W

    def by_value(W):  # "the last member is the largest one"
        W[TP.POSITION] = 0
        W[TP.MEMBER_DIMS, 1] = 4.0 * torch.arange(12.0)
        return W

    def query_position_for_position(W):  # "the position score needs position"
        W[TP.CONSTANT, 1] = 0
        W[TP.POSITION, 1] = 12**0.5
        return W

    def member_as_constant(W):
        W[TP.CONSTANT] = W[TP.IS_MEMBER]
        W[TP.IS_MEMBER] = 0
        return W

    assert_mistakes_named(
        "last_member_head",
        check_last_member_head,
        [
            ("the position score falls", lambda: hand_set(slope=-4.0), "first member"),
            (
                "no position score",
                lambda: hand_set(slope=0.0),
                "does not grow with its position",
            ),
            (
                "a shallow position score",
                lambda: hand_set(slope=0.5),
                "only 1 more (0.5 per position",
            ),
            (
                "the trained head's member score",
                lambda: hand_set(member=10.0),
                "a member scores 10 and each later position 4",
            ),
            (
                "a member score for short prompts only",
                lambda: hand_set(member=60.0),
                "On prompts of 40 positions",
            ),
            (
                "keys read CONSTANT, not IS_MEMBER",
                lambda: changed(W_K=member_as_constant),
                "being a member adds nothing",
            ),
            # the query read from the wrong feature is told about the query
            (
                "the query reads IS_MEMBER",
                lambda: hand_set(query=TP.IS_MEMBER),
                "its query is 0 (W_Q reads IS_MEMBER",
            ),
            (
                "the query reads MEMBER_DIMS",
                lambda: hand_set(query=TP.MEMBER_DIMS),
                "its query is 0 (W_Q reads MEMBER_DIMS",
            ),
            (
                "the query reads POSITION for the position score",
                lambda: changed(W_Q=query_position_for_position),
                "your query reads POSITION as well as CONSTANT",
            ),
            (
                "the query is all zeros",
                lambda: changed(W_Q=torch.zeros_like),
                "W_Q is all zeros",
            ),
            # a key weight the query never meets is named, not "add a key score"
            (
                "the member score where the query is 0",
                lambda: hand_set(q_cols=(1,)),
                "your keys read IS_MEMBER only in head dimensions",
            ),
            (
                "the position score where the query is 0",
                lambda: hand_set(q_cols=(0,)),
                "your keys read POSITION only in head dimensions",
            ),
            (
                "keys score the member's value",
                lambda: changed(W_K=by_value),
                "the one whose value your keys score highest",
            ),
            ("a successor head", lambda: changed(W_O=successor), "successor"),
            ("a predecessor map", lambda: changed(W_O=predecessor), "value -1"),
            (
                "values read IS_MEMBER",
                lambda: changed(W_V=lambda W: _set(torch.zeros_like(W), (12, 0), 1.0)),
                "writes member direction 0 whatever",
            ),
            ("weak", lambda: changed(W_O=lambda W: W * 0.1), "weakly"),
            (
                "the identity on the whole stream",
                lambda: (*hand_set(d_head=15)[:2], torch.eye(15), torch.eye(15)),
                "also writes into POSITION",
            ),
        ],
    )


# -- the one-layer forward pass -------------------------------------------------------
def layer(
    positions="W_pos[:n]",
    direct=True,
    biases="QKV",
    b_O="once",
    b_U=True,
    heads=None,
    mask="triu(1)",
    fill=float("-inf"),
    divide_by="d_head",
):
    """one_layer_forward as a learner writes it, head by head, each choice a parameter."""

    def one_layer_forward(w, tokens):
        n = tokens.shape[1]
        x = w["W_E"][tokens]
        if positions == "W_pos[:n]":
            x = x + w["W_pos"][:n]
        elif positions == "W_pos[-n:]":
            x = x + w["W_pos"][-n:]
        resid = x.clone() if direct else torch.zeros_like(x)
        if b_O == "once":
            resid = resid + w["b_O"]
        ones = torch.ones(n, n, dtype=torch.bool)
        hidden = {"triu(1)": ones.triu(1), "triu(0)": ones.triu(0), "none": ~ones}[mask]
        for h in range(w["W_Q"].shape[0]) if heads is None else heads(w):
            q = x @ w["W_Q"][h] + (w["b_Q"][h] if "Q" in biases else 0)
            k = x @ w["W_K"][h] + (w["b_K"][h] if "K" in biases else 0)
            v = x @ w["W_V"][h] + (w["b_V"][h] if "V" in biases else 0)
            d = {"d_head": q.shape[-1], "d_model": x.shape[-1], "nothing": 1}
            scores = q @ k.transpose(1, 2) / d.get(divide_by, divide_by) ** 0.5
            pattern = scores.masked_fill(hidden, fill).softmax(-1)
            resid = resid + pattern @ v @ w["W_O"][h]
            if b_O == "per head":
                resid = resid + w["b_O"]
        return resid @ w["W_U"] + (w["b_U"] if b_U else 0)

    return one_layer_forward


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

    assert_right_answers_pass(
        check_one_layer_forward,
        # b_K adds the same score to every key of a query: the softmax ignores it
        [folded, by_hand, layer(), layer(biases="QV"), layer(fill=-1e9)],
        capsys,
    )
    fails(check_one_layer_forward, stub, "not written yet")
    fails(check_one_layer_forward, lambda w, t: None, "None")
    lesson_d_head = aot.weights(aot.load())["W_Q"].shape[-1]

    assert_mistakes_named(
        "one_layer_forward",
        check_one_layer_forward,
        [
            ("no positions", layer(positions="none"), "positional embedding"),
            ("the last rows of W_pos", layer(positions="W_pos[-n:]"), "last n rows"),
            ("no direct path", layer(direct=False), "direct path"),
            ("no head biases", layer(biases=""), "b_Q, b_K and b_V"),
            ("no b_Q", layer(biases="KV"), "queries leave out their bias b_Q"),
            ("no b_V", layer(biases="QK"), "values leave out their bias b_V"),
            ("no b_O", layer(b_O="none"), "leave out b_O"),
            ("b_O in every head", layer(b_O="per head"), "once per head"),
            ("no b_U", layer(b_U=False), "leave out b_U"),
            ("one head", layer(heads=lambda w: [0]), "only head 0"),
            ("no mask", layer(mask="none"), "mask the future"),
            ("the diagonal masked, -inf", layer(mask="triu(0)"), "NaN at position 0"),
            (
                "the diagonal masked, -1e9",
                layer(mask="triu(0)", fill=-1e9),
                "hides each position from itself",
            ),
            ("unscaled", layer(divide_by="nothing"), "not divided by sqrt(d_head)"),
            ("by sqrt(d_model)", layer(divide_by="d_model"), "sqrt(d_model)"),
            (
                "the lesson's d_head, hard-coded",
                layer(divide_by=lesson_d_head),
                f"sqrt({lesson_d_head}), the lesson's d_head",
            ),
            (
                "probabilities",
                lambda w, t: layer()(w, t).softmax(-1),
                "probabilities",
            ),
            (
                "log-probabilities",
                lambda w, t: layer()(w, t).log_softmax(-1),
                "log-probabilities",
            ),
            (
                "hard-coded for four heads",
                layer(heads=lambda w: range(4)),
                "raised IndexError",
            ),
            (
                "the residual stream, not the logits",
                lambda w, t: layer()(w, t)[..., : w["W_U"].shape[0]],
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
            (
                "the token, not its kind",
                lambda: {**RIGHT_KINDS, "was": "done"},
                "for 'was' is the token 'done'; answer with its kind, 'verb'",
            ),
        ],
    )


def test_head_reading(capsys):
    reading = checks.head_reading()
    assert (reading["last"], reading["head"]) == (23, 0)
    assert_right_answers_pass(
        check_head_reading,
        [
            lambda: (23, "7"),
            lambda: [-6, "7"],
            lambda: (torch.tensor(23), "7"),
            lambda: (23.0, "7"),
        ],
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
            ("the member as the position", lambda: ("6", "7"), "not the string '6'"),
            ("between two positions", lambda: (23.5, "7"), "a whole number"),
            ("the token as a number", lambda: (23, 7), "a string, as the tokenizer"),
        ],
    )
