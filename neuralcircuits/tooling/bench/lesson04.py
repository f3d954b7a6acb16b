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
    time, peak memory and per-section times go to the row and the info.
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
                    ],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                with open(out) as f:
                    runs[label] = json.load(f)
                log(
                    f"    {runs[label]['wall_s']:.0f} s wall, {runs[label]['cpu_s']:.0f} s CPU"
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
                    f"CPU {cold['cpu_s']:.0f} s; re-run with its cache {warm['wall_s']:.0f} s; "
                    f"load {cold['load_average'][0]:.1f}"
                ),
                ours_times=[cold["wall_s"]],
            )
        )
    return rows, info
