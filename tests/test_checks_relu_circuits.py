"""Lesson 02's checks: a pass line for right answers, one clear sentence otherwise."""

import pytest
import torch
from check_answers import (
    assert_mistakes_named,
    assert_right_answers_pass,
    fails_with,
    stub,
)

from neuralcircuits.science import relu_circuits as rc
from neuralcircuits.science import relu_training as rt
from neuralcircuits.teaching.relu_circuits.checks import (
    check_abs_weights,
    check_match_units,
    check_min_counterexample,
    check_min_weights,
    check_silent_inputs,
)


def test_abs_weights(capsys):
    check_abs_weights(
        lambda: (torch.tensor([[2.0], [-0.5]]), torch.tensor([[0.5, 2.0]]))
    )
    assert "✔" in capsys.readouterr().out
    fails_with(
        check_abs_weights,
        lambda: (torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0, -1.0]])),
        "at input -3",
        "identity",
    )
    fails_with(
        check_abs_weights,
        lambda: (torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, 1.0]])),
        "shape (1, 2)",
    )
    fails_with(
        check_abs_weights, lambda: ([[1.0], [-1.0]], [[1.0, 1.0]]), "torch.Tensor"
    )
    fails_with(check_abs_weights, lambda: None, "None")
    fails_with(check_abs_weights, stub, "not written yet")
    fails_with(check_abs_weights, lambda: 1 / 0, "ZeroDivisionError")


def test_min_weights(capsys):
    good = (
        torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]]),
        torch.tensor([[1.0, -1.0, -1.0]]),
    )
    check_min_weights(lambda: good)
    assert "✔" in capsys.readouterr().out
    mirror = (
        torch.tensor([[0.0, 1.0], [0.0, -1.0], [-1.0, 1.0]]),
        torch.tensor([[1.0, -1.0, -1.0]]),
    )
    check_min_weights(lambda: mirror)
    as_max = (
        good[0] * torch.tensor([[1.0], [1.0], [-1.0]]),
        torch.tensor([[1.0, -1.0, 1.0]]),
    )
    fails_with(check_min_weights, lambda: as_max, "that is max")
    fails_with(
        check_min_weights, lambda: (good[0][:2], good[1][:, :2]), "fewer than the 3"
    )
    fails_with(
        check_min_weights, lambda: (good[0], good[1].T), "W_out has shape (3, 1)"
    )
    fails_with(check_min_weights, stub, "not written yet")


def test_match_units(capsys):
    check_match_units(rt.match_units)
    assert "✔" in capsys.readouterr().out

    def greedy_reuse(learned, reference):  # forgets that each unit is used once
        return [int((reference[i] @ learned.T).argmax()) for i in range(len(reference))]

    fails_with(check_match_units, greedy_reuse, "used twice")
    fails_with(check_match_units, lambda learned, reference: None, "returned None")
    fails_with(
        check_match_units, lambda learned, reference: [0], "one per reference unit"
    )
    fails_with(check_match_units, stub, "not written yet")


def test_silent_inputs(capsys):
    check_silent_inputs(rt.silent_inputs)
    assert "✔" in capsys.readouterr().out
    fails_with(
        check_silent_inputs, lambda w, x: (x @ w.T < 0).all(dim=1), "ReLU(0) = 0"
    )
    fails_with(check_silent_inputs, lambda w, x: x @ w.T <= 0, "shape")
    fails_with(check_silent_inputs, lambda w, x: (x @ w.T <= 0).any(dim=1), ".any")
    fails_with(check_silent_inputs, lambda w, x: None, "None")


# --- plausible mistakes a learner makes, and right answers written differently ---
# Each check gets >= 4 plausible wrong answers (each must fail with the sentence
# that names it, never a crash) and >= 1 correct variant (it must pass).


def T(rows):
    return torch.tensor(rows)


ABS_MISTAKES = [
    ("identity", lambda: (T([[1.0], [-1.0]]), T([[1.0, -1.0]])), "identity"),
    (
        "both detectors positive",
        lambda: (T([[1.0], [1.0]]), T([[1.0, 1.0]])),
        "one side of 0 gives nothing",
    ),
    ("scale not undone", lambda: (T([[2.0], [-2.0]]), T([[1.0, 1.0]])), "2·|x|"),
    (
        "W_in and W_out swapped",
        lambda: (T([[1.0, 1.0]]), T([[1.0], [-1.0]])),
        "other way round",
    ),
    ("negation", lambda: (T([[1.0], [-1.0]]), T([[-1.0, 1.0]])), "negation"),
    (
        "a 1-D W_out",
        lambda: (T([[1.0], [-1.0]]), T([1.0, 1.0])),
        "W_out has shape (2,)",
    ),
]
ABS_RIGHT = [
    lambda: (T([[-1.0], [1.0]]), T([[1.0, 1.0]])),  # the other order
    lambda: (T([[1], [-1]]), T([[1, 1]])),  # integer tensors
    lambda: (T([[4.0], [-0.25]]), T([[0.25, 4.0]])),  # in-scale times out-weight = 1
    lambda: [torch.eye(1).repeat(2, 1) * T([[1.0], [-1.0]]), torch.ones(1, 2)],
]

