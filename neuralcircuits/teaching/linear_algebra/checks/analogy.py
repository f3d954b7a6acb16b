"""Lesson 01's checks for section 6: latent-space arithmetic (the analogy query)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from neuralcircuits.science import analogies
from neuralcircuits.teaching.checking import (
    call,
    check,
    fail,
    passed,
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


_LETTERS = list("ABCDEFGHIJ")
_LETTERS_E = torch.tensor(
    [
        [1.5, 2.3, -1.9],
        [1.1, 0.1, -0.9],
        [1.5, 0.9, -0.0],
        [-1.7, 0.3, 1.9],
        [-0.4, -1.3, 0.8],
        [0.8, 0.5, 2.2],
        [-1.0, 0.2, -1.3],
        [1.5, -2.9, 3.2],
        [0.2, -2.5, 0.5],
        [-1.0, -2.1, 1.5],
    ]
)

# The analogy rules a learner may have written instead: the query, the
# similarity, the query words left out. The answers to every question are
# read together, so a mistake is named only when every rule that gives those
# answers makes it.
_ANALOGY_QUERIES = {
    "right": lambda a, b, c: b - a + c,
    "the query is E[a] - E[b] + E[c]: the difference is flipped; it is E[b] - E[a] "
    "+ E[c] (b minus a)": lambda a, b, c: a - b + c,
    "the query is E[a] + E[b] - E[c]; it is E[b] - E[a] + E[c]": lambda a, b, c: (
        a + b - c
    ),
    "the query leaves E[a] out (E[b] + E[c]); it is E[b] - E[a] + E[c]": lambda a, b, c: (
        b + c
    ),
    "the query leaves E[c] out (E[b] - E[a]); it is E[b] - E[a] + E[c]": lambda a, b, c: (
        b - a
    ),
}
_ANALOGY_SIMILARITIES = {
    "right": lambda E, q: (E @ q) / (E.norm(dim=-1) * q.norm()),
    "it ranks by the raw dot product, which long vectors win; compare by cosine "
    "similarity (divide by the norms)": lambda E, q: E @ q,
    "it ranks by distance; the exercise asks for the highest cosine similarity (the "
    "angle, not the gap)": lambda E, q: -(E - q).norm(dim=-1),
}
_ANALOGY_LEFT_OUT = ["abc", "", "a", "b", "c", "ab", "ac", "bc"]


@functools.lru_cache(maxsize=1)
def _trained_embedding() -> torch.Tensor:
    """The lesson's trained embedding (trained once; each question gets a copy)."""
    return analogies.embeddings(analogies.train_counting_embeddings())


def _analogy_questions() -> list[tuple[torch.Tensor, list[str], str, str, str]]:
    """(E, vocab, a, b, c) of every question the check asks, hand-made ones first."""
    E = _trained_embedding().clone()
    cold = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.3, 1.0]])
    return [
        (_ANALOGY_E, list(_ANALOGY_VOCAB), "1", "one", "2"),
        # a query whose nearest token is b itself: every query word must go
        (cold, ["cold", "hot", "cool", "warm"], "cold", "hot", "cool"),
        # a random embedding where each rule above gives its own answer (found by
        # search), so the mistakes are told apart
        (_LETTERS_E, list(_LETTERS), "A", "B", "C"),
        # the lesson's trained embedding
        (E, list(analogies.VOCAB), "5", "five", "7"),
        (E, list(analogies.VOCAB), "May", "5", "twelve"),
        (E, list(analogies.VOCAB), "one", "January", "3"),
    ]


def _analogy_rule(E, vocab, a, b, c, query, similarity, left_out) -> str:
    i = {"a": vocab.index(a), "b": vocab.index(b), "c": vocab.index(c)}
    score = similarity(E, query(E[i["a"]], E[i["b"]], E[i["c"]])).clone()
    for word in left_out:
        score[i[word]] = -float("inf")
    return vocab[int(score.argmax())]


def _analogy_mistake(questions: list, answers: list[str]) -> str | None:
    """The mistake every analogy rule that gives these answers makes, or None."""
    fits = [
        (q, s, x)
        for q, query in _ANALOGY_QUERIES.items()
        for s, similarity in _ANALOGY_SIMILARITIES.items()
        for x in _ANALOGY_LEFT_OUT
        if all(
            _analogy_rule(E, vocab, a, b, c, query, similarity, x) == got
            for (E, vocab, a, b, c), got in zip(questions, answers, strict=True)
        )
    ]
    if not fits:
        return None
    for part in (0, 1):
        kinds = {fit[part] for fit in fits}
        if len(kinds) == 1 and "right" not in kinds:
            return kinds.pop()
    if all(fit[2] != "abc" for fit in fits):
        return "it keeps some of the query words as candidates: leave out a, b and c"
    return None


def _query(a: str, b: str, c: str) -> str:
    return f"'{a}' is to '{b}' as '{c}' is to ?"


@check
def check_analogy(fn: Callable) -> None:
    """Check fn(E, vocab, a, b, c) -> the token nearest E[b] - E[a] + E[c] by cosine."""
    answers = []
    questions = _analogy_questions()
    for E, vocab, a, b, c in questions:
        answer = call(fn, E.clone(), list(vocab), a, b, c, name="analogy")
        if answer is None:
            fail("`analogy` returned None: did you forget a `return`?")
        if (
            isinstance(answer, int)
            and not isinstance(answer, bool)
            and 0 <= answer < len(vocab)
        ):
            fail(
                f"`analogy` returned the index {answer}; return the token itself, "
                f"vocab[{answer}]."
            )
        if not isinstance(answer, str):
            fail(
                "`analogy` should return a token (a str), but it returned a "
                f"{type(answer).__name__}."
            )
        if answer not in vocab:
            fail(f"`analogy` returned {answer!r}, which is not in the vocabulary.")
        answers.append(answer)
    wants = [
        analogies.analogy(E, a, b, c, vocab=vocab) for E, vocab, a, b, c in questions
    ]
    if answers == wants:
        passed(
            "analogy finds the token nearest E[b] - E[a] + E[c] by cosine, "
            "leaving out the query words."
        )
        return
    i = next(k for k, (g, w) in enumerate(zip(answers, wants, strict=True)) if g != w)
    _, _, a, b, c = questions[i]
    where = "On the trained embedding, for " if i >= 3 else "For "
    where += f"{_query(a, b, c)} you returned {answers[i]!r}"
    mistake = _analogy_mistake(questions, answers)
    if mistake:
        fail(f"{where}: {mistake}.")
    if answers[i] in (a, b, c):
        fail(
            f"{where}, one of the query words: leave out all three of a, b and c "
            "(the query vector is usually closest to one of them)."
        )
    fail(f"{where}; the token nearest E[b] - E[a] + E[c] by cosine is {wants[i]!r}.")
