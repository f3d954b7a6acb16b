"""The one-layer attention-only model: its corpus, its weights read back, the forward
pass from the weights, its circuits, and training from the seed."""

import pytest
import torch

from neuralcircuits.science import attention_only as aot
from neuralcircuits.science.attention_only import train


@pytest.fixture(scope="module")
def shipped():
    model = aot.load()
    return model, aot.weights(model)


def test_loads_offline_with_its_config(shipped):
    model, w = shipped
    assert not model.training and model.cfg.model_name == aot.MODEL_NAME
    assert model.cfg.n_layers == 1 and model.cfg.attn_only
    assert w["W_Q"].shape == (4, 64, 16) and w["W_U"].shape == (64, 174)
    assert float(w["b_U"].abs().max()) == 0.0  # the unembedding has no bias


def test_the_forward_pass_from_the_weights_is_the_model(shipped):
    model, w = shipped
    windows = aot.corpus(seed=2, n_tokens=4 * 32).reshape(4, 32)
    logits, patterns = aot.forward(w, windows)
    with torch.no_grad():
        theirs, cache = model.run_with_cache(windows)
    assert (logits - theirs).abs().max() < 1e-4
    assert (patterns - cache["blocks.0.attn.hook_pattern"]).abs().max() < 1e-5
    assert torch.allclose(patterns.sum(-1), torch.ones(4, 4, 32))


def test_a_bias_is_the_weight_of_a_coordinate_that_is_always_one():
    g = torch.Generator().manual_seed(0)
    x, W, b = torch.randn(5, 3, generator=g), torch.randn(3, 2), torch.randn(2)
    assert torch.allclose(aot.with_one(x) @ aot.fold_bias(W, b), x @ W + b, atol=1e-6)
    assert aot.with_one(x)[:, -1].eq(1).all()


def test_circuits_read_what_the_head_does(shipped):
    _, w = shipped
    tok = aot.tokenizer()
    a, b = tok.convert_tokens_to_ids(["6", "in"])
    # full OV row a: the head's output for a value read from token a alone, unembedded
    out = w["W_E"][a] @ w["W_V"][0] @ w["W_O"][0] @ w["W_U"]
    assert torch.allclose(aot.full_ov(w, 0)[a], out, atol=1e-4)
    # full QK: the score of query token "in" on key token "6", biases included
    q = w["W_E"][b] @ w["W_Q"][0] + w["b_Q"][0]
    k = w["W_E"][a] @ w["W_K"][0] + w["b_K"][0]
    assert torch.isclose(aot.full_qk(w, 0)[b, a], q @ k / 4, atol=1e-4)
    assert aot.ov_on_members(w, 0, tok).shape == (36, 36)


def test_bigram_statistics():
    stream = torch.tensor([0, 1, 2, 1, 2, 1, 3])
    logp = aot.bigram_log_probs(stream, 5)
    assert torch.allclose(logp[1].exp(), torch.tensor([0.0, 0.0, 2 / 3, 1 / 3, 0.0]))
    assert logp[4].isinf().all()  # never seen
    assert aot.bigram_loss(stream, 5) == pytest.approx(
        -(2 * torch.tensor(2 / 3).log() + torch.tensor(1 / 3).log()).item() / 6
    )
    table = torch.zeros(5, 5)
    table[1, 2] = table[2, 1] = table[0, 1] = 1.0
    table[3, 0] = 1.0  # row 3 is followed by nothing in the stream: not counted
    assert aot.top_next_is_seen(table, stream) == 1.0
    table[1, 2], table[1, 4] = 0.0, 1.0
    assert aot.top_next_is_seen(table, stream) == pytest.approx(2 / 3)


def test_token_kinds_cover_the_story():
    tok = aot.tokenizer()
    kinds = aot.token_kinds(tok)
    ids = aot.story_tokens(aot.STORY, tok)[0].tolist()
    assert [kinds[i] for i in ids[:7]] == [
        "<bos>",
        "word",
        "was",
        "verb",
        "in",
        "member",
        ".",
    ]
    assert kinds[tok.convert_tokens_to_ids("<pad>")] == "other"
    table = torch.arange(len(tok), dtype=torch.float)[:, None].expand(-1, len(tok))
    means = aot.by_kind(table, kinds)  # row means: the mean id of each kind
    assert means[aot.KINDS.index("<bos>"), 0] == 0.0


def test_training_is_deterministic_and_learns():
    short = train.TrainConfig(steps=20, loss_every=5)
    net_a, cfg, losses = train.train(short)
    net_b, _, _ = train.train(short)
    b_state = net_b.state_dict()
    for name, a in net_a.state_dict().items():
        assert torch.equal(a, b_state[name]), name
    assert cfg["n_heads"] == 4 and len(losses) == 4 and losses[-1] < losses[0]
