"""What the components of a sequence-continuation circuit do.

Three readings, each written for any TransformerBridge (toy-seq or GPT-2):

- **attention to members**: from the final position, how much each head
  attends to each of the four members shown (the last member is slot 3);
- **OV successor scores** (Gould et al. 2023, "Successor Heads", arXiv
  2312.09230; used by Lan, Torr & Barez, arXiv 2311.04131): feed each member,
  as the head reads it, through the head's OV circuit (``W_V W_O``), the
  final LayerNorm and the unembedding, and count how often the member's
  successor is among the top 5 tokens. A head of layer L reads ``ln1`` of
  the residual stream entering layer L: for layer 0 that is the embedding
  (token plus position); for a later layer it is, as in the paper, the
  member's *effective embedding*, the residual stream after block 0, passed
  through that layer's ``ln1`` (``ov_inputs``);
- **MLP neurons**: each neuron's mean activation at the final position, by
  task and by the last member shown, split into what depends on the member
  (shared across tasks), on the task, and on both; and which member each
  neuron's output pushes up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from neuralcircuits.science import sequences
from neuralcircuits.science.final_position import final_position_run
from neuralcircuits.science.hooks import hook_name, run_until, store_hook
from neuralcircuits.science.members import N_VALUES
from neuralcircuits.science.patching import Component

# The paper's OV successor scores in GPT-2 small (top-5 successor hits).
PAPER_OV_SCORES = {
    "head 9.1": {"numerals": 0.874, "number_words": 0.906, "months": 0.3125},
    "mean of 144 heads": {"numerals": 0.033, "number_words": 0.030, "months": 0.002},
}


# ---------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------
@torch.no_grad()
def final_attention(model: Any, dataset: sequences.SequenceDataset) -> torch.Tensor:
    """Mean attention from the final position to every position  # [n_layers, n_heads, pos].

    Read from the clean run the other final-position readings share
    (``final_position.final_position_run``): the attention table, the
    carriers and the strongest carrier cost one pass together.
    """
    return final_position_run(model, dataset.tokens).attention.clone()


@torch.no_grad()
def attention_to_members(
    model: Any, dataset: sequences.SequenceDataset
) -> torch.Tensor:
    """Mean attention from the final position to each shown member  # [n_layers, n_heads, 4]."""
    att = final_attention(model, dataset)  # [L, H, pos]
    slots = dataset.member_pos[0]  # member positions are the same in every row
    if not (dataset.member_pos == slots).all():
        raise ValueError("the prompts put their members at different positions")
    return att[:, :, slots]


def attention_to_last(model: Any, data: dict[str, Any]) -> torch.Tensor:
    """Attention from the final position to the last member, averaged over the tasks  # [n_layers, n_heads].

    ``data`` maps each task to its TaskData (clean prompts are read).
    """
    return torch.stack(
        [attention_to_members(model, data[t].clean)[..., -1] for t in sequences.TASKS]
    ).mean(0)


def carriers(model: Any, data: dict[str, Any]) -> list[Component]:
    """The heads that carry the last member: attention to it at least half the strongest head's."""
    att = attention_to_last(model, data)
    return [
        Component("head", L, h) for L, h in (att >= 0.5 * att.max()).nonzero().tolist()
    ]


def strongest_carrier(model: Any, data: dict[str, Any]) -> Component:
    """The head with the most attention from the final position to the last member."""
    att = attention_to_last(model, data)
    L, h = divmod(int(att.flatten().argmax()), model.cfg.n_heads)
    return Component("head", L, h)


def top_heads(scores: torch.Tensor, k: int = 3) -> list[tuple[str, float]]:
    """The k largest entries of a [n_layers, n_heads] table as ("L.H", value)."""
    flat = scores.flatten()
    n_heads = scores.shape[1]
    idx = flat.argsort(descending=True)[:k]
    return [(f"{int(i) // n_heads}.{int(i) % n_heads}", float(flat[i])) for i in idx]


