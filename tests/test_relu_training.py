"""Training the minimal shapes: batched seeds, motif matching, dead regions."""

import pytest
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


@pytest.fixture(scope="module")
def runs():
    """Lesson 02's 20-seed sweep."""
    return rt.sweep(rt.OSIER_FUNCTIONS, seeds=range(20), progress=False)


def test_every_run_that_fits_converges_on_the_hand_built_circuit(runs):
    # Lesson 02's minimal-width verdict: among 20 seeds, every run whose test MSE
    # is below 1e-6 matches the hand-built units (found); the others are dead regions.
    for run in runs.values():
        for mse, outcome in zip(run.test_mse.tolist(), run.outcomes, strict=True):
            assert (mse < rt.SUCCESS_MSE) == (outcome == "found")
            assert outcome in ("found", "dead region")
        assert 0 < run.outcomes.count("found") < 20
    assert rt.sign_changes(runs["abs"]) > 0  # weights do cross zero during training


# -- the facts lesson 02's prose states, pinned ------------------------------------
def test_seed_0_of_abs_ends_with_an_effectively_dead_unit():
    # "a weight of -0.007 ... pushed through zero, to +0.004 ... an out-weight
    # of -0.536 ... about -0.002 x there, a five-hundredth of the other unit's x"
    run = rt.train("abs", seeds=[0], progress=False)
    start, end = run.initial[0][0, :, 0], run.final[0][0, :, 0]
    out = run.final[1][0, 0]
    assert round(float(start[0]), 3) == -0.007 and round(float(end[0]), 3) == 0.004
    assert round(float(out[0]), 3) == -0.536
    dead, alive = float(end[0] * out[0]), float(end[1] * out[1])
    assert round(dead, 3) == -0.002 and 400 < alive / abs(dead) < 600
    assert run.outcomes == ["dead region"]


def _bend_and_pairs(run, i):
    """Whether the i-th run has a unit along ±(1, -1), and its opposite pairs off that line."""
    directions = torch.stack(rt.unit_directions(run.final[0][i], run.final[1][i]))
    bend = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]) / 2**0.5
    on_bend = (directions @ bend.T).abs().max(1).values > 0.99
    cos = directions @ directions.T
    pairs = [
        directions[a]
        for a in range(len(directions))
        for b in range(a + 1, len(directions))
        if cos[a, b] < -0.99 and not on_bend[a]
    ]
    return bool(on_bend.any()), pairs


def test_wider_min_networks_find_other_exact_circuits(runs):
    # Lesson 02, "Wider networks": the table and the sentences under it.
    narrow = [rt.circuit_kind(runs["min"], i) for i in range(20)]
    assert narrow.count("other") == 0
    assert narrow.count("hand-built") + narrow.count("mirror") == 20 - narrow.count(
        "no fit"
    )
    wide = rt.train("min", seeds=range(10), hidden=5, progress=False)
    kinds = [rt.circuit_kind(wide, i) for i in range(10)]
    assert 10 - kinds.count("no fit") == 8
    assert (kinds.count("hand-built"), kinds.count("mirror"), kinds.count("other")) == (
        1,
        3,
        4,
    )
    pair_directions = []
    for i, kind in enumerate(kinds):
        if kind == "no fit":
            continue
        on_bend, pairs = _bend_and_pairs(wide, i)
        assert on_bend, f"seed {i}: every exact run has a greaterness detector"
        if kind == "other":
            assert len(pairs) == 1, f"seed {i}: a pair of opposite units"
            pair_directions.append(pairs[0])
    # each along a direction of its own
    for a in range(len(pair_directions)):
        for b in range(a + 1, len(pair_directions)):
            assert abs(float(pair_directions[a] @ pair_directions[b])) < 0.99


def _one_run(function, w_in, w_out, mse=0.0):
    final = [torch.tensor([w_in]), torch.tensor([w_out])]
    return rt.TrainingRun(
        function, [0], final, final, torch.zeros(1, 1), torch.tensor([mse])
    )


def test_circuit_kind_reads_unit_directions_not_unit_counts():
    # the hand-built min with its x1 detector split in two: still the hand-built circuit
    split = _one_run(
        "min",
        [[2.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]],
        [[0.25, 0.5, -1.0, -1.0]],
    )
    assert rt.circuit_kind(split, 0) == "hand-built"
    mirror = _one_run(
        "min", [[0.0, 1.0], [0.0, -1.0], [-1.0, 1.0]], [[1.0, -1.0, -1.0]]
    )
    assert rt.circuit_kind(mirror, 0) == "mirror"
    # (x1 + x2) / 2 - |x1 - x2| / 2: another exact circuit for min
    symmetric = _one_run(
        "min",
        [[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]],
        [[0.5, -0.5, -0.5, -0.5]],
    )
    assert rt.circuit_kind(symmetric, 0) == "other"
    assert (
        rt.circuit_kind(_one_run("min", [[1.0, 0.0]], [[1.0]], mse=0.1), 0) == "no fit"
    )
    # a unit that barely reaches the output is not part of the circuit
    faint = _one_run(
        "min",
        [[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0], [0.0, 1.0]],
        [[1.0, -1.0, -1.0, 0.001]],
    )
    assert len(rt.unit_directions(faint.final[0][0], faint.final[1][0])) == 3
