"""Time and peak memory of a function."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Context manager: the largest resident set size seen while the block runs (bytes)."""

    def __enter__(self):
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def measure(fn: Callable[[], Any], repeats: int) -> tuple[list[float], int, Any]:
    """Run fn `repeats` times: (wall times in s, peak RSS in bytes, last result)."""
    times, result = [], None
    with PeakRSS() as rss:
        for _ in range(repeats):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
    return times, rss.peak, result


def median(xs: list[float]) -> float:
    """The median of the times."""
    return statistics.median(xs)
