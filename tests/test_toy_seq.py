"""toy-seq: the shipped model's behaviour, its circuit, training, and loading errors."""

import shutil
import socket
import time

import pytest
import torch

from neuralcircuits.science import circuit_discovery as cd
from neuralcircuits.science import head_roles as roles
from neuralcircuits.science import sequences as S
from neuralcircuits.science import toy_seq as ts
from neuralcircuits.science.patching import Component
from neuralcircuits.science.toy_seq import train as tr


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
    separate = ts.load("toy-seq-separate")
    assert separate.cfg.model_name == "toy-seq-separate" and separate.cfg.n_heads == 2
    with pytest.raises(ValueError, match="toy-seq-separate"):
        ts.load("toy-seq-mixed")


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
    tokens, _ = tr.Batches(model.tokenizer, tr.RECIPES["toy-seq"][0]).sample(512, k=4)
    pools = {v: S.words_for(v) for v in S.VERBS}
    vocab = model.tokenizer.convert_ids_to_tokens
    for row in tokens[:200]:
        words, verb = vocab(row[[1, 25]].tolist()), vocab([int(row[3])])[0]
        assert not ts.held_out(words, verb)
        assert all(w in pools[verb] for w in words)


@pytest.mark.parametrize("task", S.TASKS)
def test_accuracy_on_held_out_clean_prompts(model, held_out, task):
    clean = held_out[(task, "clean")]
    assert S.accuracy(model, clean) == 1.0
    assert S.filter_correct(model, clean).float().mean() >= 0.99


@pytest.mark.parametrize("task", S.TASKS)
def test_corrupted_prompts_give_the_successor_of_the_last_member(model, held_out, task):
    corrupted = held_out[(task, "corrupted")]
    assert S.predicts_successor_of_last(model, corrupted) >= 0.99
    # ... which is the clean prompt's incorrect answer, so the logit diff flips sign
    assert S.logit_diff(model(corrupted.tokens), corrupted) < 0


@pytest.fixture(scope="module")
def setups(model, held_out):
    return {
        t: cd.ablation_setup(model, held_out[(t, "clean")], held_out[(t, "random")])
        for t in S.TASKS
    }


@pytest.fixture(scope="module")
def circuits(model, setups):
    return {t: cd.prune_circuit(model, s, progress=False) for t, s in setups.items()}


def test_mixed_stories_answer_in_the_first_members_format(model):
    """Half of toy-seq's stories mix formats; every answer takes the first member's."""
    batches = tr.Batches(model.tokenizer, tr.RECIPES["toy-seq"][0])
    tokens, target = batches.sample(2000, k=4)
    member_pos = torch.tensor([1 + 6 * j + 4 for j in range(4)])
    fmt = {int(t): f for f, row in enumerate(batches.members) for t in row}
    value = {int(t): v for row in batches.members for v, t in enumerate(row)}
    shown = tokens[:, member_pos]
    formats = torch.tensor([[fmt[int(t)] for t in row] for row in shown])
    mixed = (formats != formats[:, :1]).any(1).float().mean()
    # half the stories are drawn mixed; 1 in 27 of those agree by chance: 0.48
    assert 0.45 < mixed < 0.52
    for row, answer in zip(shown, target, strict=True):
        assert fmt[int(answer)] == fmt[int(row[0])]
        assert value[int(answer)] == value[int(row[-1])] + 1
    separate = tr.Batches(model.tokenizer, tr.RECIPES["toy-seq-separate"][0])
    tokens, _ = separate.sample(500, k=4)
    formats = torch.tensor(
        [[fmt[int(t)] for t in row] for row in tokens[:, member_pos]]
    )
    assert (formats == formats[:, :1]).all()


def test_training_is_deterministic(model):
    cfg = tr.TrainConfig(steps=6, batch_size=16, warmup=2, p_mixed=0.5)
    small = dict(tr.default_model_config(model.cfg.d_vocab, 2, 2), d_mlp=32)
    runs = [tr.train(small, cfg, model.tokenizer, progress=False)[1] for _ in range(2)]
    for (name, a), b in zip(
        runs[0].state_dict().items(), runs[1].state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_layer_0_heads_attend_uniformly(model, held_out):
    """Layer 0's queries and keys are zero: no layer-0 head can pick out the last member."""
    cfg = ts.read_config()["training"]
    assert cfg["uniform_layers"] == [0]
    assert model.W_Q[0].abs().max() == 0 and model.W_K[0].abs().max() == 0
    tokens = held_out[("numerals", "clean")].tokens[:4]
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: "pattern" in n)
    pattern = cache["blocks.0.attn.hook_pattern"]  # [batch, head, query, key]
    n = tokens.shape[1]
    want = torch.tril(torch.ones(n, n)) / torch.arange(1, n + 1)[:, None]
    assert torch.allclose(pattern, want.expand_as(pattern), atol=1e-6)


