"""Lesson 01's checks: right answers pass, each kind of wrong answer gets its sentence."""

import pytest
import torch
from check_answers import (
    assert_mistakes_named,
    assert_right_answers_pass,
    fails_with,
    stub,
)

from neuralcircuits.science import superposition as sp
from neuralcircuits.teaching.linear_algebra.checks import (
    check_analogy,
    check_coordinates_in_basis,
    check_leak,
    check_linear_layer,
    check_most_exciting_input,
    check_neuron_output,
    check_rotate_hidden,
)

# --- neuron_output -----------------------------------------------------------


def test_neuron_output(capsys):
    check_neuron_output(lambda x, w, b: x @ w + b)
    assert "✔" in capsys.readouterr().out
    fails_with(check_neuron_output, stub, "not written yet")
    fails_with(check_neuron_output, lambda x, w, b: None, "None")
    fails_with(
        check_neuron_output, lambda x, w, b: (x @ w + b).tolist(), "torch.Tensor"
    )
    fails_with(check_neuron_output, lambda x, w, b: x * w + b, "never adds")
    fails_with(
        check_neuron_output, lambda x, w, b: (x @ w + b)[:, None], "shape (5, 1)"
    )
    fails_with(check_neuron_output, lambda x, w, b: x @ w, "forgets the bias")
    fails_with(check_neuron_output, lambda x, w, b: x @ w - b, "subtracts the bias")
    fails_with(check_neuron_output, lambda x, w, b: x @ w.flip(0) + b, "at input")
    fails_with(check_neuron_output, lambda x, w, b: x @ w / 0, "NaN or infinity")
    fails_with(check_neuron_output, lambda x, w, b: x @ "w", "raised TypeError")


# --- linear_layer --------------------------------------------------------------


def test_linear_layer(capsys):
    check_linear_layer(lambda x, W, b: x @ W.T + b)
    check_linear_layer(lambda x, W, b: torch.nn.functional.linear(x, W, b))
    assert "nn.Linear" in capsys.readouterr().out
    fails_with(check_linear_layer, stub, "not written yet")
    fails_with(check_linear_layer, lambda x, W, b: None, "None")
    fails_with(check_linear_layer, lambda x, W, b: W @ x.T + b[:, None], "W @ x.T")
    fails_with(check_linear_layer, lambda x, W, b: x @ W + b, "raised RuntimeError")
    fails_with(check_linear_layer, lambda x, W, b: x @ W.T, "forgets the bias")
    fails_with(check_linear_layer, lambda x, W, b: x @ W.T - b, "subtracts the bias")
    fails_with(check_linear_layer, lambda x, W, b: (x @ W.T + b)[0], "shape (2,)")
    fails_with(check_linear_layer, lambda x, W, b: "x @ W.T + b", "torch.Tensor")


# --- coordinates_in_basis -----------------------------------------------------


def test_coordinates_in_basis(capsys):
    check_coordinates_in_basis(lambda v, B: torch.linalg.solve(B, v))
    check_coordinates_in_basis(lambda v, B: torch.linalg.inv(B) @ v)
    assert "✔" in capsys.readouterr().out
    fails_with(check_coordinates_in_basis, stub, "not written yet")
    fails_with(check_coordinates_in_basis, lambda v, B: None, "None")
    fails_with(check_coordinates_in_basis, lambda v, B: B @ v, "basis @ v")
    fails_with(check_coordinates_in_basis, lambda v, B: B.T @ v, "orthonormal")
    fails_with(check_coordinates_in_basis, lambda v, B: v, "should be [1.0, 2.0]")
    fails_with(
        check_coordinates_in_basis,
        lambda v, B: torch.linalg.solve(B, v)[None],
        "shape (1, 2)",
    )
    fails_with(check_coordinates_in_basis, lambda v, B: [1.0, 2.0], "torch.Tensor")


# --- rotate_hidden -------------------------------------------------------------


