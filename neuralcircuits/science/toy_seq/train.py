"""Train toy-seq from its fixed seed: ``python -m neuralcircuits.science.toy_seq.train``.

Writes the tokenizer files, config.json and model.safetensors into the
package folder (or ``--out DIR``), shows a progress bar, and prints the final
per-task accuracy. ``make toy-model`` runs exactly this.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from neuralcircuits.science import sequences
from neuralcircuits.science import toy_seq as ts
from neuralcircuits.science.hooks import hook_name, mean_ablation_hook


def default_model_config(d_vocab: int, n_layers: int = 4, n_heads: int = 2) -> dict:
    """The shipped architecture (see the toy_seq docstring for why)."""
    return dict(
        d_model=64,
        d_head=64 // n_heads,
        n_heads=n_heads,
        n_layers=n_layers,
        n_ctx=48,
        d_mlp=256,
        d_vocab=d_vocab,
        act_fn="gelu",
        normalization_type="LN",
        attn_only=False,
        positional_embedding_type="standard",
    )


@dataclass
class TrainConfig:
    """How toy-seq is trained."""

    seed: int = 0
    steps: int = 600
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup: int = 100
    min_members: int = 3  # stories show 3..6 members, so the last one moves
    max_members: int = 6
    p_random: float = 0.3  # share of stories with random members (target: last + 1)
    # Share of stories whose members each take a random format; the answer is
    # in the FIRST member's format, so value must be read from the last member
    # and format from elsewhere (0 for toy-seq-separate: one format per story).
    p_mixed: float = 0.0
    head_l1: float = 0.0  # group-lasso weight on each head's output norm
    # Layers whose queries and keys stay zero: their heads attend uniformly to
    # the prefix (a bag of tokens), so no head of layer 0 can pick out the last
    # member and the mover has to live above it.
    uniform_layers: tuple[int, ...] = (0,)


class Batches:
    """Random training stories as token ids, straight from the word-level vocabulary.

    Each story has k sentences with members and one open sentence; the target
    is the successor of the last member shown. A share ``p_random`` of stories
    have random members instead of a run, so only the last member predicts the
    answer. (first word, last word) pairs that ``toy_seq.held_out`` reserves
    never appear.
    """

    def __init__(self, tokenizer: Any, cfg: TrainConfig):
        vocab = tokenizer.get_vocab()
        self.cfg = cfg
        self.bos = tokenizer.bos_token_id
        self.was, self.in_, self.dot = vocab["was"], vocab["in"], vocab["."]
        self.verbs = torch.tensor([vocab[v] for v in sequences.VERBS])
        self.members = torch.stack(
            [
                torch.tensor([vocab[m] for m in sequences.members(t)])
                for t in sequences.TASKS
            ]
        )  # [3 tasks, 12]
        self.pools = [
            torch.tensor([vocab[w] for w in sequences.words_for(v)])
            for v in sequences.VERBS
        ]
        self.gen = torch.Generator().manual_seed(cfg.seed)

    def sample(
        self, batch: int, k: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens [batch', 1 + 6k + 4], targets [batch']) with held-out rows dropped."""
        g, cfg = self.gen, self.cfg
        if k is None:
            k = int(
                torch.randint(cfg.min_members, cfg.max_members + 1, (1,), generator=g)
            )
        verb = torch.randint(0, 3, (batch,), generator=g)
        task = torch.randint(0, 3, (batch,), generator=g)
        # k + 1 distinct words per row from the verb's pool
        widx = torch.zeros(batch, k + 1, dtype=torch.long)
        words = torch.zeros(batch, k + 1, dtype=torch.long)
        for v, pool in enumerate(self.pools):
            rows = verb == v
            perm = torch.rand(int(rows.sum()), len(pool), generator=g).argsort(-1)[
                :, : k + 1
            ]
            widx[rows], words[rows] = perm, pool[perm]
        keep = (widx[:, 0] + 3 * widx[:, -1]) % 10 != 0  # toy_seq.held_out
        # members: a run starting at s (answer s + k <= 11) or random (last <= 10)
        start = (torch.rand(batch, generator=g) * (12 - k)).long()
        run = start[:, None] + torch.arange(k)
        rand = torch.randint(0, 12, (batch, k), generator=g)
        rand[:, -1] = torch.randint(0, 11, (batch,), generator=g)
        is_rand = torch.rand(batch, generator=g) < cfg.p_random
        seq = torch.where(is_rand[:, None], rand, run)  # [batch, k]
        # each member's format: the story's task, or (mixed stories) a random one
        # per member; the answer takes the first member's format
        fmt = task[:, None].expand(-1, k).clone()
        if cfg.p_mixed > 0:  # no draw otherwise: one-format training stays as it was
            is_mixed = torch.rand(batch, generator=g) < cfg.p_mixed
            fmt[is_mixed] = torch.randint(0, 3, (int(is_mixed.sum()), k), generator=g)
        target = self.members[fmt[:, 0], seq[:, -1] + 1]
        member_tok = self.members[fmt, seq]  # [batch, k]
        vb = self.verbs[verb]
        cols = [torch.full((batch,), self.bos)]
        for j in range(k):
            cols += [words[:, j], torch.full((batch,), self.was), vb]
            cols += [
                torch.full((batch,), self.in_),
                member_tok[:, j],
                torch.full((batch,), self.dot),
            ]
        cols += [
            words[:, k],
            torch.full((batch,), self.was),
            vb,
            torch.full((batch,), self.in_),
        ]
        tokens = torch.stack(cols, dim=1)
        return tokens[keep], target[keep]


