"""Lesson 03's induction checks: right answers pass, wrong ones fail with one clear sentence."""

import torch
from check_answers import assert_mistakes_named, assert_right_answers_pass, stub
from check_answers import fails_with as fails

from neuralcircuits.science import induction as ind
from neuralcircuits.teaching.tiny_transformer.induction_checks import (
    check_diagnosis,
    check_induction_head,
    check_previous_token_head,
    check_two_copies,
)


def _with(head, index, matrix):
    """A head with one of its four matrices replaced."""
    out = list(head)
    out[index] = matrix
    return tuple(out)


def _moved(W, source, target, columns=False):
    """W with the rows (or columns) of one subspace moved to another."""
    out = torch.zeros_like(W)
    if columns:
        out[:, target] = W[:, source]
    else:
        out[target] = W[source]
    return out


def _set_rows(W, rows, column, value):
    """A matrix of W's shape whose `rows` all put `value` in one column, zero elsewhere."""
    out = torch.zeros_like(W)
    out[rows, column] = value
    return out


# -- the previous-token head ----------------------------------------------------------
def test_previous_token_head(capsys):
    def wider():  # written differently: d_head 40, the shift on the key side
        d_head, n = 40, ind.N_CTX
        W_Q, W_K = torch.zeros(ind.D_MODEL, d_head), torch.zeros(ind.D_MODEL, d_head)
        W_Q[ind.POS, :n] = torch.eye(n) * 8.0 * d_head**0.5
        for j in range(n - 1):
            W_K[ind.POS.start + j, j + 1] = 1.0  # key j says "I am before j + 1"
        W_V, W_O = torch.zeros(ind.D_MODEL, d_head), torch.zeros(d_head, ind.D_MODEL)
        W_V[ind.TOKEN, 20:31] = 2 * torch.eye(ind.N_TOKENS)
        W_O[20:31, ind.PREV] = 0.5 * torch.eye(ind.N_TOKENS)
        return W_Q, W_K, W_V, W_O

    assert_right_answers_pass(
        check_previous_token_head, [ind.previous_token_head, wider], capsys
    )
    fails(check_previous_token_head, stub, "not written yet")
    fails(
        check_previous_token_head, lambda: ind.previous_token_head()[:3], "tuple of 4"
    )
    P = ind.previous_token_head()

    def attends_to_itself():
        W_Q = torch.zeros_like(P[0])
        W_Q[ind.POS] = torch.eye(ind.N_CTX) * 50
        return _with(P, 0, W_Q)

    def shifted(by, up_to=ind.N_CTX, scale=50.0):
        W_Q = torch.zeros_like(P[0])
        for p in range(up_to):
            if 0 <= p + by < ind.N_CTX:
                W_Q[ind.POS.start + p, p + by] = scale
        return _with(P, 0, W_Q)

    assert_mistakes_named(
        "previous_token_head",
        check_previous_token_head,
        [
            ("no shift", attends_to_itself, "attends to itself"),
            (
                "too soft",
                lambda: ind.previous_token_head(score=1.0),
                "leads the others by 1 after",
            ),
            (
                "sqrt(d_head) forgotten",
                lambda: shifted(-1, scale=10.0),
                "leads the others by 2.04 after",
            ),
            ("the wrong way", lambda: shifted(+1), "p + 1 highest, a later position"),
            ("two back", lambda: shifted(-2), "attends to p - 2"),
            (
                "written for the repeated sequences' 21 positions",
                lambda: shifted(-1, up_to=21),
                "positions 21, 22 and 23 give the position before them",
            ),
            (
                "values read PREV, empty at layer 0",
                lambda: _with(P, 2, _moved(P[2], ind.TOKEN, ind.PREV)),
                "writes nothing at all (your values read PREV)",
            ),
            (
                "writes into TOKEN",
                lambda: _with(P, 3, _moved(P[3], ind.PREV, ind.TOKEN, columns=True)),
                "into TOKEN, not into PREV",
            ),
            (
                "writes into OUT",
                lambda: _with(P, 3, _moved(P[3], ind.PREV, ind.OUT, columns=True)),
                "into OUT, not into PREV",
            ),
            (
                "copies the position",
                lambda: _with(P, 2, _moved(P[2], ind.TOKEN, slice(22, 33))),
                "largest entry of PREV",
            ),
            ("weak", lambda: _with(P, 3, P[3] * 0.2), "weakly"),
            ("a sign slip", lambda: _with(P, 3, -P[3]), "writes minus the previous"),
            (
                "every query the same",
                lambda: _with(P, 0, _set_rows(P[0], ind.POS, column=0, value=50.0)),
                "whatever p, gives its top score to position 0",
            ),
            (
                "also writes POS",
                lambda: _with(
                    P, 3, P[3] + _moved(P[3], ind.PREV, slice(22, 33), columns=True)
                ),
                "also writes into POS",
            ),
            (
                "queries and keys of different sizes",
                lambda: (torch.zeros(ind.D_MODEL, 3), *P[1:]),
                "same d_head",
            ),
        ],
    )