def test_rotate_hidden(capsys):
    check_rotate_hidden(lambda W_in, b_in, W_out, R: (R @ W_in, R @ b_in, W_out @ R.T))
    assert "unchanged" in capsys.readouterr().out
    fails_with(check_rotate_hidden, stub, "not written yet")
    fails_with(check_rotate_hidden, lambda *a: None, "three tensors", "None")
    fails_with(
        check_rotate_hidden, lambda W_in, b_in, W_out, R: R @ W_in, "three tensors"
    )
    fails_with(
        check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (W_in, b_in, W_out),
        "unchanged",
    )
    fails_with(
        check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (R.T @ W_in, R.T @ b_in, W_out @ R),
        "Rᵀ @ W_in",
    )
    fails_with(
        check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (R @ W_in, b_in, W_out @ R.T),
        "bias",
    )
    fails_with(
        check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (R @ W_in, R @ b_in, W_out @ R),
        "W_out @ R.T",
    )
    fails_with(
        check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (R @ W_in, R @ b_in, (W_out @ R.T).T),
        "shape (4, 3)",
    )
    fails_with(
        check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (R @ W_in, None, W_out @ R.T),
        "None",
    )


# --- analogy -------------------------------------------------------------------


def right_analogy(E, vocab, a, b, c):
    i = {t: k for k, t in enumerate(vocab)}
    q = E[i[b]] - E[i[a]] + E[i[c]]
    cos = E @ q / (E.norm(dim=-1) * q.norm())
    for t in (a, b, c):
        cos[i[t]] = -float("inf")
    return vocab[int(cos.argmax())]


def no_exclusion(E, vocab, a, b, c):
    i = {t: k for k, t in enumerate(vocab)}
    q = E[i[b]] - E[i[a]] + E[i[c]]
    return vocab[int((E @ q / (E.norm(dim=-1) * q.norm())).argmax())]


def dot_product(E, vocab, a, b, c):
    i = {t: k for k, t in enumerate(vocab)}
    scores = E @ (E[i[b]] - E[i[a]] + E[i[c]])
    for t in (a, b, c):
        scores[i[t]] = -float("inf")
    return vocab[int(scores.argmax())]


def flipped(E, vocab, a, b, c):
    return right_analogy(E, vocab, b, a, c)


def test_analogy(capsys):
    check_analogy(right_analogy)
    assert "✔" in capsys.readouterr().out
    fails_with(check_analogy, stub, "not written yet")
    fails_with(check_analogy, lambda *a: None, "None")
    fails_with(check_analogy, lambda E, vocab, a, b, c: 3, "index 3")
    fails_with(check_analogy, lambda E, vocab, a, b, c: E[0], "a str", "Tensor")
    fails_with(
        check_analogy, lambda E, vocab, a, b, c: "seven", "not in the vocabulary"
    )
    fails_with(check_analogy, no_exclusion, "query words", "leave out a, b and c")
    fails_with(check_analogy, dot_product, "dot product", "cosine")
    fails_with(check_analogy, flipped, "E[a] - E[b] + E[c]", "flipped")


def test_analogy_on_the_trained_embedding():
    # Right on the hand-made embeddings, wrong on the trained one: hard-coded.
    def hard_coded(E, vocab, a, b, c):
        known = {"1": "two", "cold": "warm", "A": "H"}
        return known.get(a, vocab[0])

    fails_with(check_analogy, hard_coded, "trained embedding")


def _query_rule(query):
    """An analogy with cosine and the query words left out, but its own query."""

    def analogy(E, vocab, a, b, c):
        i = {t: k for k, t in enumerate(vocab)}
        q = query(E[i[a]], E[i[b]], E[i[c]])
        cos = E @ q / (E.norm(dim=-1) * q.norm())
        cos[[i[a], i[b], i[c]]] = -float("inf")
        return vocab[int(cos.argmax())]

    return analogy


def test_analogy_names_the_query_it_was_given_not_a_look_alike():
    # These return the very tokens a dot product ('many') or a distance
    # ('near') would on the first question; the other questions tell them apart.
    fails_with(
        check_analogy, _query_rule(lambda a, b, c: a + b - c), "E[a] + E[b] - E[c]"
    )
    fails_with(check_analogy, _query_rule(lambda a, b, c: b + c), "leaves E[a] out")
    fails_with(check_analogy, _query_rule(lambda a, b, c: b - a), "leaves E[c] out")
    message = fails_with(check_analogy, euclidean, "by distance")
    assert "query" not in message


def test_neuron_output_names_a_bias_written_into_the_code():
    message = fails_with(
        check_neuron_output, lambda x, w, b: x @ w + 0.3, "adds 0.3", "b = -1.5"
    )
    assert "size written" not in message  # the bias is written in, not a size
    fails_with(check_neuron_output, lambda x, w, b: x @ w + 2 * b, "adds 0.6")


