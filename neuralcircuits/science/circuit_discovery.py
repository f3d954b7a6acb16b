"""Circuit discovery by iterative node pruning, circuit faithfulness and overlap.

The method of Lan, Torr & Barez, "Towards Interpretable Sequence Continuation:
Analyzing Shared Circuits in Large Language Models" (arXiv 2311.04131; public
code apartresearch/seqcont_circuits, ``src/iter_node_pruning``):

- a *component* is an attention head or an MLP; a *circuit* is a set of them;
- a circuit's *performance* is the logit difference of the model with every
  component **outside** the circuit mean-ablated, as a share of the full
  model's logit difference;
- the means come from a reference set of prompts with random, non-sequential
  members, taken per template group and per position;
- pruning starts from the whole model and visits every component backward
  (layer by layer from the last, the MLP before the heads) and then forward
  (heads before the MLP), removing a component for good when the circuit
  without it still keeps at least ``threshold`` (0.8) of the full model's
  logit difference; it repeats until a pass removes nothing.

The ablated runs themselves (the means, and the logit difference with
components mean-ablated, on the fast path or through hooks) come from
``ablation``; its setup and functions are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from neuralcircuits.science import disk_cache
from neuralcircuits.science.ablation import AblationSetup as AblationSetup
from neuralcircuits.science.ablation import CircuitAblation, setup_data
from neuralcircuits.science.ablation import ablated_logit_diffs as ablated_logit_diffs
from neuralcircuits.science.ablation import ablation_setup as ablation_setup
from neuralcircuits.science.ablation import hooked_logit_diffs as hooked_logit_diffs
from neuralcircuits.science.patching import Component

# The circuits the paper found in GPT-2 small at threshold 0.8
# (results/*_circuit_thres_0.8.json of apartresearch/seqcont_circuits).
PAPER_CIRCUITS: dict[str, dict[str, list]] = {
    "numerals": {
        "heads": [
            "0.1",
            "1.5",
            "4.4",
            "4.10",
            "5.0",
            "6.1",
            "6.6",
            "6.10",
            "7.11",
            "8.1",
            "8.6",
            "8.8",
            "8.9",
            "9.1",
        ],
        "mlps": [L for L in range(12) if L != 5],
    },
    "number_words": {
        "heads": [
            "0.1",
            "1.5",
            "4.4",
            "4.10",
            "5.8",
            "6.1",
            "6.6",
            "6.10",
            "7.2",
            "7.6",
            "7.11",
            "8.1",
            "8.6",
            "8.8",
            "8.9",
            "8.11",
            "9.1",
            "9.5",
            "9.7",
        ],
        "mlps": list(range(12)),
    },
    "months": {
        "heads": [
            "0.1",
            "0.5",
            "4.4",
            "6.1",
            "6.6",
            "6.10",
            "7.6",
            "7.9",
            "7.10",
            "7.11",
            "8.8",
            "9.1",
            "10.7",
        ],
        "mlps": [L for L in range(12) if L not in (5, 11)],
    },
}
# Circuit / full logit difference the paper reports (months: not recorded).
PAPER_PERFORMANCE = {"numerals": 0.810, "number_words": 0.811, "months": None}


def paper_circuit(task: str) -> list[Component]:
    """The paper's GPT-2 small circuit of a task as Components."""
    spec = PAPER_CIRCUITS[task]
    comps = [Component.parse(h) for h in spec["heads"]]
    comps += [Component("mlp", L) for L in spec["mlps"]]
    return sort_components(comps)


def component_key(comp: Any) -> tuple[int, int, int]:
    """Sort key: by layer, heads (by index) before the layer's MLP."""
    c = Component.parse(comp)
    return (c.layer, 0 if c.kind == "head" else 1, c.head or 0)


def sort_components(comps: Iterable[Any]) -> list[Component]:
    """Components as Components, without repeats, in model order."""
    return sorted({Component.parse(c) for c in comps}, key=component_key)


def all_components(model: Any) -> list[Component]:
    """Every head and (unless the model is attention-only) every MLP, in model order."""
    cfg = model.cfg
    comps = [
        Component("head", L, h) for L in range(cfg.n_layers) for h in range(cfg.n_heads)
    ]
    if not getattr(cfg, "attn_only", False):
        comps += [Component("mlp", L) for L in range(cfg.n_layers)]
    return sort_components(comps)


def format_circuit(circuit: Iterable[Any]) -> str:
    """A circuit as the paper's table writes it: "heads 0.1, 9.1; MLPs 0, 9"."""
    comps = sort_components(circuit)
    heads = [str(c) for c in comps if c.kind == "head"]
    mlps = [str(c.layer) for c in comps if c.kind == "mlp"]
    return f"heads {', '.join(heads) or '-'}; MLPs {', '.join(mlps) or '-'}"