# ---------------------------------------------------------------------------
# OV successor scores
# ---------------------------------------------------------------------------
@torch.no_grad()
def member_residuals(
    model: Any, datasets: list[sequences.SequenceDataset], layer: int = 0
) -> torch.Tensor:
    """Residual stream after block ``layer`` at each member, averaged over contexts  # [12, d_model].

    Rows of members never shown in ``datasets`` are NaN.
    """
    name = hook_name("resid_post", layer)
    total = torch.zeros(N_VALUES, model.cfg.d_model)
    count = torch.zeros(N_VALUES)
    for ds in datasets:
        store: dict[str, torch.Tensor] = {}
        run_until(model, ds.tokens, [(name, store_hook(store, "x", stop=True))])
        resid = store["x"].float()  # [batch, pos, d_model]; the pass stopped there
        at = resid.gather(1, ds.member_pos[..., None].expand(-1, -1, resid.shape[-1]))
        total.index_add_(0, ds.member_ids.flatten(), at.flatten(0, 1))
        count.index_add_(0, ds.member_ids.flatten(), torch.ones(ds.member_ids.numel()))
    out = total / count[:, None]
    out[count == 0] = float("nan")
    return out


@torch.no_grad()
def ov_inputs(model: Any, datasets: list[sequences.SequenceDataset]) -> torch.Tensor:
    """Each member as the heads of each layer read it, averaged over contexts  # [n_layers, 12, d_model].

    Row ``L`` is ``blocks[L].ln1`` applied, at every occurrence of the member in
    ``datasets``, to the embedding (``L = 0``: ``hook_resid_pre`` of block 0)
    or to the effective embedding (``L >= 1``: ``hook_resid_post`` of block 0),
    then averaged per member. Members never shown are NaN rows.
    """
    names = [hook_name("resid_pre", 0), hook_name("resid_post", 0)]
    n_layers, d = model.cfg.n_layers, model.cfg.d_model
    total = torch.zeros(n_layers, N_VALUES, d)
    count = torch.zeros(N_VALUES)
    for ds in datasets:
        cache: dict[str, torch.Tensor] = {}
        hooks = [(n, store_hook(cache, n, stop=n == names[1])) for n in names]
        run_until(model, ds.tokens, hooks)  # block 0 is all it reads
        ids = ds.member_ids.flatten()
        count.index_add_(0, ids, torch.ones(ids.numel()))
        at = {}
        for name in names:
            resid = cache[name]  # [batch, pos, d_model]
            at[name] = resid.gather(
                1, ds.member_pos[..., None].expand(-1, -1, resid.shape[-1])
            ).flatten(0, 1)  # [batch * 4, d_model]
        for L in range(n_layers):
            x = at[names[0] if L == 0 else names[1]]
            total[L].index_add_(0, ids, model.blocks[L].ln1(x).float())
    out = total / count[:, None]
    out[:, count == 0] = float("nan")
    return out


