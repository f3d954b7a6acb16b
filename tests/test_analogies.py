"""The counting embeddings and their analogy accuracy."""

import pytest
import torch

from neuralcircuits.science import analogies


@pytest.fixture(scope="module")
def E():
    return analogies.embeddings(analogies.train_counting_embeddings())


def test_vocabulary():
    assert len(analogies.VOCAB) == 36
    assert (
        analogies.token_value("May") == 5 and analogies.token_format("five") == "word"
    )
    assert analogies.next_token("12") == "1"
    assert analogies.next_token("December") == "January"
    assert analogies.next_token("seven") == "eight"
    assert (
        analogies.VOCAB[int(analogies.successor_ids()[analogies.VOCAB.index("3")])]
        == "4"
    )


def test_training_learns_the_task_and_repeats():
    model = analogies.train_counting_embeddings(steps=300)
    again = analogies.train_counting_embeddings(steps=300)
    assert torch.equal(analogies.embeddings(model), analogies.embeddings(again))


def test_trained_model_counts(E):
    model = analogies.train_counting_embeddings()
    assert analogies.successor_accuracy(model) == 1.0


def test_analogies_work_on_the_trained_embedding(E):
    assert analogies.analogy(E, "5", "five", "7") == "seven"
    scores = analogies.analogy_accuracy(E)
    assert set(scores) == {
        "numeral->word",
        "numeral->month",
        "word->numeral",
        "word->month",
        "month->numeral",
        "month->word",
        "all",
    }
    assert scores["all"] > 0.9


def test_the_unfactorised_control_has_no_analogies():
    model = analogies.train_counting_embeddings(factorised=False)
    assert analogies.successor_accuracy(model) == 1.0
    assert analogies.analogy_accuracy(analogies.embeddings(model))["all"] < 0.2


def test_analogy_excludes_queries_and_uses_cosine():
    vocab = ["a", "b", "c", "d", "long"]
    E = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.05, 1.0], [10.0, 3.0]])
    # E[b] - E[a] + E[c] = (0, 1.1): closest by cosine is c (excluded), then d
    assert analogies.analogy(E, "a", "b", "c", vocab=vocab) == "d"
    assert analogies.analogy(E, "a", "b", "c", vocab=vocab, exclude_query=False) == "c"


def test_accuracy_with_and_without_excluding_the_query_words(E):
    # Lesson 01 prints both; the trained embedding scores 1.000 either way, and
    # dropping the exclusion can only lower a score (a query word may win).
    assert analogies.analogy_accuracy(E)["all"] == 1.0
    assert analogies.analogy_accuracy(E, exclude_query=False)["all"] == 1.0
    # "In every variant but the first, allowing the query words lowers the score."
    for kwargs in (
        {"weight_decay": 0.0},
        {"factorised": False},
        {"d_embed": 4},
        {"d_embed": 2},
    ):
        E2 = analogies.embeddings(analogies.train_counting_embeddings(**kwargs))
        strict = analogies.analogy_accuracy(E2, exclude_query=False)["all"]
        assert strict < analogies.analogy_accuracy(E2)["all"] < 1.0


def test_projections(E):
    assert analogies.pca_2d(E).shape == (36, 2)
    assert analogies.analogy_plane(E).shape == (36, 2)
    assert 0.5 < analogies.format_direction_spread(E) <= 1.0
