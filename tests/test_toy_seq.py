"""toy-seq: the shipped model's behaviour, its circuit, training, and loading errors."""

import shutil
import socket
import time

import pytest
import torch

from neuralcircuits.science import sequences as S
from neuralcircuits.science import toy_seq as ts
from neuralcircuits.science.toy_seq import train as tr


@pytest.fixture(scope="module")
def model():
    return ts.load()


@pytest.fixture(scope="module")
def held_out(model):
    return {
        (task, kind): ts.held_out_dataset(model.tokenizer, task, kind, "all", n=150)
        for task in S.TASKS
        for kind in S.KINDS
    }


def test_loads_offline_in_seconds(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    t0 = time.perf_counter()
    m = ts.load()
    assert (
        time.perf_counter() - t0 < 30
    )  # ~1 s once torch and TransformerLens are imported
    assert not m.training and m.cfg.model_name == "toy-seq"


def test_tokenizer_reads_the_papers_text(model):
    tok = model.tokenizer
    text = "Van was done in 1. Hat was done in 2. Ring was done in 3. Desk was done in 4. Sun was done in"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and tok.unk_token_id not in ids
    assert tok.convert_ids_to_tokens(ids)[1:8] == [
        "Van",
        "was",
        "done",
        "in",
        "1",
        ".",
        "Hat",
    ]
    words = [*S.NOUNS, *S.NAMES, *(m for t in S.TASKS for m in S.members(t))]
    assert (
        tok.unk_token_id
        not in tok(" ".join(words), add_special_tokens=False)["input_ids"]
    )
    assert len(set(words) | {"was", "in", ".", *S.VERBS}) + 3 == model.cfg.d_vocab


def test_held_out_prompts_are_held_out(model, held_out):
    d = held_out[("numerals", "clean")]
    assert len(d) == 150 and all(
        ts.held_out(w, t) for w, t in zip(d.words, d.templates, strict=True)
    )
    tokens, _ = tr.Batches(model.tokenizer, tr.TrainConfig()).sample(512, k=4)
    pools = {v: S.words_for(v) for v in S.VERBS}
    vocab = model.tokenizer.convert_ids_to_tokens
    for row in tokens[:200]:
        words, verb = vocab(row[[1, 25]].tolist()), vocab([int(row[3])])[0]
        assert not ts.held_out(words, verb)
        assert all(w in pools[verb] for w in words)


@pytest.mark.parametrize("task", S.TASKS)
def test_accuracy_on_held_out_clean_prompts(model, held_out, task):
    clean = held_out[(task, "clean")]
    assert S.accuracy(model, clean) >= 0.99
    assert S.filter_correct(model, clean).float().mean() >= 0.99


@pytest.mark.parametrize("task", S.TASKS)
def test_corrupted_prompts_give_the_successor_of_the_last_member(model, held_out, task):
    corrupted = held_out[(task, "corrupted")]
    assert S.predicts_successor_of_last(model, corrupted) >= 0.99
    # ... which is the clean prompt's incorrect answer, so the logit diff flips sign
    assert S.logit_diff(model(corrupted.tokens), corrupted) < 0


def _mean_ablate(model, clean, ref, heads):
    """Logit diff with ``heads`` (layer, head) replaced by their mean over ``ref``."""
    _, cache = model.run_with_cache(ref.tokens)
    hooks = []
    for layer, head in heads:
        mean = cache[f"blocks.{layer}.attn.hook_z"].mean(0)  # [pos, n_heads, d_head]

        def hook(z, hook, h=head, m=mean):
            z[:, :, h] = m[:, h]
            return z

        hooks.append((f"blocks.{layer}.attn.hook_z", hook))
    return S.logit_diff(
        model.run_with_hooks(clean.tokens, fwd_hooks=hooks), clean
    ).item()


@pytest.mark.parametrize("task", S.TASKS)
def test_mean_ablating_the_key_heads_destroys_the_behaviour(model, held_out, task):
    clean, ref = held_out[(task, "clean")], held_out[(task, "random")]
    full = S.logit_diff(model(clean.tokens), clean).item()
    assert full > 5
    assert _mean_ablate(model, clean, ref, ts.KEY_HEADS) < 0.2 * full
    others = [
        (layer, head)
        for layer in range(model.cfg.n_layers)
        for head in range(model.cfg.n_heads)
        if (layer, head) not in ts.KEY_HEADS
    ]
    assert _mean_ablate(model, clean, ref, others) > 0.8 * full


def test_a_short_training_run_learns(model):
    cfg = tr.TrainConfig(
        steps=80, batch_size=64, lr=3e-3, warmup=10, min_members=3, max_members=3
    )
    small = dict(
        tr.default_model_config(model.cfg.d_vocab), d_model=32, d_head=8, d_mlp=64
    )
    bridge, net, losses = tr.train(small, cfg, model.tokenizer, progress=False)
    start, end = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert start > 4 and end < 0.3 * start
    assert not bridge.training and bridge.cfg.d_model == 32


@pytest.fixture
def copy_dir(tmp_path):
    for name in (*ts.TOKENIZER_FILES, ts.CONFIG_FILE, ts.WEIGHTS_FILE):
        shutil.copy(ts.TOY_DIR / name, tmp_path / name)
    return tmp_path


def test_missing_weights_file(copy_dir):
    (copy_dir / ts.WEIGHTS_FILE).unlink()
    with pytest.raises(
        FileNotFoundError, match="weights file .* is missing.*make toy-model"
    ):
        ts.load(copy_dir)


def test_corrupt_weights_file(copy_dir):
    (copy_dir / ts.WEIGHTS_FILE).write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(ValueError, match="is not a valid safetensors file"):
        ts.load(copy_dir)


def test_weights_that_do_not_match_the_config(copy_dir):
    from safetensors.torch import load_file, save_file

    state = load_file(str(copy_dir / ts.WEIGHTS_FILE))
    state["tok_embed.weight"] = torch.zeros(3, 3)
    save_file(state, str(copy_dir / ts.WEIGHTS_FILE))
    with pytest.raises(ValueError, match="does not match config.json"):
        ts.load(copy_dir)
    del state["tok_embed.weight"]
    save_file(state, str(copy_dir / ts.WEIGHTS_FILE))
    with pytest.raises(ValueError, match="missing keys.*tok_embed.weight"):
        ts.load(copy_dir)