def test_rotate_hidden_names_a_matrix_left_as_it_was():
    fails_with(
        check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (W_in, b_in, W_out @ R.T),
        "leaves W_in as it was",
    )
    fails_with(
        check_rotate_hidden,
        lambda W_in, b_in, W_out, R: (R @ W_in, R @ b_in, W_out),
        "leaves W_out as it was",
    )


# --- plausible mistakes a learner makes, and right answers written differently ---
# Each check gets >= 4 plausible wrong answers (each must fail with the sentence
# that names it, never a crash) and >= 1 correct variant (it must pass).


def _in_place_neuron(x, w, b):
    x *= w  # multiplies the caller's x
    return x.sum(dim=1) + b


NEURON_MISTAKES = [
    (
        "hard-wired to 3 inputs",
        lambda x, w, b: x[:, 0] * w[0] + x[:, 1] * w[1] + x[:, 2] * w[2] + b,
        "size",
    ),
    ("ReLU applied", lambda x, w, b: torch.relu(x @ w + b), "applies ReLU"),
    (
        "summed over the batch",
        lambda x, w, b: (x * w).sum(dim=0) + b,
        "sums over the batch",
    ),
    ("in-place multiply", _in_place_neuron, "changed its input `x` in place"),
    ("bias forgotten", lambda x, w, b: x @ w, "forgets the bias"),
    ("returns a list", lambda x, w, b: (x @ w + b).tolist(), "torch.Tensor"),
]
NEURON_RIGHT = [
    lambda x, w, b: (x * w).sum(dim=-1) + b,
    lambda x, w, b: torch.einsum("bi,i->b", x, w) + b,
    lambda x, w, b: w @ x.T + b,
    lambda x, w, b: torch.stack([torch.dot(row, w) for row in x]) + b,
]


def _in_place_layer(x, W, b):
    return x @ W.t_() + b  # t_ transposes the caller's W


def _hard_wired_layer(x, W, b):
    return torch.stack([x @ W[0] + b[0], x @ W[1] + b[1]], dim=1)


LAYER_MISTAKES = [
    ("in-place transpose", _in_place_layer, "changed its input `W` in place"),
    ("hard-wired to 2 outputs", _hard_wired_layer, "shape (5, 2)"),
    (
        "W instead of W.T on a square W",
        lambda x, W, b: x @ W + b,
        "raised RuntimeError",
    ),
    ("ReLU applied", lambda x, W, b: torch.relu(x @ W.T + b), "applies ReLU"),
    (
        "bias per input",
        lambda x, W, b: x @ W.T + b.sum(),
        "adds [",
    ),
    ("first bias only", lambda x, W, b: x @ W.T + b[0], "where the bias is b ="),
    ("transposed result", lambda x, W, b: (x @ W.T + b).T, "W @ x.T"),
]
LAYER_RIGHT = [
    lambda x, W, b: (W @ x.T).T + b[None, :],
    lambda x, W, b: torch.einsum("bi,oi->bo", x, W) + b,
    lambda x, W, b: torch.addmm(b, x, W.T),
]


def test_square_layer_names_w_instead_of_its_transpose():
    from neuralcircuits.teaching.linear_algebra import checks

    def square_only(x, W, b):  # right shapes only when W is square
        return x @ W + b if W.shape[0] == W.shape[1] else x @ W.T + b

    fails_with(checks.check_linear_layer, square_only, "uses W where it needs W.T")


def _normalised_first(v, B):
    return torch.linalg.solve(B / B.norm(dim=0), v)


def _in_place_solve(v, B):
    c = torch.linalg.solve(B, v)
    v[:] = c  # the right answer, but stored in the caller's v
    return c


def _cramer_2d(v, B):  # written for 2-D only
    det = B[0, 0] * B[1, 1] - B[0, 1] * B[1, 0]
    return torch.stack(
        [
            (v[0] * B[1, 1] - B[0, 1] * v[1]) / det,
            (B[0, 0] * v[1] - v[0] * B[1, 0]) / det,
        ]
    )