GOOD_MIN = (T([[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]]), T([[1.0, -1.0, -1.0]]))
MIN_MISTAKES = [
    (
        "greaterness added",
        lambda: (GOOD_MIN[0], T([[1.0, -1.0, 1.0]])),
        "adds the greaterness of x1",
    ),
    (
        "greaterness of x2",
        lambda: (T([[1.0, 0.0], [-1.0, 0.0], [-1.0, 1.0]]), GOOD_MIN[1]),
        "greaterness of x2 over x1",
    ),
    (
        "x1 passed through",
        lambda: (T([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]), GOOD_MIN[1]),
        "one input passed through",
    ),
    (
        "two units only",
        lambda: (T([[1.0, 0.0], [1.0, -1.0]]), T([[1.0, -1.0]])),
        "fewer than the 3",
    ),
    (
        "real max",
        lambda: (T([[1.0, 0.0], [-1.0, 0.0], [-1.0, 1.0]]), T([[1.0, -1.0, 1.0]])),
        "that is max",
    ),
    (
        "W_out transposed",
        lambda: (GOOD_MIN[0], GOOD_MIN[1].T),
        "W_out has shape (3, 1)",
    ),
]
MIN_RIGHT = [
    lambda: (T([[0.0, 1.0], [0.0, -1.0], [-1.0, 1.0]]), T([[1.0, -1.0, -1.0]])),
    lambda: (T([[1.0, -1.0], [2.0, 0.0], [-0.5, 0.0]]), T([[-1.0, 0.5, -2.0]])),
]


def _dot_product_matcher(learned, reference, min_cosine=0.99):
    scores = reference @ learned.T  # raw dot products pick the longest unit
    matches, used = [], set()
    for i, row in enumerate(scores):
        order = [int(j) for j in row.argsort(descending=True) if int(j) not in used]
        ok = (
            order
            and torch.nn.functional.cosine_similarity(
                reference[i], learned[order[0]], dim=0
            )
            > min_cosine
        )
        matches.append(order[0] if ok else None)
        if ok:
            used.add(order[0])
    return matches


def _abs_cosine_matcher(learned, reference, min_cosine=0.99):
    # |cosine|: a unit pointing the opposite way counts as a match
    both_ways = rt.match_units(torch.cat([learned, -learned]), reference, min_cosine)
    return [None if j is None else j % len(learned) for j in both_ways]


def _normalise_in_place(learned, reference, min_cosine=0.99):
    learned /= learned.norm(dim=1, keepdim=True)
    return rt.match_units(learned, reference, min_cosine)


def _ignores_min_cosine(learned, reference, min_cosine=0.99):
    return rt.match_units(learned, reference)  # always 0.99


def _per_learned_row(learned, reference, min_cosine=0.99):
    return rt.match_units(reference, learned, min_cosine)


def _first_fit(learned, reference, min_cosine=0.99):
    # the first free unit above min_cosine, not the best-aligned one
    cos = (
        torch.nn.functional.normalize(reference, dim=1)
        @ torch.nn.functional.normalize(learned, dim=1).T
    )
    matches, used = [], set()
    for row in cos:
        pick = next(
            (j for j in range(len(row)) if j not in used and row[j] > min_cosine), None
        )
        matches.append(pick)
        used.add(pick)
    return matches


def _threshold_of_its_own(learned, reference, min_cosine=0.99):
    return rt.match_units(learned, reference, 0.9)  # 0.9 written in


MATCH_MISTAKES = [
    ("dot product instead of cosine", _dot_product_matcher, "largest dot product"),
    ("the first unit above min_cosine", _first_fit, "first unit above min_cosine"),
    ("a threshold of its own", _threshold_of_its_own, "not above min_cosine = 0.99"),
    ("|cosine|: opposite units match", _abs_cosine_matcher, "opposite way"),
    ("normalises learned in place", _normalise_in_place, "changed its input `learned`"),
    ("ignores min_cosine", _ignores_min_cosine, "gets None"),
    ("one entry per learned row", _per_learned_row, "one entry per reference unit"),
]


def _match_best_first(learned, reference, min_cosine=0.99):
    """Also right: take the globally best pairs first; ties go to the later unit."""
    l_dirs = learned / learned.norm(dim=1, keepdim=True)
    r_dirs = reference / reference.norm(dim=1, keepdim=True)
    cos = r_dirs @ l_dirs.T
    pairs = sorted(
        (
            (float(cos[i, j]), -j, i, j)
            for i in range(len(reference))
            for j in range(len(learned))
        ),
        reverse=True,
    )
    out, used = [None] * len(reference), set()
    for c, _, i, j in pairs:
        if c > min_cosine and out[i] is None and j not in used:
            out[i] = j
            used.add(j)
    return out


def _match_as_tensor(learned, reference, min_cosine=0.99):
    got = rt.match_units(learned, reference, min_cosine)
    return [None if g is None else torch.tensor(g) for g in got]


MATCH_RIGHT = [rt.match_units, _match_best_first, _match_as_tensor]


def _silent_in_place(W_in, x):
    x.relu_()  # clamps the caller's inputs
    return (x @ W_in.T <= 0).all(dim=1)


