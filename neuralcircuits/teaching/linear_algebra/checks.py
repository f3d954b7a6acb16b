"""Checks for lesson 01, the linear algebra of MLPs.

Each check calls the learner's function on fixed inputs and either prints one
pass line or fails with one sentence naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from neuralcircuits.science import analogies, linear_maps
from neuralcircuits.teaching.checking import (
    as_tensor,
    call,
    close,
    fail,
    first_mismatch,
    passed,
)


def _inputs(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).round(decimals=2)


def check_neuron_output(fn: Callable) -> None:
    """Check fn(x [batch, d_in], w [d_in], b) -> w·x + b for each row, shape [batch]."""
    x = _inputs(5, 3)
    w = torch.tensor([0.5, -1.0, 2.0])
    b = 0.3
    result = call(fn, x, w, b)
    if isinstance(result, torch.Tensor) and tuple(result.shape) == (5, 3):
        fail(
            "`neuron_output` returns shape (5, 3): it multiplies x and w element by "
            "element but never adds the products up (a dot product sums them)."
        )
    out = as_tensor(result, "`neuron_output`'s result", shape=(5,))
    want = x @ w + b
    if close(out, x @ w):
        fail("`neuron_output` forgets the bias: add b to the weighted sum.")
    if close(out, x @ w - b):
        fail("`neuron_output` subtracts the bias; the neuron computes w·x + b.")
    if close(out, -want):
        fail("`neuron_output` has the wrong sign everywhere: it should be w·x + b.")
    mismatch = first_mismatch(out, want, x)
    if mismatch:
        fail(f"`neuron_output` is off: {mismatch}.")
    passed("neuron_output computes w·x + b for every input row.")


def check_linear_layer(fn: Callable) -> None:
    """Check fn(x [batch, d_in], W [d_out, d_in], b [d_out]) equals torch.nn.Linear."""
    x = _inputs(4, 3, seed=1)
    W = _inputs(2, 3, seed=2)
    b = torch.tensor([0.5, -0.25])
    result = call(fn, x, W, b)
    if isinstance(result, torch.Tensor) and tuple(result.shape) == (2, 4):
        fail(
            "`linear_layer` returns shape (2, 4) = [d_out, batch]: that is W @ x.T; "
            "transpose it so each row is one input, [batch, d_out] = (4, 2)."
        )
    out = as_tensor(result, "`linear_layer`'s result", shape=(4, 2))
    with torch.no_grad():
        want = linear_maps.as_nn_linear(W, b)(x)
    if close(out, x @ W.T):
        fail("`linear_layer` forgets the bias: add b (one number per output neuron).")
    mismatch = first_mismatch(out, want, x)
    if mismatch:
        fail(f"`linear_layer` differs from torch.nn.Linear: {mismatch}.")
    passed(
        "linear_layer gives the same outputs as torch.nn.Linear with weights W, bias b."
    )


def check_coordinates_in_basis(fn: Callable) -> None:
    """Check fn(v [d], basis [d, d]) returns c with basis @ c == v."""
    cases = [
        (torch.tensor([3.0, 2.0]), torch.tensor([[1.0, 1.0], [0.0, 1.0]])),
        (torch.tensor([1.0, 1.0]), torch.tensor([[2.0, 0.0], [0.0, 0.5]])),
        (
            torch.tensor([1.0, -2.0, 0.5]),
            torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]),
        ),
    ]
    for v, basis in cases:
        d = len(v)
        result = call(fn, v.clone(), basis.clone())
        c = as_tensor(result, "`coordinates_in_basis`'s result", shape=(d,))
        want = torch.linalg.solve(basis, v)
        if close(c, want):
            continue
        shown = f"v = {v.tolist()} in the basis with columns {basis.T.tolist()}"
        if close(c, basis @ v):
            fail(
                f"For {shown} you returned basis @ v: that draws v's numbers as "
                "coordinates; you need the c with basis @ c = v (solve, or invert basis)."
            )
        if close(c, basis.T @ v):
            fail(
                f"For {shown} you returned basis.T @ v (dot products with the basis "
                "vectors); that only gives coordinates for an orthonormal basis, and "
                "this one is not: solve basis @ c = v instead."
            )
        fail(
            f"For {shown} the coordinates should be {want.tolist()}, "
            f"but you returned {c.tolist()} (check: basis @ c should give v back)."
        )
    passed("coordinates_in_basis finds c with basis @ c = v, for 2-D and 3-D bases.")


def check_rotate_hidden(fn: Callable) -> None:
    """Check fn(W_in, b_in, W_out, R) returns (R W_in, R b_in, W_out Rᵀ)."""
    W_in, b_in, W_out = _inputs(4, 2, seed=3), _inputs(4, seed=4), _inputs(3, 4, seed=5)
    R = linear_maps.random_rotation(4, seed=6)
    result = call(fn, W_in.clone(), b_in.clone(), W_out.clone(), R.clone())
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = f"a {type(result).__name__}" if result is not None else "None"
        fail(
            f"`rotate_hidden` should return three tensors (W_in, b_in, W_out); got {got}."
        )
    new_W_in = as_tensor(result[0], "the rotated W_in", shape=(4, 2))
    new_b_in = as_tensor(result[1], "the rotated b_in", shape=(4,))
    new_W_out = as_tensor(result[2], "the rotated W_out", shape=(3, 4))
    if close(new_W_in, W_in) and close(new_W_out, W_out):
        fail("`rotate_hidden` returns the weights unchanged: rotate the hidden space.")
    if close(new_W_in, R.T @ W_in):
        fail("The rotated W_in is Rᵀ @ W_in; rotate the hidden space by R: R @ W_in.")
    if not close(new_W_in, R @ W_in):
        fail(
            "The rotated W_in should be R @ W_in (each new neuron mixes the old ones)."
        )
    if close(new_b_in, b_in):
        fail("You rotate W_in but not the bias: the new b_in is R @ b_in.")
    if not close(new_b_in, R @ b_in):
        fail("The rotated b_in should be R @ b_in, the bias rotated like the neurons.")
    if close(new_W_out, W_out @ R):
        fail(
            "The rotated W_out is W_out @ R; it must undo the rotation: W_out @ R.T "
            "(the inverse of a rotation is its transpose)."
        )
    if not close(new_W_out, W_out @ R.T):
        fail("The rotated W_out should be W_out @ R.T, which undoes the rotation.")
    x = _inputs(8, 2, seed=7)
    b_out = torch.zeros(3)
    change = linear_maps.rotation_test(x, W_in, b_in, W_out, b_out, R, relu=False)
    passed(
        f"rotate_hidden leaves a linear network's output unchanged (max change {change:.1e})."
    )


# A hand-made embedding where the easy mistakes give different answers.
_ANALOGY_VOCAB = ["1", "one", "2", "two", "many", "minus"]
_ANALOGY_E = torch.tensor(
    [
        [1.0, 0.0, 0.0],  # "1"
        [1.0, 0.3, 0.0],  # "one"  = "1" + a small "word" direction
        [0.0, 0.0, 3.0],  # "2"    (a long vector)
        [0.5, 0.6, 2.5],  # "two"  roughly "2" + word, not exactly
        [5.0, 0.0, 3.2],  # "many" a very long vector: wins a dot product, not cosine
        [0.0, -0.5, 2.8],  # "minus" roughly "2" - word: what a sign error finds
    ]
)


def check_analogy(fn: Callable) -> None:
    """Check fn(E, vocab, a, b, c) -> the token nearest E[b] - E[a] + E[c] by cosine."""
    E, vocab = _ANALOGY_E, list(_ANALOGY_VOCAB)
    answer = call(fn, E.clone(), vocab, "1", "one", "2")
    query = "'1' is to 'one' as '2' is to ?"
    if answer is None:
        fail("`analogy` returned None: did you forget a `return`?")
    if (
        isinstance(answer, int)
        and not isinstance(answer, bool)
        and 0 <= answer < len(vocab)
    ):
        fail(
            f"`analogy` returned the index {answer}; return the token itself, vocab[{answer}]."
        )
    if not isinstance(answer, str):
        fail(
            f"`analogy` should return a token (a str), but it returned a {type(answer).__name__}."
        )
    if answer not in vocab:
        fail(f"`analogy` returned {answer!r}, which is not in the vocabulary.")
    if answer in ("1", "one", "2"):
        fail(
            f"For {query} you returned {answer!r}, one of the query words: exclude a, b "
            "and c from the candidates (the query vector is usually closest to c)."
        )
    if answer == "many":
        fail(
            f"For {query} you returned 'many', a very long vector: compare by cosine "
            "similarity (divide by the norms), not by the raw dot product."
        )
    if answer == "minus":
        fail(
            f"For {query} you returned 'minus': the query is E[b] - E[a] + E[c] "
            "(b minus a), and you have the sign of the difference flipped."
        )
    if answer != "two":
        fail(f"For {query} the answer is 'two', but you returned {answer!r}.")
    # The same questions on the lesson's trained embedding.
    E = analogies.embeddings(analogies.train_counting_embeddings())
    for a, b, c in [
        ("5", "five", "7"),
        ("May", "5", "twelve"),
        ("one", "January", "3"),
    ]:
        got = call(fn, E.clone(), list(analogies.VOCAB), a, b, c)
        want = analogies.analogy(E, a, b, c)
        if got != want:
            fail(
                f"On the trained embedding, '{a}' is to '{b}' as '{c}' is to {want!r} "
                f"(the token nearest by cosine), but you returned {got!r}."
            )
    passed(
        "analogy finds the token nearest E[b] - E[a] + E[c] by cosine, "
        "leaving out the query words."
    )
