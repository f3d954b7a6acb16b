"""The lesson timer (tooling.lesson_run) reports the memory of the run it times."""

import subprocess
import sys

CHILD = (
    "from neuralcircuits.tooling.lesson_run import _peak_rss_mb; print(_peak_rss_mb())"
)


def test_a_run_started_by_a_large_process_reports_its_own_peak():
    parent = bytearray(600 * 2**20)  # the bench holds models when it starts a run
    parent[::4096] = b"x" * len(parent[::4096])  # touch every page: resident
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    )
    assert float(out.stdout) < 500, "the child reported its parent's peak memory"