SILENT_MISTAKES = [
    (
        "sum of pre-activations",
        lambda w, x: (x @ w.T).sum(dim=1) <= 0,
        "sum of the pre",
    ),
    ("x @ W_in", lambda w, x: (x @ w <= 0).all(dim=1), "raised RuntimeError"),
    ("flipped", lambda w, x: (x @ w.T > 0).any(dim=1), "flipped"),
    ("in place", _silent_in_place, "changed its input `x` in place"),
    ("strict <", lambda w, x: (x @ w.T < 0).all(dim=1), "ReLU(0) = 0"),
    ("per unit", lambda w, x: x @ w.T <= 0, "combine the units"),
]
SILENT_RIGHT = [
    lambda w, x: torch.relu(x @ w.T).sum(dim=1) == 0,
    lambda w, x: ~(x @ w.T > 0).any(dim=1),
    lambda w, x: (torch.relu(torch.einsum("hi,bi->bh", w, x)).amax(dim=1) == 0).int(),
]


def test_square_silent_names_x_at_w_in():
    from neuralcircuits.teaching.relu_circuits import checks

    def square_only(W_in, x):  # runs only where W_in is square
        pre = x @ W_in if W_in.shape[0] == W_in.shape[1] else x @ W_in.T
        return (pre <= 0).all(dim=1)

    fails_with(checks.check_silent_inputs, square_only, "x @ W_in.T")


CASES = {
    "abs_weights": (check_abs_weights, ABS_MISTAKES, ABS_RIGHT),
    "min_weights": (check_min_weights, MIN_MISTAKES, MIN_RIGHT),
    "match_units": (check_match_units, MATCH_MISTAKES, MATCH_RIGHT),
    "silent_inputs": (check_silent_inputs, SILENT_MISTAKES, SILENT_RIGHT),
}


@pytest.mark.parametrize("name", CASES)
def test_each_plausible_mistake_is_named(name):
    check, mistakes, _ = CASES[name]
    assert_mistakes_named(name, check, mistakes)


@pytest.mark.parametrize("name", CASES)
def test_every_right_answer_passes(name, capsys):
    check, _, right = CASES[name]
    assert_right_answers_pass(check, right, capsys)


# --- min_counterexample (the ●●● exercise) ------------------------------------


def _net(W_in, W_out, x):
    return (torch.relu(x @ W_in.T) @ W_out.T)[..., 0]


def _grid_search(W_in, W_out):
    """A correct variant written differently: search a grid over the whole square."""
    g = torch.linspace(-1, 1, 41)
    x = torch.cartesian_prod(g, g)
    error = (_net(W_in, W_out, x) - x.min(dim=1).values).abs()
    return x[int(error.argmax())].tolist()  # a list of two floats


def _positive_quadrant_search(W_in, W_out):
    g = torch.linspace(0, 2, 21)
    x = torch.cartesian_prod(g, g)
    error = (_net(W_in, W_out, x) - x.min(dim=1).values).abs()
    return x[int(error.argmax())]


def _compares_with_max(W_in, W_out):
    g = torch.linspace(-1, 1, 41)
    x = torch.cartesian_prod(g, g)
    error = (_net(W_in, W_out, x) - x.max(dim=1).values).abs()
    return x[int(error.argmax())]


def _mutates(W_in, W_out):
    W_in.relu_()
    return rc.min_counterexample(W_in, W_out)


def test_min_counterexample(capsys):
    check_min_counterexample(rc.min_counterexample)
    check_min_counterexample(_grid_search)
    assert "refutes all" in capsys.readouterr().out
    fails_with(check_min_counterexample, stub, "not written yet")
    fails_with(check_min_counterexample, lambda W_in, W_out: None, "None")
    fails_with(
        check_min_counterexample,
        lambda W_in, W_out: torch.tensor([1.0, 1.0]),
        "agrees with min",
        "without the negativeness detector",
    )
    fails_with(
        check_min_counterexample,
        lambda W_in, W_out: torch.tensor([1.0, -1.0]),
        "agrees with min",
    )
    fails_with(check_min_counterexample, _positive_quadrant_search, "agrees with min")
    fails_with(check_min_counterexample, _compares_with_max, "agrees with min")
    fails_with(
        check_min_counterexample,
        lambda W_in, W_out: rc.min_counterexample(W_in, W_out) * 1e-6,
        "agrees with min",
    )
    fails_with(
        check_min_counterexample,
        lambda W_in, W_out: rc.min_counterexample(W_in, W_out) * 1e6,
        "length 1000",
    )
    fails_with(check_min_counterexample, _mutates, "in place")
    fails_with(
        check_min_counterexample,
        lambda W_in, W_out: rc.min_counterexample(W_in, W_out)[None],
        "shape (1, 2)",
    )


def test_match_units_does_not_blame_dot_products_for_a_first_fit():
    message = fails_with(check_match_units, _first_fit, "first unit above min_cosine")
    assert "dot product" not in message
    message = fails_with(check_match_units, _threshold_of_its_own, "(the default)")
    assert "pointing the same way" not in message  # it does point the same way