def complement(model: Any, circuit: Iterable[Any]) -> list[Component]:
    """Every component of the model that is not in the circuit."""
    keep = set(sort_components(circuit))
    return [c for c in all_components(model) if c not in keep]


def circuit_performance(
    model: Any, setup: AblationSetup, circuit: Iterable[Any]
) -> float:
    """Faithfulness: the circuit alone (all else mean-ablated) as a share of the full logit diff."""
    value = ablated_logit_diffs(model, setup, [complement(model, circuit)])[0]
    return float(value) / setup.full


def knockout_performance(
    model: Any, setup: AblationSetup, circuit: Iterable[Any]
) -> float:
    """The model with the circuit mean-ablated, as a share of the full logit diff."""
    value = ablated_logit_diffs(model, setup, [sort_components(circuit)])[0]
    return float(value) / setup.full


@dataclass
class KnockoutComparison:
    """A circuit's knockout beside knockouts of random component sets of the same size."""

    knockout: (
        float  # the model with the circuit mean-ablated, share of the full logit diff
    )
    random: list[float]  # the same for each random set
    random_sets: list[list[Component]]

    @property
    def random_mean(self) -> float:
        """Mean share kept over the random sets."""
        return float(torch.tensor(self.random).mean())

    @property
    def random_std(self) -> float:
        """Standard deviation of the share kept over the random sets."""
        return float(torch.tensor(self.random).std())

    @property
    def margin(self) -> float:
        """How much more the random sets keep, on average, than the circuit's knockout."""
        return self.random_mean - self.knockout

    def __str__(self) -> str:
        return (
            f"knockout keeps {self.knockout:.1%}; {len(self.random)} random sets of the "
            f"same size keep {self.random_mean:.1%} +- {self.random_std:.1%}"
        )


def random_component_sets(
    model: Any, size: int, n_draws: int = 20, seed: int = 0
) -> list[list[Component]]:
    """``n_draws`` random sets of ``size`` distinct components of the model (seeded)."""
    comps = all_components(model)
    if not 0 <= size <= len(comps):
        raise ValueError(f"cannot draw {size} of the model's {len(comps)} components")
    g = torch.Generator().manual_seed(seed)
    return [
        sort_components(
            comps[i] for i in torch.randperm(len(comps), generator=g)[:size]
        )
        for _ in range(n_draws)
    ]


def knockout_comparison(
    model: Any,
    setup: AblationSetup,
    circuit: Iterable[Any],
    n_draws: int = 20,
    seed: int = 0,
) -> KnockoutComparison:
    """Knock out the circuit, and ``n_draws`` random component sets of its size.

    A low knockout says little on its own (knocking out *any* large set, or any
    set holding one vital component, may do as much); the random sets say what
    knocking out that many components does by chance. Random sets are drawn
    from every component, so some may overlap the circuit.
    """
    circuit = sort_components(circuit)
    sets = random_component_sets(model, len(circuit), n_draws, seed)
    values = ablated_logit_diffs(model, setup, [circuit, *sets]) / setup.full
    return KnockoutComparison(float(values[0]), [float(v) for v in values[1:]], sets)


def single_ablation_scores(
    model: Any, setup: AblationSetup, cache: bool = True
) -> dict[Component, float]:
    """Each component mean-ablated alone, as a share of the full logit diff (kept on disk with ``cache``)."""

    def compute() -> dict[Component, float]:
        comps = all_components(model)
        values = ablated_logit_diffs(model, setup, [[c] for c in comps])
        return {c: float(v) / setup.full for c, v in zip(comps, values, strict=True)}

    if not cache:
        return compute()
    return disk_cache.cached("single-ablation", model, setup_data(setup), {}, compute)


# ---------------------------------------------------------------------------
# Iterative node pruning
# ---------------------------------------------------------------------------
@dataclass
class PruneStep:
    """One visit of the pruning: the candidate circuit without ``component`` and its score."""

    round: int
    direction: str  # "backward" | "forward"
    component: Component
    performance: float  # candidate circuit / full
    removed: bool


@dataclass
class PruneResult:
    """The circuit pruning kept, its performance and every step taken."""

    circuit: list[Component]
    performance: float
    threshold: float
    steps: list[PruneStep] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{format_circuit(self.circuit)} ({self.performance:.1%} of the full logit diff)"


def _visit_order(model: Any, direction: str) -> list[Component]:
    cfg = model.cfg
    order = []
    layers = (
        range(cfg.n_layers - 1, -1, -1)
        if direction == "backward"
        else range(cfg.n_layers)
    )
    has_mlp = not getattr(cfg, "attn_only", False)
    for L in layers:
        heads = [Component("head", L, h) for h in range(cfg.n_heads)]
        mlp = [Component("mlp", L)] if has_mlp else []
        order += mlp + heads if direction == "backward" else heads + mlp
    return order


