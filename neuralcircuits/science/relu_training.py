"""Does training find the hand-built ReLU circuits? Osier 2022's empirical check.

Bias-free Linear/ReLU stacks are trained from random initialisation on inputs
uniform in [-1, 1] with MSE and plain SGD (lr 0.1, batches of 1000), as in
Osier's experiment. Many seeds train at once: each seed's weights are one
slice of a batched tensor, so a 20-seed sweep costs about as much as one run.

Then the learned hidden units are matched to the hand-built motifs up to a
positive scale and their order, and the outcome of each run is named:

* ``found``: the network computes the function and its units are the motifs;
* ``dead region``: some inputs switch every hidden unit off, so the output
  there is stuck at 0 and no gradient flows from those inputs to fix it.
  A unit's weight can still change sign while the unit is active somewhere
  (lesson 02's sweep counts such crossings with `sign_changes`), but the
  silent inputs themselves send no gradient, so once the rest is fit nothing
  moves a unit back over them;
* ``other``: neither (for instance, still converging).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from neuralcircuits.science.relu_circuits import HAND_BUILT, ReLUNet, relu_net

# Osier's hidden sizes; min also has its mirror solution x2 - ReLU(x2 - x1).
SHAPES = {
    "identity": [1, 2, 1],
    "negation": [1, 2, 1],
    "abs": [1, 2, 1],
    "add": [2, 2, 1],
    "subtract": [2, 2, 1],
    "min": [2, 3, 1],
    "max": [2, 3, 1],
}
STEPS = {"min": 10_000, "max": 10_000}  # Osier trained min 20x longer
OSIER_FUNCTIONS = ["identity", "negation", "abs", "add", "subtract", "min"]
DEFAULT_STEPS = 500
SUCCESS_MSE = 1e-6


@dataclass
class TrainingRun:
    """Many seeds of one function trained together."""

    function: str
    seeds: list[int]
    initial: list[torch.Tensor]  # per layer: [n_seeds, out, in]
    final: list[torch.Tensor]  # per layer: [n_seeds, out, in]
    losses: (
        torch.Tensor
    )  # [n_records, n_seeds], training MSE every `record_every` steps
    test_mse: torch.Tensor  # [n_seeds]
    record_every: int = 10
    outcomes: list[str] = field(default_factory=list)

    def net(self, i: int) -> ReLUNet:
        """The trained network of the i-th seed."""
        return relu_net(*(w[i] for w in self.final))

    def initial_net(self, i: int) -> ReLUNet:
        """The i-th seed's network before training."""
        return relu_net(*(w[i] for w in self.initial))