BASIS_MISTAKES = [
    ("rows as basis vectors", lambda v, B: torch.linalg.solve(B.T, v), "as rows"),
    ("v @ inverse", lambda v, B: v @ torch.linalg.inv(B), "as rows"),
    ("normalised basis", _normalised_first, "normalised the basis vectors"),
    ("projections", lambda v, B: B.T @ v, "orthonormal"),
    ("hard-wired 2-D", _cramer_2d, "shape (2,)"),
    ("in-place", _in_place_solve, "changed its input"),
]
BASIS_RIGHT = [
    lambda v, B: torch.linalg.lstsq(B, v[:, None]).solution[:, 0],
    lambda v, B: torch.linalg.pinv(B) @ v,
    lambda v, B: torch.linalg.solve(B.T.T, v.clone()),
]


def _in_place_rotate(W_in, b_in, W_out, R):
    W_in.copy_(R @ W_in)
    b_in.copy_(R @ b_in)
    return W_in, b_in, W_out @ R.T


def _hard_wired_rotate(W_in, b_in, W_out, R):
    return R @ W_in, R @ b_in, W_out @ R.T[:, :4][:4] if R.shape[0] == 4 else W_out


ROTATE_MISTAKES = [
    ("in place", _in_place_rotate, "changed its input `W_in` in place"),
    (
        "bias as b_in @ R",
        lambda W_in, b_in, W_out, R: (R @ W_in, b_in @ R, W_out @ R.T),
        "b_in @ R",
    ),
    (
        "R on the wrong side of W_out",
        lambda W_in, b_in, W_out, R: (R @ W_in, R @ b_in, R @ W_out.T),
        "shape",
    ),
    ("works for d_hidden = 4 only", _hard_wired_rotate, "W_out"),
    (
        "rotated by the inverse",
        lambda W_in, b_in, W_out, R: (R.T @ W_in, R.T @ b_in, W_out @ R),
        "Rᵀ @ W_in",
    ),
]
ROTATE_RIGHT = [
    lambda W_in, b_in, W_out, R: [R @ W_in, b_in @ R.T, (R @ W_out.T).T],
    lambda W_in, b_in, W_out, R: (
        torch.einsum("hk,ki->hi", R, W_in),
        R @ b_in,
        W_out @ torch.linalg.inv(R),
    ),
]


def only_c_excluded(E, vocab, a, b, c):
    i = {t: k for k, t in enumerate(vocab)}
    q = E[i[b]] - E[i[a]] + E[i[c]]
    cos = E @ q / (E.norm(dim=-1) * q.norm())
    cos[i[c]] = -float("inf")
    return vocab[int(cos.argmax())]


def euclidean(E, vocab, a, b, c):
    i = {t: k for k, t in enumerate(vocab)}
    d = (E - (E[i[b]] - E[i[a]] + E[i[c]])).norm(dim=-1)
    for t in (a, b, c):
        d[i[t]] = float("inf")
    return vocab[int(d.argmin())]


def normalises_in_place(E, vocab, a, b, c):
    E /= E.norm(dim=-1, keepdim=True)  # changes the caller's embedding
    return right_analogy(E, vocab, a, b, c)


def returns_index(E, vocab, a, b, c):
    return vocab.index(right_analogy(E, vocab, a, b, c))


ANALOGY_MISTAKES = [
    ("only c excluded", only_c_excluded, "query words"),
    ("nearest by distance", euclidean, "by distance"),
    ("normalises E in place", normalises_in_place, "changed its input `E` in place"),
    ("returns an index", returns_index, "index"),
    ("dot product", dot_product, "cosine"),
    ("sign flipped", flipped, "flipped"),
    ("a + b - c", _query_rule(lambda a, b, c: a + b - c), "E[a] + E[b] - E[c]"),
]


def analogy_by_sorting(E, vocab, a, b, c):
    q = E[vocab.index(b)] - E[vocab.index(a)] + E[vocab.index(c)]
    cos = torch.nn.functional.cosine_similarity(E, q[None, :], dim=1)
    ranked = sorted(range(len(vocab)), key=lambda k: -float(cos[k]))
    return next(vocab[k] for k in ranked if vocab[k] not in (a, b, c))


def analogy_unnormalised_query(E, vocab, a, b, c):  # |q| does not change the argmax
    i = {t: k for k, t in enumerate(vocab)}
    scores = E @ (E[i[b]] - E[i[a]] + E[i[c]]) / E.norm(dim=-1)
    scores[[i[a], i[b], i[c]]] = -2.0
    return vocab[int(scores.argmax())]


ANALOGY_RIGHT = [analogy_by_sorting, analogy_unnormalised_query]

