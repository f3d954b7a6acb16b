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
    check,
    close,
    fail,
    first_mismatch,
    passed,
)


def _inputs(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).round(decimals=2)


# (batch, d_in, b): batch never equals d_in, so a sum over the wrong axis
# shows in the shape; two sizes, so code written for one size fails.
_NEURON_CASES = [(5, 3, 0.3), (4, 2, -1.5), (6, 4, 0.0)]


@check
def check_neuron_output(fn: Callable) -> None:
    """Check fn(x [batch, d_in], w [d_in], b) -> w·x + b for each row, shape [batch]."""
    for case, (batch, d_in, b) in enumerate(_NEURON_CASES):
        x = _inputs(batch, d_in, seed=10 + case)
        w = _inputs(d_in, seed=20 + case)
        result = call(fn, x, w, b, name="neuron_output")
        if isinstance(result, torch.Tensor) and tuple(result.shape) == (batch, d_in):
            fail(
                f"`neuron_output` returns shape ({batch}, {d_in}): it multiplies x and w "
                "element by element but never adds the products up (a dot product sums them)."
            )
        if isinstance(result, torch.Tensor) and tuple(result.shape) == (d_in,):
            fail(
                f"`neuron_output` returns shape ({d_in},): it sums over the batch; sum "
                "over the input dimension instead (dim=1, or use x @ w)."
            )
        out = as_tensor(result, "`neuron_output`'s result", shape=(batch,))
        want = x @ w + b
        if close(out, want):
            continue
        size = f"(on a batch of {batch} inputs of size {d_in})"
        if close(out, torch.relu(want)):
            fail(
                f"`neuron_output` applies ReLU {size}; return the pre-activation w·x + b."
            )
        if b != 0 and close(out, x @ w):
            fail("`neuron_output` forgets the bias: add b to the weighted sum.")
        if close(out, x @ w - b):
            fail("`neuron_output` subtracts the bias; the neuron computes w·x + b.")
        if close(out, -want):
            fail("`neuron_output` has the wrong sign everywhere: it should be w·x + b.")
        if case > 0:
            fail(
                f"`neuron_output` is right for the first case but not {size}: "
                "is a size written into your code? Use x's and w's own shapes."
            )
        fail(f"`neuron_output` is off: {first_mismatch(out, want, x)}.")
    passed("neuron_output computes w·x + b for every input row, at every size tried.")


# (batch, d_in, d_out): one square case, where x @ W runs but is wrong.
_LAYER_CASES = [(4, 3, 2), (5, 2, 3), (2, 3, 3)]


@check
def check_linear_layer(fn: Callable) -> None:
    """Check fn(x [batch, d_in], W [d_out, d_in], b [d_out]) equals torch.nn.Linear."""
    for case, (batch, d_in, d_out) in enumerate(_LAYER_CASES):
        x = _inputs(batch, d_in, seed=1 + 10 * case)
        W = _inputs(d_out, d_in, seed=2 + 10 * case)
        b = _inputs(d_out, seed=3 + 10 * case) + 0.5
        result = call(fn, x, W, b, name="linear_layer")
        if (
            isinstance(result, torch.Tensor)
            and batch != d_out
            and tuple(result.shape) == (d_out, batch)
        ):
            fail(
                f"`linear_layer` returns shape ({d_out}, {batch}) = [d_out, batch]: that is "
                f"W @ x.T; transpose it so each row is one input, [batch, d_out] = "
                f"({batch}, {d_out})."
            )
        out = as_tensor(result, "`linear_layer`'s result", shape=(batch, d_out))
        with torch.no_grad():
            want = linear_maps.as_nn_linear(W, b)(x)
        if close(out, want):
            continue
        if close(out, x @ W.T):
            fail(
                "`linear_layer` forgets the bias: add b (one number per output neuron)."
            )
        if close(out, torch.relu(want)):
            fail("`linear_layer` applies ReLU; a linear layer returns x @ W.T + b.")
        if close(out, x @ W.T - b):
            fail("`linear_layer` subtracts the bias; a layer computes x @ W.T + b.")
        if d_in == d_out and close(out, x @ W + b):
            fail(
                "`linear_layer` uses W where it needs W.T: with a square W, x @ W runs "
                "but dots each input with W's columns, not with each neuron's row."
            )
        if case > 0:
            fail(
                f"`linear_layer` is right for the first case but not for x {tuple(x.shape)}, "
                f"W {tuple(W.shape)}: is a size written into your code?"
            )
        fail(
            f"`linear_layer` differs from torch.nn.Linear: {first_mismatch(out, want, x)}."
        )
    passed(
        "linear_layer gives the same outputs as torch.nn.Linear with weights W, bias b."
    )