def init_weights(sizes: list[int], seed: int) -> list[torch.Tensor]:
    """PyTorch's default Linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from one seed."""
    generator = torch.Generator().manual_seed(seed)
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = fan_in**-0.5
        weights.append(
            (torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound
        )
    return weights


def _forward(weights: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Batched over seeds: weights [S, out, in], x [S or 1, batch, in] -> [S, batch, out]."""
    h = x
    for i, w in enumerate(weights):
        h = torch.einsum("sbi,soi->sbo", h, w)
        if i < len(weights) - 1:
            h = torch.relu(h)
    return h


def _sgd_step(
    w_in: torch.Tensor, w_out: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lr: float
) -> torch.Tensor:
    """One SGD step on every seed's MSE, in place; return each seed's loss [S].

    Shapes: w_in [S, hidden, in], w_out [S, out, hidden], x [batch, in],
    y [batch, out]. The backward pass is written out (it is two matrix
    products) because autograd's bookkeeping costs more than the maths here.
    """
    h = torch.relu(torch.matmul(x, w_in.transpose(1, 2)))  # [S, batch, hidden]
    error = torch.matmul(h, w_out.transpose(1, 2)) - y  # [S, batch, out]
    loss = (error**2).mean(dim=(1, 2))
    d_out = error * (2.0 / error[0].numel())  # dLoss/d(output)
    d_hidden = torch.matmul(d_out, w_out) * (h > 0)  # [S, batch, hidden]
    w_out -= lr * torch.matmul(d_out.transpose(1, 2), h)
    w_in -= lr * torch.matmul(d_hidden.transpose(1, 2), x)
    return loss


def train(
    function: str,
    seeds: list[int] | range = range(20),
    steps: int | None = None,
    lr: float = 0.1,
    batch_size: int = 1000,
    data_seed: int = 0,
    progress: bool = True,
    hidden: int | None = None,
) -> TrainingRun:
    """Train the minimal bias-free shape for `function` from each seed; return every run.

    All seeds see the same batches (drawn from `data_seed`), so runs differ
    only in where their weights started. ``hidden`` widens the hidden layer
    beyond the minimal shape (the runs' outcomes then compare with the
    hand-built units only: see ``circuit_kind``).
    """
    sizes = SHAPES[function]
    if hidden is not None:
        sizes = [sizes[0], hidden, *sizes[2:]]
    target = HAND_BUILT[function][1]
    steps = steps or STEPS.get(function, DEFAULT_STEPS)
    seeds = list(seeds)
    initial = [
        torch.stack(ws)
        for ws in zip(*(init_weights(sizes, s) for s in seeds), strict=True)
    ]
    w_in, w_out = (w.clone() for w in initial)
    data = torch.Generator().manual_seed(data_seed)
    record_every = 10
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: extra threads only add overhead
    try:
        for step in tqdm(
            range(steps), desc=f"training {function}", disable=not progress, leave=False
        ):
            x = torch.rand(batch_size, sizes[0], generator=data) * 2 - 1  # [batch, in]
            loss = _sgd_step(w_in, w_out, x, target(x), lr)
            if step % record_every == 0:
                losses.append(loss)
    finally:
        torch.set_num_threads(threads)
    final = [w_in, w_out]
    test_x = (
        torch.rand(1000, sizes[0], generator=torch.Generator().manual_seed(12345)) * 2
        - 1
    )
    test_mse = ((_forward(final, test_x[None]) - target(test_x)[None]) ** 2).mean(
        dim=(1, 2)
    )
    run = TrainingRun(
        function, seeds, initial, final, torch.stack(losses), test_mse, record_every
    )
    run.outcomes = [classify(run, i) for i in range(len(seeds))]
    return run


def reference_units(function: str) -> list[torch.Tensor]:
    """The hand-built first-layer weights for `function`, and any mirror solution."""
    w_in = HAND_BUILT[function][0]().weights[0].detach()
    if function in ("min", "max"):
        return [w_in, w_in.flip(1)]  # swap x1 and x2: the mirror construction
    return [w_in]


def match_units(
    learned: torch.Tensor, reference: torch.Tensor, min_cosine: float = 0.99
) -> list[int | None]:
    """For each reference unit (row), the index of the learned unit pointing its way, or None.

    Units are rows of first-layer weight matrices [hidden, n_inputs]; a match
    is a positive multiple (cosine similarity above `min_cosine`), so scale and
    order do not matter. Each learned unit is used at most once.
    """
    learned_dirs = torch.nn.functional.normalize(learned.float(), dim=1)
    reference_dirs = torch.nn.functional.normalize(reference.float(), dim=1)
    cosines = reference_dirs @ learned_dirs.T  # [n_reference, n_learned]
    matches: list[int | None] = []
    used: set[int] = set()
    for row in cosines:
        order = [int(j) for j in row.argsort(descending=True) if int(j) not in used]
        best = order[0] if order else None
        if best is not None and row[best] > min_cosine:
            matches.append(best)
            used.add(best)
        else:
            matches.append(None)
    return matches


def unit_products(
    net: ReLUNet, reference_net: ReLUNet, matches: list[int | None]
) -> list[float | None]:
    """For each matched unit: (learned in-scale x out-weight) / (hand-built), ideally 1.

    A unit scaled by w on the way in needs 1/w on the way out: this is the
    family of optima (w, 1/w) that all compute the same function.
    """
    w_in, w_out = net.weights[0].detach(), net.weights[1].detach()
    r_in, r_out = reference_net.weights[0].detach(), reference_net.weights[1].detach()
    products: list[float | None] = []
    for i, j in enumerate(matches):
        if j is None:
            products.append(None)
            continue
        scale = w_in[j].norm() / r_in[i].norm()
        products.append(float(scale * w_out[0, j] / r_out[0, i]))
    return products


def unit_directions(
    w_in: torch.Tensor, w_out: torch.Tensor, min_share: float = 0.01
) -> list[torch.Tensor]:
    """The directions a trained network's hidden units detect, units pointing the same way merged.

    A unit counts when its in-weight's length times its out-weight is at
    least ``min_share`` of the largest such product: a unit that barely
    reaches the output is not part of the circuit. Directions are unit
    vectors; two units count as one when their cosine is above 0.99.
    """
    weight = w_in.norm(dim=1) * w_out[0].abs()  # [hidden]
    keep = weight >= min_share * weight.max()
    directions: list[torch.Tensor] = []
    for unit in torch.nn.functional.normalize(w_in[keep].float(), dim=1):
        if not any(float(unit @ d) > 0.99 for d in directions):
            directions.append(unit)
    return directions


def circuit_kind(run: TrainingRun, i: int) -> str:
    """Which circuit the i-th seed computes its function with, when it fits it.

    "hand-built" when its units point exactly the hand-built units' ways (a
    unit split into several along one direction counts once), "mirror" for
    min's and max's mirror construction, "other" for a different exact
    circuit, "no fit" when the test MSE is not below ``SUCCESS_MSE``.
    """
    if run.test_mse[i] >= SUCCESS_MSE:
        return "no fit"
    found = unit_directions(run.final[0][i], run.final[1][i])
    kinds = ("hand-built", "mirror")
    for kind, ref in zip(kinds, reference_units(run.function), strict=False):
        wanted = torch.nn.functional.normalize(ref, dim=1)
        if len(found) == len(wanted) and all(
            max(float(d @ w) for d in found) > 0.99 for w in wanted
        ):
            return kind
    return "other"


def silent_inputs(w_in: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """[batch] bool: inputs at which every hidden unit of a bias-free layer is off."""
    return (x @ w_in.T <= 0).all(dim=1)


def dead_fraction(w_in: torch.Tensor, n_samples: int = 4000) -> float:
    """The share of the input cube [-1, 1]^n where every hidden unit is off."""
    x = (
        torch.rand(n_samples, w_in.shape[1], generator=torch.Generator().manual_seed(1))
        * 2
        - 1
    )
    return float(silent_inputs(w_in, x).float().mean())


def classify(run: TrainingRun, i: int) -> str:
    """Name the outcome of the i-th seed: "found", "dead region" or "other"."""
    w_in = run.final[0][i]
    if run.test_mse[i] < SUCCESS_MSE and any(
        None not in match_units(w_in, ref) for ref in reference_units(run.function)
    ):
        return "found"
    if dead_fraction(w_in) > 0.01:
        return "dead region"
    return "other"


def sweep(
    functions: list[str] | None = None, seeds: range = range(20), progress: bool = True
) -> dict[str, TrainingRun]:
    """Train every function from every seed; return {function: its runs}."""
    functions = functions or OSIER_FUNCTIONS
    return {
        f: train(f, seeds, progress=progress)
        for f in tqdm(functions, desc="sweep", disable=not progress)
    }


def outcome_counts(runs: dict[str, TrainingRun]) -> dict[str, dict[str, int]]:
    """{function: {"found": n, "dead region": n, "other": n}}."""
    names = ("found", "dead region", "other")
    return {f: {n: run.outcomes.count(n) for n in names} for f, run in runs.items()}


def start_sides(run: TrainingRun) -> list[str]:
    """For 1-input runs: "same side" if both hidden weights started with one sign, else "opposite"."""
    if run.initial[0].shape[-1] != 1:
        raise ValueError(
            f"{run.function} has more than one input; start sides are for 1-D nets"
        )
    signs = torch.sign(run.initial[0][:, :, 0])  # [n_seeds, hidden]
    return ["same side" if bool((row == row[0]).all()) else "opposite" for row in signs]


def sign_changes(run: TrainingRun) -> int:
    """How many first-layer weights ended with the other sign than they started with."""
    return int((torch.sign(run.initial[0]) != torch.sign(run.final[0])).sum())


def start_side_table(
    runs: dict[str, TrainingRun],
) -> dict[str, dict[str, dict[str, int]]]:
    """{function: {start side: {outcome: seeds}}} for the 1-input functions of a sweep."""
    table = {}
    for name, run in runs.items():
        if run.initial[0].shape[-1] != 1:
            continue
        rows: dict[str, dict[str, int]] = {}
        for side, outcome in zip(start_sides(run), run.outcomes, strict=True):
            row = rows.setdefault(side, {"found": 0, "dead region": 0, "other": 0})
            row[outcome] += 1
        table[name] = rows
    return table
