"""The hand-built networks: bias-free, minimal, exact on any real input."""

import pytest
import torch

from neuralcircuits.science import relu_circuits as rc

MINIMAL_HIDDEN = {
    "identity": [2],
    "negation": [2],
    "abs": [2],
    "add": [2],
    "subtract": [2],
    "greaterness": [],
    "min": [3],
    "max": [3],
    "min4": [6, 3],
}


@pytest.mark.parametrize("name", list(rc.HAND_BUILT))
def test_network_is_exact_bias_free_and_minimal(name):
    builder, exact = rc.HAND_BUILT[name]
    net = builder()
    assert isinstance(net, torch.nn.Module)
    assert all(
        layer.bias is None for layer in net if isinstance(layer, torch.nn.Linear)
    )
    assert rc.hidden_size(net) == MINIMAL_HIDDEN[name]
    generator = torch.Generator().manual_seed(0)
    for scale in (1e-3, 1.0, 1e3):
        x = (
            torch.randn(
                5000, rc.n_inputs(net), generator=generator, dtype=torch.float64
            )
            * scale
        )
        with torch.no_grad():
            got = net.double()(x)
        torch.testing.assert_close(got, exact(x), rtol=1e-12, atol=1e-12 * scale)


def test_public_builders_exist():
    for name in [
        "identity_net",
        "negation_net",
        "abs_net",
        "add_net",
        "subtract_net",
        "greaterness_net",
        "min_net",
        "max_net",
        "min4_net",
    ]:
        assert isinstance(getattr(rc, name)(), torch.nn.Module)


def test_family_of_optima_scales_in_and_out():
    for w in (0.1, 2.0, 9.0):
        net = rc.relu_net([[w], [-1 / w]], [[1 / w, -w]])
        x = torch.linspace(-5, 5, 101)[:, None]
        torch.testing.assert_close(net(x).detach(), x, atol=1e-5, rtol=1e-5)


def test_compose_merges_the_linear_layers_at_the_seam():
    inner, outer = rc.parallel(rc.min_net(), rc.min_net()), rc.min_net()
    composed = rc.compose(inner, outer)
    assert len(composed.weights) == len(inner.weights) + len(outer.weights) - 1
    x = torch.randn(100, 4)
    torch.testing.assert_close(composed(x), outer(inner(x)), atol=1e-5, rtol=1e-5)


def test_motif_table_reads_the_weights():
    table = rc.motif_table()
    assert table["identity"] == {
        "positiveness": True,
        "negativeness": True,
        "reconstructor": True,
        "greaterness": False,
    }
    assert not table["abs"]["reconstructor"]  # abs adds its detectors
    assert table["subtract"]["greaterness"] and table["min"]["greaterness"]
    assert table["greaterness"] == {
        "positiveness": False,
        "negativeness": False,
        "reconstructor": False,
        "greaterness": True,
    }


def test_no_two_unit_network_computes_min():
    # Lesson 02's ●●● exercise: rc.min_counterexample refutes any 2-unit network,
    # including ones that agree with min on half the plane.
    g = torch.Generator().manual_seed(0)
    nets = [
        (torch.tensor([[1.0, 0.0], [1.0, -1.0]]), torch.tensor([[1.0, -1.0]])),
        (torch.tensor([[1.0, -1.0], [-1.0, 1.0]]), torch.tensor([[-0.5, -0.5]])),
        (torch.zeros(2, 2), torch.zeros(1, 2)),
    ]
    nets += [
        (torch.randn(2, 2, generator=g), torch.randn(1, 2, generator=g))
        for _ in range(500)
    ]
    for W_in, W_out in nets:
        x = rc.min_counterexample(W_in, W_out)
        assert x.shape == (2,) and abs(float(x.norm()) - 1) < 1e-5
        assert abs(float(rc.two_unit_output(W_in, W_out, x) - x.min())) > 0.1
    # ... and the lesson's printed examples: x1 minus its greaterness is min where x1 >= 0
    x = torch.tensor([[0.5, -1.0], [2.0, 3.0]])
    W_in, W_out = nets[0]
    assert torch.allclose(rc.two_unit_output(W_in, W_out, x), x.min(dim=1).values)