_BASIS_CASES = [
    (torch.tensor([3.0, 2.0]), torch.tensor([[1.0, 1.0], [0.0, 1.0]])),
    (torch.tensor([1.0, 1.0]), torch.tensor([[2.0, 0.0], [0.0, 0.5]])),
    (
        torch.tensor([1.0, -2.0, 0.5]),
        torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]),
    ),
    (
        torch.tensor([2.0, 0.0, -1.0, 1.0]),
        torch.tensor(
            [
                [1.0, 2.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 1.0],
                [0.0, 0.0, 3.0, 0.0],
                [1.0, 0.0, 0.0, 1.0],
            ]
        ),
    ),
]


@check
def check_coordinates_in_basis(fn: Callable) -> None:
    """Check fn(v [d], basis [d, d]) returns c with basis @ c == v."""
    for v, basis in _BASIS_CASES:
        d = len(v)
        v, basis = v.clone(), basis.clone()
        result = call(fn, v, basis, name="coordinates_in_basis")
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
        if close(c, torch.linalg.solve(basis.T, v)):
            fail(
                f"For {shown} you solved with the basis vectors as rows (basis.T, or "
                "v @ inverse); they are the columns: solve basis @ c = v."
            )
        unit = basis / basis.norm(dim=0, keepdim=True)
        if close(c, torch.linalg.solve(unit, v)):
            fail(
                f"For {shown} you normalised the basis vectors first; coordinates are "
                "in units of the basis vectors as given, so solve with basis itself."
            )
        fail(
            f"For {shown} the coordinates should be {want.tolist()}, "
            f"but you returned {[round(x, 4) for x in c.tolist()]} "
            "(check: basis @ c should give v back)."
        )
    passed("coordinates_in_basis finds c with basis @ c = v, for 2-, 3- and 4-D bases.")


# (d_in, d_hidden, d_out): two hidden sizes, so a size written in fails.
_ROTATE_CASES = [(2, 4, 3), (5, 3, 2)]


@check
def check_rotate_hidden(fn: Callable) -> None:
    """Check fn(W_in, b_in, W_out, R) returns (R W_in, R b_in, W_out Rᵀ)."""
    for case, (d_in, d_hidden, d_out) in enumerate(_ROTATE_CASES):
        seed = 3 + 10 * case
        W_in, b_in = (
            _inputs(d_hidden, d_in, seed=seed),
            _inputs(d_hidden, seed=seed + 1),
        )
        W_out = _inputs(d_out, d_hidden, seed=seed + 2)
        R = linear_maps.random_rotation(d_hidden, seed=seed + 3)
        result = call(fn, W_in, b_in, W_out, R, name="rotate_hidden")
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            got = f"a {type(result).__name__}" if result is not None else "None"
            fail(
                f"`rotate_hidden` should return three tensors (W_in, b_in, W_out); "
                f"got {got}."
            )
        new_W_in = as_tensor(result[0], "the rotated W_in", shape=(d_hidden, d_in))
        new_b_in = as_tensor(result[1], "the rotated b_in", shape=(d_hidden,))
        new_W_out = as_tensor(result[2], "the rotated W_out", shape=(d_out, d_hidden))
        if close(new_W_in, W_in) and close(new_W_out, W_out):
            fail(
                "`rotate_hidden` returns the weights unchanged: rotate the hidden space."
            )
        if close(new_W_in, R.T @ W_in):
            fail(
                "The rotated W_in is Rᵀ @ W_in; rotate the hidden space by R: R @ W_in."
            )
        if not close(new_W_in, R @ W_in):
            fail(
                "The rotated W_in should be R @ W_in (each new neuron mixes the old ones)."
            )
        if close(new_b_in, b_in):
            fail("You rotate W_in but not the bias: the new b_in is R @ b_in.")
        if close(new_b_in, b_in @ R):
            fail(
                "The rotated b_in is b_in @ R, which is Rᵀ @ b_in; rotate it like the "
                "neurons: R @ b_in."
            )
        if not close(new_b_in, R @ b_in):
            fail(
                "The rotated b_in should be R @ b_in, the bias rotated like the neurons."
            )
        if close(new_W_out, W_out @ R):
            fail(
                "The rotated W_out is W_out @ R; it must undo the rotation: W_out @ R.T "
                "(the inverse of a rotation is its transpose)."
            )
        if not close(new_W_out, W_out @ R.T):
            fail("The rotated W_out should be W_out @ R.T, which undoes the rotation.")
    x = _inputs(8, 2, seed=7)
    W_in, b_in = _inputs(4, 2, seed=3), _inputs(4, seed=4)
    W_out, R = _inputs(3, 4, seed=5), linear_maps.random_rotation(4, seed=6)
    change = linear_maps.rotation_test(
        x, W_in, b_in, W_out, torch.zeros(3), R, relu=False
    )
    passed(
        f"rotate_hidden leaves a linear network's output unchanged (max change {change:.1e})."
    )