def train(
    model_cfg: dict | None = None,
    cfg: TrainConfig | None = None,
    tokenizer: Any = None,
    progress: bool = True,
    name: str = "toy-seq",
) -> tuple[Any, torch.nn.Module, list[float]]:
    """Train toy-seq from scratch; returns (bridge in eval mode, native module, losses)."""
    cfg = cfg or TrainConfig()
    if tokenizer is None:
        tokenizer = ts.load_tokenizer(ts.TOY_DIR)
    model_cfg = model_cfg or default_model_config(len(tokenizer))
    torch.manual_seed(cfg.seed)
    net = ts.build_native(model_cfg, seed=cfg.seed)
    freeze_uniform_attention(net, cfg.uniform_layers)
    net.train()
    data = Batches(tokenizer, cfg)
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    decay = [p for n, p in trainable if p.dim() >= 2]
    no_decay = [p for n, p in trainable if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0},
        ],
        lr=cfg.lr,
        betas=(0.9, 0.98),
    )

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return 0.5 * (1 + math.cos(math.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    losses: list[float] = []
    bar = tqdm(range(cfg.steps), desc=f"training {name}", disable=not progress)
    threads = torch.get_num_threads()
    # One thread: as fast as two for a model this small, much faster on a busy
    # machine, and the same arithmetic everywhere.
    torch.set_num_threads(1)
    try:
        _train_loop(net, data, opt, sched, cfg, bar, losses)
    finally:
        torch.set_num_threads(threads)
    net.eval()
    return ts.to_bridge(net, model_cfg, tokenizer, name), net, losses


def freeze_uniform_attention(net: torch.nn.Module, layers: tuple[int, ...]) -> None:
    """Zero and freeze the query and key weights of ``layers``: uniform causal attention."""
    for L in layers:
        for name in ("q", "k"):  # each a Linear: its weight and bias
            for param in net.get_submodule(f"layers.{L}.attn.{name}").parameters():
                with torch.no_grad():
                    param.zero_()
                param.requires_grad_(False)


def _train_loop(net, data, opt, sched, cfg, bar, losses) -> None:
    zs: list[torch.Tensor] = []
    if cfg.head_l1 > 0:
        for block in (
            net.layers
        ):  # capture z, the input of each W_O: [batch, pos, heads * d_head]
            block.attn.o.register_forward_pre_hook(lambda mod, args: zs.append(args[0]))
    for step in bar:
        zs.clear()
        tokens, target = data.sample(cfg.batch_size)
        logits = net(tokens)[:, -1, :]  # [batch, d_vocab]
        loss = F.cross_entropy(logits, target)
        if zs:
            n_heads = net.cfg.n_heads
            # mean over batch and position of each head's |z|, summed over heads
            norms = [
                z.unflatten(-1, (n_heads, -1)).norm(dim=-1).mean((0, 1)).sum()
                for z in zs
            ]
            penalty = cfg.head_l1 * torch.stack(norms).sum()
        else:
            penalty = torch.zeros(())
        opt.zero_grad(set_to_none=True)
        (loss + penalty).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.4f}")


@torch.no_grad()
def evaluate(model: Any, n: int = 480, seed: int = 1) -> dict[str, dict[str, float]]:
    """Per task: held-out clean top-1 accuracy, the paper's filter pass rate, and
    how often a corrupted prompt's top-1 is the successor of its last member.
    """
    out = {}
    for task in sequences.TASKS:
        clean = ts.held_out_dataset(model.tokenizer, task, "clean", "all", n, seed)
        corrupted = ts.held_out_dataset(
            model.tokenizer, task, "corrupted", "all", n, seed
        )
        logits = sequences.last_logits(model, clean.tokens)
        out[task] = {
            "clean_top1": sequences.accuracy(model, clean),
            "filter_pass": sequences.filter_correct(model, clean).float().mean().item(),
            "logit_diff": sequences.logit_diff(logits, clean).item(),
            "corrupted_successor_of_last": sequences.predicts_successor_of_last(
                model, corrupted
            ),
            "corrupted_logit_diff": sequences.logit_diff(
                sequences.last_logits(model, corrupted.tokens), corrupted
            ).item(),
        }
    return out


# The two shipped models: the same architecture family, trained on different
# data. Only what the data shows differs by design (see the toy_seq docstring).
RECIPES: dict[str, tuple[TrainConfig, int, int]] = {  # name: (training, layers, heads)
    "toy-seq": (TrainConfig(steps=1000, p_mixed=0.5), 4, 4),
    "toy-seq-separate": (TrainConfig(), 4, 2),
}


def train_recipe(name: str, out: Path | None = None) -> dict:
    """Train one shipped model from its recipe and write its folder; returns its config."""
    cfg, n_layers, n_heads = RECIPES[name]
    out = ts.MODEL_DIRS[name] if out is None else out
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = ts.load_tokenizer(ts.TOY_DIR)
    model_cfg = default_model_config(len(tokenizer), n_layers, n_heads)
    t0 = time.perf_counter()
    model, net, losses = train(model_cfg, cfg, tokenizer, progress=False, name=name)
    train_s = time.perf_counter() - t0
    ts.save_weights(net, out)
    # No wall-clock time in the shipped file: retraining must reproduce it exactly.
    config = {
        "model": model_cfg,
        "training": asdict(cfg),
        "final_loss": sum(losses[-50:]) / 50,
        "held_out_figures": evaluate(model),
    }
    (out / ts.CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    print(f"{name}: trained in {train_s:.0f} s; final loss {config['final_loss']:.2e}")
    return config


def _train_in_child(name: str, out: Path | None) -> dict:
    torch.set_num_threads(1)
    return train_recipe(name, out)


def print_figures(name: str, figures: dict[str, dict[str, float]]) -> None:
    """The held-out figures ``evaluate`` measured, one row per task."""
    print(f"{name}:")
    print(
        f"  {'task':<14}{'clean top-1':>12}{'filter':>8}{'logit diff':>12}"
        f"{'corrupted→last+1':>18}"
    )
    for task, f in figures.items():
        print(
            f"  {task:<14}{f['clean_top1']:>12.1%}{f['filter_pass']:>8.1%}"
            f"{f['logit_diff']:>12.2f}{f['corrupted_successor_of_last']:>18.1%}"
        )


def main(argv: list[str] | None = None) -> None:
    """Command line: retrain the toy models from their recipes, two at a time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", choices=[*RECIPES, "all"], default="all", help="which to train"
    )
    parser.add_argument(
        "--out", type=Path, help="another folder for one model's files (not 'all')"
    )
    args = parser.parse_args(argv)
    if args.out is not None and args.model == "all":
        parser.error("--out needs --model NAME")
    names = list(RECIPES) if args.model == "all" else [args.model]
    t0 = time.perf_counter()
    ts.build_tokenizer(ts.TOY_DIR)
    print(f"training {', '.join(names)} (one process each, one thread each) ...")
    # Each model trains in its own process on one thread: two cores, two models,
    # and the same arithmetic whichever runs beside it.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(len(names), 2)) as pool:
        configs = pool.starmap(_train_in_child, [(n, args.out) for n in names])
    for name, config in zip(names, configs, strict=True):
        print_figures(name, config["held_out_figures"])
    print(f"wrote {', '.join(str(args.out or ts.MODEL_DIRS[n]) for n in names)}")
    print(f"all done in {time.perf_counter() - t0:.0f} s")


@torch.no_grad()
def ablation_table(
    model: Any, n: int = 96, seed: int = 1
) -> dict[str, dict[str, float]]:
    """Mean-ablate each head (and each MLP, and all of a layer's heads) in turn.

    Per task and template: held-out clean prompts, the matching random-member
    prompts as the reference (the paper's recipe: means per template and
    position). Returns, per task, 100 * ablated / clean logit difference for
    each component, named "L.H", "MLP L" and "L.*".
    """
    cfg = model.cfg
    out: dict[str, dict[str, float]] = {}
    for task in sequences.TASKS:
        totals: dict[str, list[float]] = {}
        base = 0.0
        for template in sequences.TEMPLATES:
            clean = ts.held_out_dataset(
                model.tokenizer, task, "clean", template, n, seed
            )
            ref = ts.held_out_dataset(
                model.tokenizer, task, "random", template, n, seed
            )
            _, cache = model.run_with_cache(ref.tokens)
            base += sequences.logit_diff(model(clean.tokens), clean).item()
            comps: dict[str, list[tuple[str, Any]]] = {}
            for layer in range(cfg.n_layers):
                z_name = hook_name("z", layer)
                z_mean = cache[z_name].mean(0)  # [pos, n_heads, d_head]
                for h in range(cfg.n_heads):
                    comps[f"{layer}.{h}"] = [
                        (z_name, mean_ablation_hook([(h, z_mean[:, h])]))
                    ]
                comps[f"{layer}.*"] = [(z_name, mean_ablation_hook([(None, z_mean)]))]
                mlp_name = hook_name("mlp_out", layer)
                if mlp_name in cache:
                    mlp_mean = cache[mlp_name].mean(0)  # [pos, d_model]
                    comps[f"MLP {layer}"] = [
                        (mlp_name, mean_ablation_hook([(None, mlp_mean)]))
                    ]
            for name, hooks in comps.items():
                logits = model.run_with_hooks(clean.tokens, fwd_hooks=hooks)
                totals.setdefault(name, []).append(
                    sequences.logit_diff(logits, clean).item()
                )
        out[task] = {name: 100 * sum(v) / base for name, v in totals.items()}
    return out


def print_ablation(table: dict[str, dict[str, float]]) -> None:
    """Print ``ablation_table`` as one row per component, one column per task."""
    tasks = list(table)
    print(f"{'component':<10}" + "".join(f"{t:>14}" for t in tasks))
    for name in table[tasks[0]]:
        print(f"{name:<10}" + "".join(f"{table[t][name]:>13.1f}%" for t in tasks))


@torch.no_grad()
def circuit_report(
    model: Any, n: int = 150, seed: int = 1, n_draws: int = 20
) -> dict[str, Any]:
    """What the toy_seq docstring's table records, measured on held-out prompts.

    Per task, on ``n`` held-out clean prompts with the matching random-member
    prompts as the mean-ablation reference (means per template and position):
    each component's single mean ablation (share of the logit difference
    kept), each head's OV successor score (``head_roles.ov_inputs``), the
    paper's circuit (iterative pruning at 0.8), what it keeps alone, and its
    knockout beside ``n_draws`` random same-size knockouts.
    """
    from neuralcircuits.science import circuit_discovery as cd
    from neuralcircuits.science import head_roles as roles

    out: dict[str, Any] = {"single": {}, "ov": {}, "circuit": {}, "knockout": {}}
    for task in sequences.TASKS:
        clean = ts.held_out_dataset(model.tokenizer, task, "clean", "all", n, seed)
        ref = ts.held_out_dataset(model.tokenizer, task, "random", "all", n, seed)
        setup = cd.ablation_setup(model, clean, ref)
        out["single"][task] = cd.single_ablation_scores(model, setup)
        inputs = roles.ov_inputs(model, [clean, ref])
        ids = sequences.member_token_ids(model.tokenizer, task)
        out["ov"][task] = roles.ov_successor_scores(model, inputs, ids)
        result = cd.prune_circuit(model, setup, progress=False)
        out["circuit"][task] = result
        out["knockout"][task] = cd.knockout_comparison(
            model, setup, result.circuit, n_draws
        )
    return out


def print_circuit_report(report: dict[str, Any]) -> None:
    """Print ``circuit_report`` as the toy_seq docstring's tables."""
    from neuralcircuits.science import circuit_discovery as cd

    tasks = list(report["single"])
    comps = list(report["single"][tasks[0]])
    print(
        f"{'ablated':<9}"
        + "".join(f"{t[:6]:>8}" for t in tasks)
        + "   OV: "
        + "".join(f"{t[:6]:>8}" for t in tasks)
    )
    for c in comps:
        line = f"{c!s:<9}" + "".join(f"{report['single'][t][c]:>8.0%}" for t in tasks)
        if c.kind == "head":
            line += "       " + "".join(
                f"{float(report['ov'][t][c.layer, c.head]):>8.0%}" for t in tasks
            )
        print(line)
    for t in tasks:
        r, k = report["circuit"][t], report["knockout"][t]
        print(
            f"{t:<13} {cd.format_circuit(r.circuit)}: alone {r.performance:.0%}, "
            f"knocked out {k.knockout:.0%}, random same-size knockouts "
            f"{k.random_mean:.0%} +- {k.random_std:.0%}"
        )


if __name__ == "__main__":
    main()
