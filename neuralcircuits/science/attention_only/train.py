"""Train the one-layer attention-only model: ``python -m neuralcircuits.science.attention_only.train``.

Rewrites model.safetensors and config.json in the package folder (or
``--out DIR``) from the fixed seed, bit for bit on the same torch build: one
CPU thread, about 15 s.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from neuralcircuits.science import attention_only as aot


@dataclass
class TrainConfig:
    """How the shipped weights were trained."""

    seed: int = 4  # initialisation and the order of the windows
    corpus_seed: int = 0
    steps: int = 600
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.01
    loss_every: int = 10  # keep the mean loss of every block of this many steps
    n_heads: int = 4


def train(cfg: TrainConfig | None = None) -> tuple[torch.nn.Module, dict, list[float]]:
    """Train from the seed; returns (native module, model config, loss per block of steps)."""
    from neuralcircuits.science import toy_seq

    cfg = cfg or TrainConfig()
    stream = aot.corpus(seed=cfg.corpus_seed)
    model_cfg = aot.model_config(len(aot.tokenizer()), cfg.n_heads)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same sums in the same order on every machine
    try:
        net = toy_seq.build_native(model_cfg, seed=cfg.seed)
        opt = torch.optim.AdamW(
            net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        g = torch.Generator().manual_seed(cfg.seed)
        n, d_vocab = aot.N_CTX, model_cfg["d_vocab"]
        offsets = torch.arange(n + 1)
        losses, block = [], []
        for _ in range(cfg.steps):
            starts = torch.randint(
                0, len(stream) - n - 1, (cfg.batch_size,), generator=g
            )
            window = stream[starts[:, None] + offsets]  # [batch, n + 1]
            logits = net(window[:, :-1])
            loss = F.cross_entropy(
                logits.reshape(-1, d_vocab), window[:, 1:].reshape(-1)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            block.append(loss.item())
            if len(block) == cfg.loss_every:
                losses.append(sum(block) / len(block))
                block = []
    finally:
        torch.set_num_threads(threads)
    net.eval()
    return net, model_cfg, losses


def train_model(cfg: TrainConfig | None = None) -> Any:
    """Train from the seed and return the model as a TransformerBridge (what ``aot.load`` returns)."""
    from neuralcircuits.science import toy_seq

    net, model_cfg, _ = train(cfg)
    model = toy_seq.to_bridge(net, model_cfg, aot.tokenizer())
    model.cfg.model_name = aot.MODEL_NAME
    return model


def main(argv: list[str] | None = None) -> None:
    """Train and write the weights and config.json."""
    from neuralcircuits.science import toy_seq

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=aot.HERE)
    args = parser.parse_args(argv)
    cfg = TrainConfig()
    start = time.perf_counter()
    net, model_cfg, losses = train(cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    toy_seq.save_weights(net, args.out)
    stream = aot.corpus(seed=cfg.corpus_seed)
    config = {
        "model": model_cfg,
        "training": asdict(cfg),
        "loss_curve": [round(v, 5) for v in losses],
        "bigram_loss": round(aot.bigram_loss(stream, model_cfg["d_vocab"]), 5),
    }
    (args.out / aot.CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    print(
        f"trained in {time.perf_counter() - start:.0f} s: final loss {losses[-1]:.3f} "
        f"(best bigram model {config['bigram_loss']:.3f}); wrote {args.out}"
    )


if __name__ == "__main__":
    main()