# A hand-made embedding where the easy mistakes give different answers.
_ANALOGY_VOCAB = ["1", "one", "2", "two", "many", "minus", "near"]
_ANALOGY_E = torch.tensor(
    [
        [1.0, 0.0, 0.0],  # "1"
        [1.0, 0.3, 0.0],  # "one"  = "1" + a small "word" direction
        [0.0, 0.0, 3.0],  # "2"    (a long vector)
        [0.3, 0.5, 2.5],  # "two"  roughly "2" + word, not exactly: best cosine
        [5.0, 0.0, 3.2],  # "many" a very long vector: wins a dot product, not cosine
        [0.0, -0.5, 2.8],  # "minus" roughly "2" - word: what a sign error finds
        [0.55, 0.3, 3.0],  # "near" nearest by distance, second by cosine
    ]
)


@check
def check_analogy(fn: Callable) -> None:
    """Check fn(E, vocab, a, b, c) -> the token nearest E[b] - E[a] + E[c] by cosine."""
    E, vocab = _ANALOGY_E, list(_ANALOGY_VOCAB)
    answer = call(fn, E.clone(), vocab, "1", "one", "2", name="analogy")
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
    if answer == "near":
        fail(
            f"For {query} you returned 'near', the nearest token by distance; the "
            "exercise asks for the highest cosine similarity (the angle, not the gap)."
        )
    if answer != "two":
        fail(f"For {query} the answer is 'two', but you returned {answer!r}.")
    # A query whose nearest token is b itself: every query word must be left out.
    E2 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.3, 1.0]])
    vocab2 = ["cold", "hot", "cool", "warm"]
    got = call(fn, E2.clone(), list(vocab2), "cold", "hot", "cool", name="analogy")
    if got in ("cold", "hot", "cool"):
        fail(
            f"For 'cold' is to 'hot' as 'cool' is to ? you returned {got!r}, one of the "
            "query words: leave out all three of a, b and c, not only some."
        )
    if got != "warm":
        fail(
            f"For 'cold' is to 'hot' as 'cool' is to ? the answer is 'warm' (the only "
            f"token left), but you returned {got!r}."
        )
    # The same questions on the lesson's trained embedding.
    E = analogies.embeddings(analogies.train_counting_embeddings())
    for a, b, c in [
        ("5", "five", "7"),
        ("May", "5", "twelve"),
        ("one", "January", "3"),
    ]:
        got = call(fn, E.clone(), list(analogies.VOCAB), a, b, c, name="analogy")
        want = analogies.analogy(E, a, b, c)
        if got in (a, b, c):
            fail(
                f"On the trained embedding, for '{a}' is to '{b}' as '{c}' is to ? you "
                f"returned {got!r}, one of the query words: leave out all three of a, b "
                "and c, not only some."
            )
        if got != want:
            fail(
                f"On the trained embedding, '{a}' is to '{b}' as '{c}' is to {want!r} "
                f"(the token nearest by cosine), but you returned {got!r}."
            )
    passed(
        "analogy finds the token nearest E[b] - E[a] + E[c] by cosine, "
        "leaving out the query words."
    )


# --- superposition (section 7) ---------------------------------------------------

# A hand-made toy model, [2, 4] and [4], where each slip gives a different number.
_LEAK_W = torch.tensor([[1.2, 0.3, -0.9, 0.1], [0.2, 1.1, 0.5, -1.3]])
_LEAK_B = torch.tensor([-0.1, -0.3, -0.2, 0.05])
_LEAK_CASES = [(0, 1), (1, 0), (0, 2), (2, 3), (3, 1)]