CASES = {
    "neuron_output": (check_neuron_output, NEURON_MISTAKES, NEURON_RIGHT),
    "linear_layer": (check_linear_layer, LAYER_MISTAKES, LAYER_RIGHT),
    "coordinates_in_basis": (check_coordinates_in_basis, BASIS_MISTAKES, BASIS_RIGHT),
    "rotate_hidden": (check_rotate_hidden, ROTATE_MISTAKES, ROTATE_RIGHT),
    "analogy": (check_analogy, ANALOGY_MISTAKES, ANALOGY_RIGHT),
}


@pytest.mark.parametrize("name", CASES)
def test_each_plausible_mistake_is_named(name):
    check, mistakes, _ = CASES[name]
    assert_mistakes_named(name, check, mistakes)


@pytest.mark.parametrize("name", CASES)
def test_every_right_answer_passes(name, capsys):
    check, _, right = CASES[name]
    assert_right_answers_pass(check, right, capsys)


# --- leak (superposition) ------------------------------------------------------------


def test_leak(capsys):
    check_leak(lambda W, b, i, j: torch.relu(W[:, i] @ W[:, j] + b[j]))
    check_leak(lambda W, b, i, j: max(float((W.T @ W)[j, i] + b[j]), 0.0))  # a float
    assert "✔" in capsys.readouterr().out
    fails_with(check_leak, stub, "not written yet")
    fails_with(check_leak, lambda W, b, i, j: None, "None")
    fails_with(check_leak, lambda W, b, i, j: W[:, i] @ W[:, j], "interference")
    fails_with(check_leak, lambda W, b, i, j: W[:, i] @ W[:, j] + b[j], "ReLU")
    fails_with(
        check_leak, lambda W, b, i, j: torch.relu(W[:, i] @ W[:, j] + b[i]), "b[i]"
    )
    fails_with(
        check_leak, lambda W, b, i, j: torch.relu(W[i % 2] @ W[j % 2] + b[j]), "rows"
    )
    fails_with(
        check_leak,
        lambda W, b, i, j: torch.relu(
            torch.cosine_similarity(W[:, i], W[:, j], dim=0) + b[j]
        ),
        "cosine",
    )
    fails_with(
        check_leak, lambda W, b, i, j: torch.relu(W.T @ W[:, i] + b), "one number"
    )
    fails_with(check_leak, lambda W, b, i, j: "0.28", "should be a number")
    fails_with(check_leak, lambda W, b, i, j: W.mul_(0).sum(), "in place")


# --- most_exciting_input (the ●●● exercise) ---------------------------------------


def _excite_loop(w):
    """A correct variant written differently: a loop and an explicit fallback."""
    x = torch.tensor([max(v, 0.0) for v in w.tolist()])
    if x.sum() == 0:
        x[w.tolist().index(max(w.tolist()))] = 1.0
    return x / x.norm()


def _relu_in_place(w):
    x = w.relu_()
    return x / x.norm()


def test_most_exciting_input(capsys):
    check_most_exciting_input(sp.most_exciting_input)
    check_most_exciting_input(_excite_loop)
    assert "✔" in capsys.readouterr().out
    fails_with(check_most_exciting_input, stub, "not written yet")
    fails_with(check_most_exciting_input, lambda w: None, "None")
    fails_with(check_most_exciting_input, lambda w: w / w.norm(), "negative entries")
    fails_with(
        check_most_exciting_input,
        lambda w: torch.nn.functional.one_hot(w.argmax(), len(w)).float(),
        "blend",
    )
    fails_with(check_most_exciting_input, lambda w: torch.relu(w), "length")
    fails_with(check_most_exciting_input, lambda w: torch.relu(w) / w.norm(), "length")
    fails_with(check_most_exciting_input, lambda w: w.abs() / w.abs().norm(), "|w|")
    fails_with(
        check_most_exciting_input,
        lambda w: torch.relu(w) / torch.relu(w).norm(),
        "least negative",
    )
    fails_with(
        check_most_exciting_input,
        lambda w: torch.ones_like(w) / len(w) ** 0.5,
        "possible",
    )
    fails_with(check_most_exciting_input, _relu_in_place, "in place")

    def most_negative_alone(w):  # all weights negative: the wrong feature alone
        if (w > 0).any():
            return torch.relu(w) / torch.relu(w).norm()
        return torch.nn.functional.one_hot(w.abs().argmax(), len(w)).float()

    fails_with(check_most_exciting_input, most_negative_alone, "least negative")
