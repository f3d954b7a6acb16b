"""Training the minimal shapes: batched seeds, motif matching, dead regions."""

import torch

from neuralcircuits.science import relu_circuits as rc
from neuralcircuits.science import relu_training as rt


def test_batched_training_equals_training_each_seed_alone():
    together = rt.train("identity", seeds=[0, 1, 2], steps=50, progress=False)
    alone = rt.train("identity", seeds=[2], steps=50, progress=False)
    torch.testing.assert_close(together.final[0][2], alone.final[0][0])


def test_manual_gradient_matches_autograd():
    w_in, w_out = (w[None] for w in rt.init_weights([2, 3, 1], seed=4))
    x = torch.rand(64, 2) * 2 - 1
    y = x.min(dim=1, keepdim=True).values
    a_in, a_out = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    ((rt._forward([a_in, a_out], x[None]) - y) ** 2).mean().backward()
    rt._sgd_step(w_in, w_out, x, y, lr=0.1)
    torch.testing.assert_close(w_in, a_in.detach() - 0.1 * a_in.grad)
    torch.testing.assert_close(w_out, a_out.detach() - 0.1 * a_out.grad)


def test_osier_seeds_for_abs():
    # Osier: seed 0 got stuck for abs; seed 1 learned hidden [1.061, -1.021],
    # output [0.943, 0.979]. PyTorch's default init from the same seeds.
    runs = rt.train("abs", seeds=[0, 1], progress=False)
    assert runs.outcomes == ["dead region", "found"]
    torch.testing.assert_close(
        runs.final[0][1, :, 0], torch.tensor([1.061, -1.021]), atol=2e-3, rtol=0
    )
    torch.testing.assert_close(
        runs.final[1][1, 0], torch.tensor([0.943, 0.979]), atol=2e-3, rtol=0
    )
    assert runs.test_mse[1] < 1e-10 and runs.test_mse[0] > 1e-2


def test_match_units_up_to_scale_and_order():
    reference = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]])
    learned = torch.tensor([[2.0, -2.0], [3.0, 0.0], [-0.5, 0.0]])
    assert rt.match_units(learned, reference) == [1, 2, 0]
    assert rt.match_units(-learned, reference) == [2, 1, None]


def test_unit_products_are_one_for_a_rescaled_construction():
    reference = rc.identity_net()
    rescaled = rc.relu_net([[4.0], [-0.25]], [[0.25, -4.0]])
    matches = rt.match_units(
        rescaled.weights[0].detach(), reference.weights[0].detach()
    )
    assert rt.unit_products(rescaled, reference, matches) == [1.0, 1.0]


def test_silent_inputs_and_dead_fraction():
    stuck = torch.tensor([[0.5], [2.0]])  # both positiveness detectors
    x = torch.tensor([[-1.0], [0.0], [1.0]])
    assert rt.silent_inputs(stuck, x).tolist() == [True, True, False]
    assert abs(rt.dead_fraction(stuck) - 0.5) < 0.03
    assert rt.dead_fraction(torch.tensor([[1.0], [-1.0]])) == 0.0


def test_sweep_sorts_outcomes_and_start_sides():
    runs = rt.sweep(["abs"], seeds=range(6), progress=False)
    counts = rt.outcome_counts(runs)["abs"]
    assert (
        sum(counts.values()) == 6
        and counts["found"] >= 1
        and counts["dead region"] >= 1
    )
    table = rt.start_side_table(runs)["abs"]
    assert sum(sum(row.values()) for row in table.values()) == 6


def test_every_run_that_fits_converges_on_the_hand_built_circuit():
    # Lesson 02's universality verdict: among 20 seeds, every run whose test MSE
    # is below 1e-6 matches the hand-built units (found); the others are dead regions.
    runs = rt.sweep(rt.OSIER_FUNCTIONS, seeds=range(20), progress=False)
    for run in runs.values():
        for mse, outcome in zip(run.test_mse.tolist(), run.outcomes, strict=True):
            assert (mse < rt.SUCCESS_MSE) == (outcome == "found")
            assert outcome in ("found", "dead region")
        assert 0 < run.outcomes.count("found") < 20
    assert rt.sign_changes(runs["abs"]) > 0  # weights do cross zero during training