def readout(model: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """The final LayerNorm and the unembedding, as one function of [..., d_model]."""

    def read(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.unembed(model.ln_final(x)).float()

    return read


def ov_successor_score(
    resid: torch.Tensor,
    W_V: torch.Tensor,
    W_O: torch.Tensor,
    read: Callable[[torch.Tensor], torch.Tensor],
    successor_ids: torch.Tensor,
    k: int = 5,
) -> float:
    """Share of members whose OV output (read out to logits) ranks the successor in the top k.

    ``resid`` [n, d_model] holds one member per row, ``W_V`` [d_model, d_head],
    ``W_O`` [d_head, d_model], ``successor_ids`` [n] the token id of each
    member's successor.
    """
    logits = read(resid @ W_V @ W_O)  # [n, d_vocab]
    top = logits.topk(k, dim=-1).indices  # [n, k]
    return (top == successor_ids[:, None]).any(-1).float().mean().item()


def _layer_inputs(model: Any, inputs: torch.Tensor, layer: int) -> torch.Tensor:
    """Row block of ``inputs`` for one layer: [n_layers, 12, d] per layer, or [12, d] for all."""
    if inputs.dim() == 3:
        if inputs.shape[0] != model.cfg.n_layers:
            raise ValueError(
                f"inputs has {inputs.shape[0]} layers, the model {model.cfg.n_layers}"
            )
        return inputs[layer]
    return inputs


@torch.no_grad()
def ov_successor_scores(
    model: Any,
    inputs: torch.Tensor,
    member_ids: torch.Tensor,
    k: int = 5,
    among_members: bool = False,
) -> torch.Tensor:
    """OV successor score of every head for one task  # [n_layers, n_heads].

    ``inputs`` [n_layers, 12, d_model] from ``ov_inputs`` (each layer's heads
    read their own row block); a single [12, d_model] block is fed to every
    head as it is. ``member_ids`` [12] the task's member token ids. Members
    1..11 are scored (12 has no successor). The paper's score counts the
    successor in the top ``k`` of the whole vocabulary; ``among_members``
    asks instead whether the successor is the top one of the task's 12
    members (chance: 1 in 12), which a head that writes "some member of this
    task" cannot pass.
    """
    read = readout(model)
    if among_members:
        full, k = read, 1

        def read(x: torch.Tensor) -> torch.Tensor:
            return full(x)[:, member_ids]

    W_V, W_O = (
        model.W_V.float(),
        model.W_O.float(),
    )  # [L, H, d_model, d_head], [L, H, d_head, d_model]
    out = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for L in range(model.cfg.n_layers):
        rows = _layer_inputs(model, inputs, L)[:11]
        keep = ~rows.isnan().any(-1)
        succ = (torch.arange(1, N_VALUES) if among_members else member_ids[1:N_VALUES])[
            keep
        ]
        x = rows[keep]
        for h in range(model.cfg.n_heads):
            out[L, h] = ov_successor_score(x, W_V[L, h], W_O[L, h], read, succ, k)
    return out


@torch.no_grad()
def ov_top_tokens(
    model: Any, layer: int, head: int, resid: torch.Tensor, k: int = 1
) -> torch.Tensor:
    """The top-k tokens a head's OV circuit writes for each member row  # [12, k] (-1 if unseen).

    ``resid`` is ``ov_inputs``' [n_layers, 12, d_model] (the head's own layer
    is used) or one [12, d_model] block.
    """
    resid = _layer_inputs(model, resid, layer)
    read = readout(model)
    out = torch.full((resid.shape[0], k), -1, dtype=torch.long)
    keep = ~resid.isnan().any(-1)
    logits = read(
        resid[keep] @ model.W_V[layer, head].float() @ model.W_O[layer, head].float()
    )
    out[keep] = logits.topk(k, dim=-1).indices
    return out


# ---------------------------------------------------------------------------
# MLP neurons
# ---------------------------------------------------------------------------
@torch.no_grad()
def neuron_profiles(
    model: Any, datasets: dict[str, list[sequences.SequenceDataset]], layer: int
) -> torch.Tensor:
    """Mean activation of each neuron of MLP ``layer`` at the final position,
    by task and last member shown  # [n_tasks, 12, d_mlp] (NaN where unseen).
    """
    tasks = list(datasets)
    d_mlp = model.cfg.d_mlp
    total = torch.zeros(len(tasks), N_VALUES, d_mlp)
    count = torch.zeros(len(tasks), N_VALUES)
    for t, task in enumerate(tasks):
        for ds in datasets[task]:
            act = final_mlp_post(model, ds.tokens)[layer].float()  # [batch, d_mlp]
            last = ds.member_ids[:, -1]
            total[t].index_add_(0, last, act)
            count[t].index_add_(0, last, torch.ones(len(last)))
    out = total / count[..., None]
    out[count == 0] = float("nan")
    return out


@torch.no_grad()
def final_mlp_post(model: Any, tokens: torch.Tensor) -> list[torch.Tensor]:
    """Every MLP's neuron activations at the final position  # per layer [batch, d_mlp].

    Read from the clean run the other final-position readings share
    (``final_position.final_position_run``), made once per weights and
    tokens: asking for one layer after another costs one pass.
    """
    post = final_position_run(model, tokens).mlp_post
    if post is None:
        raise ValueError("the model has no MLP neurons")
    return post


@dataclass
class NeuronReport:
    """One neuron: how its activation splits, and what it reads and writes."""

    layer: int
    neuron: int
    spread: float  # std of its activation profile over (task, member)
    member_share: (
        float  # variance explained by the member alone, the same in every task
    )
    task_share: float  # variance explained by the task alone
    mixed_share: float  # the rest: member and task together
    kind: str  # "member" | "task" | "mixed"
    top_member: int  # 0-based member index that activates it most (averaged over tasks)
    boosted_member: (
        int  # 0-based member index its output pushes up most (averaged over tasks)
    )

    @property
    def successor_like(self) -> bool:
        """True when the member that fires it is followed by the member it promotes."""
        return self.boosted_member == self.top_member + 1


def decompose_profiles(
    profiles: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two-way split of [tasks, members, neurons] profiles: (member, task, mixed) variance shares."""
    seen = ~profiles.isnan().any(0).any(-1)  # members seen in every task
    p = profiles[:, seen]  # [T, M, N]
    grand = p.mean((0, 1))
    task_eff = p.mean(1) - grand  # [T, N]
    member_eff = p.mean(0) - grand  # [M, N]
    mixed = p - grand - task_eff[:, None] - member_eff[None]
    ss_task = (task_eff**2).sum(0) * p.shape[1]
    ss_member = (member_eff**2).sum(0) * p.shape[0]
    ss_mixed = (mixed**2).sum((0, 1))
    total = (ss_task + ss_member + ss_mixed).clamp_min(1e-12)
    return ss_member / total, ss_task / total, ss_mixed / total


@torch.no_grad()
def neuron_output_members(
    model: Any, layer: int, member_ids: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Direct effect of each neuron's output on each member's logit, averaged over tasks
    # [12, d_mlp] (the unembedding of W_out, centred over the task's members).
    """
    W_out = (
        model.blocks[layer].mlp.W_out
        if hasattr(model.blocks[layer].mlp, "W_out")
        else None
    )
    if W_out is None:
        W_out = model.W_out[layer]
    W_out = W_out.float()  # [d_mlp, d_model]
    W_U = model.W_U.float()  # [d_model, d_vocab]
    effects = []
    for ids in member_ids.values():
        e = W_out @ W_U[:, ids]  # [d_mlp, 12]
        effects.append(e - e.mean(1, keepdim=True))
    return torch.stack(effects).mean(0).T  # [12, d_mlp]


def neuron_reports(
    model: Any,
    profiles: torch.Tensor,
    layer: int,
    member_ids: dict[str, torch.Tensor],
    k: int = 8,
) -> list[NeuronReport]:
    """The k neurons whose activation varies most over tasks and members, described."""
    member_share, task_share, mixed_share = decompose_profiles(profiles)
    seen = ~profiles.isnan().any(0).any(-1)
    p = profiles[:, seen]
    spread = p.flatten(0, 1).std(0)  # [N]
    members_seen = seen.nonzero().flatten()
    out_eff = neuron_output_members(model, layer, member_ids)  # [12, N]
    reports = []
    for n in spread.argsort(descending=True)[:k].tolist():
        shares = {
            "member": member_share[n],
            "task": task_share[n],
            "mixed": mixed_share[n],
        }
        reports.append(
            NeuronReport(
                layer=layer,
                neuron=n,
                spread=float(spread[n]),
                member_share=float(member_share[n]),
                task_share=float(task_share[n]),
                mixed_share=float(mixed_share[n]),
                kind=max(shares, key=lambda s: float(shares[s])),
                top_member=int(members_seen[p[:, :, n].mean(0).argmax()]),
                boosted_member=int(out_eff[:, n].argmax()),
            )
        )
    return reports


def describe_member(index: int) -> str:
    """A member index as its three forms: "4 / four / April"."""
    return " / ".join(sequences.members(t)[index] for t in sequences.TASKS)