def _number(value, what: str) -> float:
    """Turn the learner's one-number answer into a float, or fail saying why not."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, torch.Tensor):
        fail(
            f"{what} is a tensor of shape {tuple(value.shape)}; return one number, "
            "feature j's output alone."
        )
    if value is None:
        fail(f"{what} is None: did you forget a `return`?")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        fail(f"{what} should be a number, but it is a {type(value).__name__}.")
    return float(value)


@check
def check_leak(fn: Callable) -> None:
    """Check fn(W [2, n], b [n], i, j) -> ReLU(W[:, i] · W[:, j] + b[j])."""
    W, b = _LEAK_W, _LEAK_B
    for i, j in _LEAK_CASES:
        got = _number(call(fn, W, b, i, j, name="leak"), f"`leak(W, b, {i}, {j})`")
        dot = float(W[:, i] @ W[:, j])
        want = max(dot + float(b[j]), 0.0)
        if abs(got - want) < 1e-4:
            continue
        case = f"For i = {i}, j = {j}"
        cos = dot / float(W[:, i].norm() * W[:, j].norm())
        if (
            abs(got - max(float(W[i % 2] @ W[j % 2]) + float(b[j]), 0.0)) < 1e-4
            or abs(got - (float(W[i % 2] @ W[j % 2]) + float(b[j]))) < 1e-4
        ):
            fail(
                f"{case} you used rows of W; a feature's direction is a column, W[:, i]."
            )
        if abs(got - dot) < 1e-4:
            fail(
                f"{case} you return the interference W_i · W_j = {dot:.3g} alone; "
                "feature j's output also adds its bias b[j] and goes through the ReLU."
            )
        if abs(got - (dot + float(b[j]))) < 1e-4:
            fail(
                f"{case} you return {got:.3g}, which is negative: the output goes through "
                "a ReLU, so it cannot be below 0."
            )
        if abs(got - max(dot + float(b[i]), 0.0)) < 1e-4:
            fail(
                f"{case} you added b[i]; the output of feature j adds its own bias, b[j]."
            )
        if abs(got - max(cos + float(b[j]), 0.0)) < 1e-4:
            fail(
                f"{case} you used the cosine of the two directions; the model multiplies "
                "by W itself, so use the dot product W_i · W_j."
            )
        fail(
            f"{case} feature j's output should be ReLU(W_i · W_j + b_j) = {want:.3g}, "
            f"but you return {got:.3g}."
        )
    passed(
        "leak gives feature j's output when only feature i is on, for every test pair."
    )


_EXCITE_CASES = [
    ("mixed signs", torch.tensor([0.9, -0.4, 0.6, 0.0, -1.2])),
    ("one large weight", torch.tensor([2.0, 0.3, -0.1, 0.3])),
    ("all positive", torch.tensor([0.5, 1.0, 0.25])),
    ("every weight negative", torch.tensor([-0.5, -0.2, -0.9])),
]


@check
def check_most_exciting_input(fn: Callable) -> None:
    """Check fn(w [n]) -> the x >= 0 with |x| = 1 that maximises w · x."""
    from neuralcircuits.science import superposition

    for what, w in _EXCITE_CASES:
        result = call(fn, w, name="most_exciting_input")
        if (
            isinstance(result, torch.Tensor)
            and result.is_floating_point()
            and not torch.isfinite(result).all()
            and (w <= 0).all()
        ):
            fail(
                "When every weight is negative, ReLU(w) is 0 and dividing by its length "
                "gives NaN: then the best is the least negative feature alone."
            )
        x = as_tensor(
            result, "The input `most_exciting_input` returned", shape=tuple(w.shape)
        )
        shown = f"for w = {w.tolist()} ({what})"
        if (x < -1e-6).any():
            fail(
                f"Your x {shown} has negative entries: features are intensities, never "
                "negative, so only inputs with x >= 0 are allowed."
            )
        length = float(x.norm())
        if abs(length - 1) > 1e-4:
            extra = (
                " (when no weight is positive, take the least negative feature alone)"
                if (w <= 0).all()
                else ""
            )
            fail(
                f"Your x {shown} has length {length:.3g}; the bound is |x| = 1, so "
                f"scale it to length 1{extra}."
            )
        best = superposition.most_exciting_input(w)
        reached, possible = float(w @ x), float(w @ best)
        if reached < possible - 1e-4:
            one_hot = torch.zeros_like(w)
            one_hot[int(w.argmax())] = 1.0
            absolute = w.abs() / w.abs().norm()
            if torch.allclose(x, one_hot, atol=1e-4):
                fail(
                    f"The single feature with the largest weight reaches w · x = "
                    f"{reached:.3g} {shown}, but mixing every positively weighted feature "
                    f"reaches {possible:.3g}: a neuron is excited most by a blend."
                )
            if torch.allclose(x, absolute, atol=1e-4):
                fail(
                    f"You gave weight to features the neuron reads negatively (|w|) {shown}: "
                    "they lower w · x; leave them at 0."
                )
            fail(
                f"Your x reaches w · x = {reached:.3g} {shown}, but {possible:.3g} is "
                "possible with x >= 0 and |x| = 1."
            )
    passed(
        "most_exciting_input finds each test neuron's most exciting input (x >= 0, |x| = 1)."
    )
