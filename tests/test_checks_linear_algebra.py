"""Lesson 01's checks: right answers pass, each kind of wrong answer gets its sentence."""

import torch
from check_answers import fails_with, stub

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
    fails_with(
        check_linear_layer, lambda x, W, b: x @ W.T - b, "differs from torch.nn.Linear"
    )
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
    fails_with(check_analogy, no_exclusion, "exclude a, b")
    fails_with(check_analogy, dot_product, "cosine")
    fails_with(check_analogy, flipped, "sign")


def test_analogy_on_the_trained_embedding():
    # Right on the hand-made embedding, wrong on the trained one: "two" is hard-coded.
    def hard_coded(E, vocab, a, b, c):
        return "two" if "two" in vocab else vocab[0]

    fails_with(check_analogy, hard_coded, "trained embedding")


# --- leak (superposition) ------------------------------------------------------------


def test_leak(capsys):
    check_leak(lambda W, b, i, j: torch.relu(W[:, i] @ W[:, j] + b[j]))
    check_leak(lambda W, b, i, j: max(float((W.T @ W)[j, i] + b[j]), 0.0))  # a float
    assert "✔" in capsys.readouterr().out
    fails_with(check_leak, stub, "not written yet")
    fails_with(check_leak, lambda W, b, i, j: None, "None")
    fails_with(check_leak, lambda W, b, i, j: W[:, i] @ W[:, j], "interference")
    fails_with(check_leak, lambda W, b, i, j: W[:, i] @ W[:, j] + b[j], "ReLU")
    fails_with(check_leak, lambda W, b, i, j: torch.relu(W[:, i] @ W[:, j] + b[i]), "b[i]")
    fails_with(check_leak, lambda W, b, i, j: torch.relu(W[i % 2] @ W[j % 2] + b[j]), "rows")
    fails_with(check_leak, lambda W, b, i, j: torch.relu(
        torch.cosine_similarity(W[:, i], W[:, j], dim=0) + b[j]), "cosine")
    fails_with(check_leak, lambda W, b, i, j: torch.relu(W.T @ W[:, i] + b), "one number")
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
    fails_with(check_most_exciting_input,
               lambda w: torch.nn.functional.one_hot(w.argmax(), len(w)).float(), "blend")
    fails_with(check_most_exciting_input, lambda w: torch.relu(w), "length")
    fails_with(check_most_exciting_input, lambda w: torch.relu(w) / w.norm(), "length")
    fails_with(check_most_exciting_input, lambda w: w.abs() / w.abs().norm(), "|w|")
    fails_with(check_most_exciting_input, lambda w: torch.relu(w) / torch.relu(w).norm(),
               "least negative")
    fails_with(check_most_exciting_input, lambda w: torch.ones_like(w) / len(w) ** 0.5,
               "possible")
    fails_with(check_most_exciting_input, _relu_in_place, "in place")
