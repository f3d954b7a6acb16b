"""``python -m neuralcircuits.tooling.bench`` (``make bench``): run the benchmarks, print the table, write build/bench.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from dataclasses import asdict
from typing import Any

import torch

import neuralcircuits.tooling.bench as bench
from neuralcircuits.tooling.bench.gpt2_shaped import bench_gpt2
from neuralcircuits.tooling.bench.lesson04 import bench_lesson04
from neuralcircuits.tooling.bench.rows import Row, table
from neuralcircuits.tooling.bench.toy_seq import bench_toy_seq
from neuralcircuits.tooling.paths import BUILD


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks (`make bench`), print the table, write build/bench.json."""
    parser = argparse.ArgumentParser(
        prog="python -m neuralcircuits.tooling.bench",
        description=(bench.__doc__ or "").splitlines()[0],
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs per method (default 5)"
    )
    parser.add_argument(
        "--only",
        choices=["gpt2-shaped", "toy-seq", "lesson04"],
        default=None,
        help="one group of rows (lesson04: lesson 04 end to end on GPT-2's shape and toy-seq)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also time our complete GPT-2-shaped head sweeps once (minutes)",
    )
    parser.add_argument(
        "--toy-prompts", type=int, default=64, help="toy-seq prompts per task"
    )
    parser.add_argument("--out", default=str(BUILD / "bench.json"))
    args = parser.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    rows: list[Row] = []
    info: dict[str, Any] = {}
    if args.only in (None, "gpt2-shaped"):
        r, i = bench_gpt2(args.repeats, args.full, log)
        rows += r
        info["gpt2-shaped"] = i
    if args.only in (None, "toy-seq"):
        try:
            r, i = bench_toy_seq(args.repeats, args.toy_prompts, log)
            rows += r
            info["toy-seq"] = i
        except (ImportError, FileNotFoundError) as err:
            log(f"toy-seq skipped: {err}")
            info["toy-seq"] = {"skipped": str(err)}
    if args.only in (None, "lesson04"):
        r, i = bench_lesson04(["gpt2-shaped", "toy-seq"], log)
        rows += r
        info["lesson04"] = i
    info["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info["wall_s"] = time.perf_counter() - start
    info["machine"] = {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
    }

    print(table(rows))
    print()
    for model, i in info.items():
        if isinstance(i, dict) and "attribution_forward_passes" in i:
            print(
                f"{model}: attribution patching = {i['attribution_forward_passes']:.2f} "
                "forward passes"
            )
        if isinstance(i, dict) and i.get("pearson"):
            for task, rs in i["pearson"].items():
                text = ", ".join(f"{k} {v:.3f}" for k, v in rs.items())
                print(
                    f"{model}: Pearson(attribution, exact head patching) on {task}: {text}"
                )
        for key in ("full_heads_s", "full_heads_by_pos_s"):
            if isinstance(i, dict) and key in i:
                print(
                    f"{model}: our complete {key[5:-2]} sweep took {i[key]:.0f} s (1 run)"
                )
    for name, runs in info.get("lesson04", {}).items():
        cold = runs["cold"]
        print(
            f"lesson 04 on {name}, per section (first run: wall s, CPU s, forward "
            "passes; re-run wall s):"
        )
        warm = runs["warm"]["sections"]
        for section, t in cold["sections"].items():
            again = warm.get(section, {}).get("wall_s", float("nan"))
            print(
                f"  {section[:48]:<49}{t['wall_s']:>8.1f}{t['cpu_s']:>8.1f}"
                f"{t['passes']:>8.1f}{again:>8.1f}"
            )
        print(
            f"  {'total':<49}{cold['wall_s']:>8.1f}{cold['cpu_s']:>8.1f}"
            f"{cold['passes']:>8.1f}{runs['warm']['wall_s']:>8.1f}"
        )
    for name, runs in info.get("lesson04", {}).items():
        cold = runs["cold"]
        print(
            f"lesson 04 on {name}: {cold['wall_s']:.0f} s from an empty cache = "
            f"{cold['passes']:.1f} x the reference pass ({cold['reference_s']:.2f} s: "
            "one forward pass over the lesson's 96 prompts, logits included, "
            "same run)"
        )
    print(
        f"peak memory of the whole benchmark {info['peak_rss_mb']:.0f} MB; "
        f"wall time {info['wall_s']:.0f} s; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"rows": [asdict(r) for r in rows], "info": info}, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
