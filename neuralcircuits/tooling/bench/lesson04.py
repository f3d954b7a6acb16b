"""The rows of lesson 04 end to end, each model in a fresh process."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from neuralcircuits.tooling.bench.rows import Row


def bench_lesson04(models: list[str], log) -> tuple[list[Row], dict]:
    """Lesson 04's solution top to bottom (``tooling.lesson_run``), one fresh process per model.

    Each run starts with an empty result cache (a learner's first run) and is
    timed again with the cache it filled (re-running the lesson). Wall and CPU
    time, peak memory and per-section times go to the row and the info, and
    with them the reference pass timed in the same process (``lesson_run``'s
    ``reference_pass``: one full forward pass of the model over the lesson's
    96 prompts, logits included), so that the lesson's cost reads as a number
    of forward passes, which does not depend on the machine.
    """
    import subprocess
    import tempfile

    rows: list[Row] = []
    info: dict[str, Any] = {}
    for name in models:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "NEURALCIRCUITS_CACHE": os.path.join(tmp, "cache")}
            runs = {}
            for label in ("cold", "warm"):
                out = os.path.join(tmp, f"{label}.json")
                log(f"lesson 04 on {name}, {label} cache ...")
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "neuralcircuits.tooling.lesson_run",
                        "04",
                        "--model",
                        name,
                        "--out",
                        out,
                        "--reference",
                        "3",
                    ],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                with open(out) as f:
                    runs[label] = json.load(f)
                r = runs[label]
                log(
                    f"    {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} s CPU; reference pass "
                    f"{r['reference_s']:.2f} s: {r['passes']:.1f} passes"
                )
        cold, warm = runs["cold"], runs["warm"]
        info[name] = {"cold": cold, "warm": warm}
        rows.append(
            Row(
                name,
                "lesson 04 end to end",
                "every cell"
                + (", filter bypassed (96 prompts/task)" if name != "toy-seq" else ""),
                cold["wall_s"],
                None,
                None,
                None,
                None,
                cold["peak_rss_mb"],
                None,
                "1/-",
                notes=(
                    f"{cold['passes']:.1f} forward passes (reference pass "
                    f"{cold['reference_s']:.2f} s, same run); CPU {cold['cpu_s']:.0f} s; "
                    f"re-run with its cache {warm['wall_s']:.0f} s "
                    f"({warm['passes']:.1f} passes); load {cold['load_average'][0]:.1f}"
                ),
                ours_times=[cold["wall_s"]],
            )
        )
    return rows, info