def test_a_successor_head_above_layer_0(model, held_out):
    layer, head = ts.SUCCESSOR_HEAD
    assert layer >= 1
    for task in ("numerals", "number_words"):
        inputs = roles.ov_inputs(
            model, [held_out[(task, "clean")], held_out[(task, "random")]]
        )
        scores = roles.ov_successor_scores(
            model, inputs, S.member_token_ids(model.tokenizer, task)
        )
        assert scores[layer, head] >= 0.8, task
        among = roles.ov_successor_scores(
            model, inputs, S.member_token_ids(model.tokenizer, task), among_members=True
        )
        assert among[layer, head] >= 0.8 and among[layer, head] == among.max(), task
    # it reads the last member: all of its attention from the final position
    att = roles.attention_to_members(model, held_out[("numerals", "clean")])
    assert att[layer, head, -1] > 0.95


@pytest.fixture(scope="module")
def single(model, setups):
    return {t: cd.single_ablation_scores(model, s) for t, s in setups.items()}


def test_a_head_above_layer_0_matters_in_every_task(model, single):
    costly = [
        c
        for c in cd.all_components(model)
        if c.kind == "head"
        and c.layer >= 1
        and all(single[t][c] <= 0.8 for t in S.TASKS)
    ]
    assert costly


def test_the_successor_head_is_the_head_that_matters_most(model, setups, single):
    head = Component("head", *ts.SUCCESSOR_HEAD)
    heads = [c for c in cd.all_components(model) if c.kind == "head"]
    for task, setup in setups.items():
        assert setup.full > 5
        assert min(heads, key=lambda c: single[task][c]) == head, task
    # what the docstring states: it costs more than 70% of every task
    assert all(single[t][head] < 0.3 for t in S.TASKS)


def test_circuits_overlap_without_being_identical(model, circuits):
    found = {t: tuple(r.circuit) for t, r in circuits.items()}
    assert len(set(found.values())) > 1, "the three circuits should not be identical"
    head = Component("head", *ts.SUCCESSOR_HEAD)
    assert all(head in c for c in found.values())
    assert {t: cd.format_circuit(c) for t, c in found.items()} == ts.CIRCUITS


def test_each_circuit_is_faithful_and_its_knockout_is_special(model, setups, circuits):
    for task, result in circuits.items():
        assert result.performance >= 0.8, task
        comparison = cd.knockout_comparison(
            model, setups[task], result.circuit, n_draws=20
        )
        assert comparison.knockout <= 0.2, task
        assert comparison.margin >= 0.3, (task, str(comparison))


def test_a_short_training_run_learns(model):
    cfg = tr.TrainConfig(
        steps=80, batch_size=64, lr=3e-3, warmup=10, min_members=3, max_members=3
    )
    small = dict(
        tr.default_model_config(model.cfg.d_vocab, n_layers=3),
        d_model=32,
        d_head=8,
        d_mlp=64,
    )
    bridge, _, losses = tr.train(small, cfg, model.tokenizer, progress=False)
    start, end = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert start > 4 and end < 0.3 * start
    assert not bridge.training and bridge.cfg.d_model == 32


@pytest.fixture
def copy_dir(tmp_path):
    for name in ts.TOKENIZER_FILES:
        shutil.copy(ts.TOY_DIR / name, tmp_path / name)
    for name in (ts.CONFIG_FILE, ts.WEIGHTS_FILE):
        shutil.copy(ts.MODEL_DIRS["toy-seq"] / name, tmp_path / name)
    return tmp_path


def test_missing_weights_file(copy_dir):
    (copy_dir / ts.WEIGHTS_FILE).unlink()
    with pytest.raises(
        FileNotFoundError, match=r"weights file .* is missing.*make toy-model"
    ):
        ts.load(directory=copy_dir)


def test_corrupt_weights_file(copy_dir):
    (copy_dir / ts.WEIGHTS_FILE).write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(ValueError, match="is not a valid safetensors file"):
        ts.load(directory=copy_dir)


def test_weights_that_do_not_match_the_config(copy_dir):
    from safetensors.torch import load_file, save_file

    state = load_file(str(copy_dir / ts.WEIGHTS_FILE))
    state["tok_embed.weight"] = torch.zeros(3, 3)
    save_file(state, str(copy_dir / ts.WEIGHTS_FILE))
    with pytest.raises(ValueError, match=r"does not match config\.json"):
        ts.load(directory=copy_dir)
    del state["tok_embed.weight"]
    save_file(state, str(copy_dir / ts.WEIGHTS_FILE))
    with pytest.raises(ValueError, match=r"missing keys.*tok_embed\.weight"):
        ts.load(directory=copy_dir)