# -- the induction head ---------------------------------------------------------------
def test_induction_head(capsys):
    def scaled():  # written differently: the scale in the keys, a wider OV
        W_Q, W_K, _, _ = ind.induction_head(score=1.0)
        W_V2, W_O2 = torch.zeros(ind.D_MODEL, 30), torch.zeros(30, ind.D_MODEL)
        W_V2[ind.TOKEN, 5:16] = torch.eye(ind.N_TOKENS) * 3
        W_O2[5:16, ind.OUT] = torch.eye(ind.N_TOKENS) / 3
        return W_Q, W_K * 12, W_V2, W_O2

    assert_right_answers_pass(
        check_induction_head, [ind.induction_head, scaled], capsys
    )
    fails(check_induction_head, stub, "not written yet")
    broken = ind.broken_heads()
    working = ind.induction_head()
    assert_mistakes_named(
        "induction_head",
        check_induction_head,
        [
            ("keys read TOKEN", lambda: broken["a"], "keys TOKEN"),
            ("queries read PREV", lambda: broken["b"], "queries read PREV"),
            ("values read PREV", lambda: broken["c"], "predicts the current token"),
            (
                "too soft",
                lambda: ind.induction_head(score=1.0),
                "leads the others by 1 after",
            ),
            (
                "sqrt(d_head) forgotten",
                lambda: _with(working, 0, working[0] / 11**0.5),
                "leads the others by 3.01 after",
            ),
            (
                "queries and keys swapped",
                lambda: _with(
                    _with(working, 0, _moved(working[0], ind.TOKEN, ind.PREV)),
                    1,
                    _moved(working[1], ind.PREV, ind.TOKEN),
                ),
                "to the position before it and 44% to the token before the earlier",
            ),
            (
                # the message names what this head writes, not the layer-0 head's PREV
                "writes into TOKEN",
                lambda: _with(
                    working, 3, _moved(working[3], ind.OUT, ind.TOKEN, columns=True)
                ),
                "writes nothing into OUT, the only subspace the unembedding reads (it "
                "writes into TOKEN)",
            ),
            ("weak", lambda: _with(working, 3, working[3] * 0.3), "weakly"),
            (
                "a shifted copy",
                lambda: _with(working, 3, working[3].roll(1, dims=1)),
                "the top logit is the next token",
            ),
        ],
    )


# -- the prediction: two earlier copies -----------------------------------------------
def test_two_copies(capsys):
    assert_right_answers_pass(
        check_two_copies,
        [lambda: (0.5, 0.5), lambda: [0.45, 0.52], lambda: torch.tensor([0.5, 0.5])],
        capsys,
    )
    fails(check_two_copies, stub, "not written yet")
    assert_mistakes_named(
        "predict_two_copies",
        check_two_copies,
        [
            ("the latest copy", lambda: (0.0, 1.0), "on the later copy"),
            ("the first copy", lambda: (1.0, 0.0), "on the earlier copy"),
            ("a third elsewhere", lambda: (1 / 3, 1 / 3), "to other keys"),
            ("more than 1", lambda: (0.7, 0.7), "add up to 1.40"),
            ("one number", lambda: 0.5, "pair of shares"),
            ("negative", lambda: (-0.1, 0.5), "between 0 and 1"),
            ("percentages", lambda: (50, 50), "percentages?"),
        ],
    )


# -- the diagnosis --------------------------------------------------------------------
def test_diagnosis(capsys):
    assert_right_answers_pass(
        check_diagnosis,
        [lambda: dict(ind.BROKEN_FAULTS), lambda: {"c": "W_V", "b": "W_Q", "a": "W_K"}],
        capsys,
    )
    fails(check_diagnosis, stub, "not written yet")
    right = dict(ind.BROKEN_FAULTS)
    assert_mistakes_named(
        "diagnose_broken_heads",
        check_diagnosis,
        [
            (
                "a's queries",
                lambda: {**right, "a": "W_Q"},
                "W_Q into head 'a' leaves its second-half accuracy at 0%",
            ),
            (
                "b's keys (same pattern as a)",
                lambda: {**right, "b": "W_K"},
                "W_K into head 'b'",
            ),
            ("c's output", lambda: {**right, "c": "W_O"}, "W_O into head 'c'"),
            ("not a matrix", lambda: {**right, "a": "keys"}, "name one of"),
            ("a head missing", lambda: {"a": "W_K", "b": "W_Q"}, "no diagnosis"),
            ("a list", lambda: ["W_K", "W_Q", "W_V"], "Return a dict"),
        ],
    )