def prune_circuit(
    model: Any,
    setup: AblationSetup,
    threshold: float = 0.8,
    max_rounds: int = 10,
    progress: bool = True,
    desc: str = "pruning",
    cache: bool = True,
) -> PruneResult:
    """The paper's iterative node pruning: drop a component while the rest keeps >= threshold.

    Candidates are scored by ``ablation.CircuitAblation`` (on the fast path a
    candidate, the circuit without one component of layer L, starts from the
    current circuit's residual stream at L). Each pass shows a
    progress bar over the components it will visit. With ``cache`` the
    result is kept on disk (``disk_cache``), keyed by the model's weights,
    the setup's prompts and means, and the science package's code.
    """
    args = {"threshold": threshold, "max_rounds": max_rounds}

    def compute() -> PruneResult:
        return _prune(model, setup, threshold, max_rounds, progress, desc)

    if not cache:
        return compute()
    return disk_cache.cached("prune", model, setup_data(setup), args, compute)


def _prune(model, setup, threshold, max_rounds, progress, desc) -> PruneResult:
    runs = CircuitAblation(model, setup, all_components(model))
    steps: list[PruneStep] = []
    for rnd in range(1, max_rounds + 1):
        changed = False
        for direction in ("backward", "forward"):
            order = [c for c in _visit_order(model, direction) if c in runs.circuit]
            bar = tqdm(
                order,
                desc=f"{desc}: round {rnd} {direction}",
                disable=not progress,
                leave=False,
            )
            for comp in bar:
                if comp not in runs.circuit:
                    continue
                value = runs.logit_diff_without(comp) / setup.full
                removed = value >= threshold
                steps.append(PruneStep(rnd, direction, comp, value, removed))
                if removed:
                    runs.remove(comp)
                    changed = True
            bar.close()
        if not changed:
            break
    kept_circuit = sort_components(runs.circuit)
    return PruneResult(
        kept_circuit, circuit_performance(model, setup, kept_circuit), threshold, steps
    )


# ---------------------------------------------------------------------------
# Overlap
# ---------------------------------------------------------------------------
def shared_components(
    circuit_a: Iterable[Any], circuit_b: Iterable[Any]
) -> list[Component]:
    """The components in both circuits, once each, in model order."""
    b = set(sort_components(circuit_b))
    return [c for c in sort_components(circuit_a) if c in b]


def circuit_overlap(circuits: dict[str, Iterable[Any]]) -> list[Component]:
    """The components every circuit contains, in model order."""
    sets = [set(sort_components(c)) for c in circuits.values()]
    common = set.intersection(*sets) if sets else set()
    return sort_components(common)


def overlap_matrix(circuits: dict[str, Iterable[Any]]) -> torch.Tensor:
    """Shared components of each pair of circuits  # [n_circuits, n_circuits] long."""
    names = list(circuits)
    out = torch.zeros(len(names), len(names), dtype=torch.long)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            out[i, j] = len(shared_components(circuits[a], circuits[b]))
    return out


def membership_table(
    circuits: dict[str, Iterable[Any]],
) -> list[tuple[Component, list[bool]]]:
    """Every component in any circuit, with whether each circuit holds it."""
    sets = {name: set(sort_components(c)) for name, c in circuits.items()}
    union = sort_components(set().union(*sets.values()))
    return [(c, [c in s for s in sets.values()]) for c in union]


def visit_order(model: Any, direction: str) -> list[Component]:
    """The pruning's order of visits: "backward" (last layer first, MLP before heads) or "forward"."""
    return _visit_order(model, direction)


PROGRESS_COMPONENTS = 50  # a pruning pass over this many components shows a bar


def iterative_prune(
    visit_order: Callable[[str], list[Component]],
    performance: Callable[[set], float],
    threshold: float = 0.8,
    progress: bool | None = None,
) -> set:
    """The pruning loop alone, for any model: what ``prune_circuit`` does, as lesson 04's exercise writes it.

    ``visit_order(direction)`` lists the components to visit ("backward",
    then "forward"); ``performance(circuit)`` is the share of the full
    model's score the circuit keeps alone. Returns the circuit kept. Each
    pass shows a progress bar when it visits ``PROGRESS_COMPONENTS`` or more
    (GPT-2 small's 156; ``progress`` forces it on or off).
    """
    circuit = set(visit_order("backward"))
    rnd = 0
    while True:
        changed = False
        rnd += 1
        for direction in ("backward", "forward"):
            order = visit_order(direction)
            show = (
                progress if progress is not None else len(order) >= PROGRESS_COMPONENTS
            )
            for comp in tqdm(
                order,
                desc=f"the loop: round {rnd} {direction}",
                disable=not show,
                leave=False,
            ):
                if comp in circuit and performance(circuit - {comp}) >= threshold:
                    circuit.remove(comp)
                    changed = True
        if not changed:
            return circuit
