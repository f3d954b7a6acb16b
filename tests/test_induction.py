"""Hand-built induction heads in a readable residual stream, composition scores and
the broken heads of lesson 03."""

import torch

from neuralcircuits.science import induction as ind


def test_the_readable_stream():
    tokens = ind.encode("ABCA")
    assert tokens.tolist() == [0, 1, 2, 3, 1] and ind.decode(tokens) == "^ABCA"
    x = ind.embed(tokens)
    assert x.shape == (1, 5, ind.D_MODEL) and ind.D_MODEL == 57
    assert x[0, :, ind.TOKEN].argmax(-1).tolist() == tokens.tolist()
    assert x[0, :, ind.POS].argmax(-1).tolist() == [0, 1, 2, 3, 4]
    assert x[..., ind.PREV].abs().sum() == 0 and x[..., ind.OUT].abs().sum() == 0


def test_repeated_sequences_repeat_a_permutation():
    tokens = ind.repeated_sequences(n=8, length=6, seed=1)
    assert tokens.shape == (8, 13) and (tokens[:, 0] == 0).all()
    assert torch.equal(tokens[:, 1:7], tokens[:, 7:])
    assert all(len(set(row[1:7].tolist())) == 6 for row in tokens)


def test_the_library_heads_do_induction_and_only_k_compose():
    prev, head = ind.previous_token_head(), ind.induction_head()
    tokens = ind.repeated_sequences(n=16, length=8, seed=2)
    s = ind.score_induction(prev, head, tokens)
    assert s["accuracy"] == 1.0 and s["induction_attention"] > 0.99
    probs = ind.next_token_probs(prev, head, tokens)
    assert probs.shape == (16, 16) and probs[:, 9:].min() > 0.99
    scores = ind.composition_scores(prev, head)
    assert scores["K"] > 0.3 - 1e-3 and scores["Q"] == scores["V"] == 0.0


def test_composition_score_is_scale_free_and_bounded():
    g = torch.Generator().manual_seed(0)
    A, B = torch.randn(6, 6, generator=g), torch.randn(6, 6, generator=g)
    assert abs(ind.composition_score(3 * A, B) - ind.composition_score(A, B)) < 1e-6
    assert 0 < ind.composition_score(A, B) <= 1
    u = torch.randn(6, 1, generator=g)
    assert abs(ind.composition_score(u @ u.T, u @ u.T) - 1) < 1e-5  # aligned rank 1
    baseline = ind.random_baseline(n=5, seed=3)
    assert set(baseline) == {"Q", "K", "V"} and baseline["K"].shape == (5,)


def test_each_broken_head_is_repaired_by_its_faulty_matrix():
    prev, working = ind.previous_token_head(), ind.induction_head()
    tokens = ind.repeated_sequences(n=16, length=10, seed=4)
    names = ("W_Q", "W_K", "W_V", "W_O")
    for name, head in ind.broken_heads().items():
        fault = names.index(ind.BROKEN_FAULTS[name])
        differs = [not torch.equal(a, b) for a, b in zip(head, working, strict=True)]
        assert differs == [i == fault for i in range(4)]
        repaired = list(head)
        repaired[fault] = working[fault]
        s = ind.score_induction(prev, tuple(repaired), tokens)
        assert s["accuracy"] == 1.0
