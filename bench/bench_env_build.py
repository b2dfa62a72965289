"""Benchmark: time to build a fresh feed environment (requests) with uv vs venv+pip, warm cache."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peak_tui.environments import EnvironmentManager


def build_once(use_uv: bool) -> float:
    """Seconds to build the base environment into a brand-new env root."""
    if use_uv:
        os.environ.pop("PEAK_TUI_NO_UV", None)
    else:
        os.environ["PEAK_TUI_NO_UV"] = "1"
    with tempfile.TemporaryDirectory(prefix="peak-bench-") as tmp:
        started = time.perf_counter()
        EnvironmentManager(Path(tmp) / "envs").ensure([])
        return time.perf_counter() - started


def median_of(runs: int, use_uv: bool) -> tuple[float, list[float]]:
    """Median and all timings of `runs` builds."""
    times = [build_once(use_uv) for _ in range(runs)]
    return statistics.median(times), times


def main() -> None:
    """Warm the caches, time both installers in this run, print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uv-runs", type=int, default=5)
    parser.add_argument("--pip-runs", type=int, default=3)
    args = parser.parse_args()
    build_once(use_uv=True)  # warm uv's cache; pip's cache is warmed by its own first run
    build_once(use_uv=False)
    uv_median, uv_times = median_of(args.uv_runs, use_uv=True)
    pip_median, pip_times = median_of(args.pip_runs, use_uv=False)
    print("uv runs:", " ".join(f"{t:.2f}" for t in uv_times))
    print("venv+pip runs:", " ".join(f"{t:.2f}" for t in pip_times))
    print(f"uv env build: median {uv_median:.2f} s; venv+pip: median {pip_median:.1f} s; "
          f"ratio {pip_median / uv_median:.1f}x (target: uv median <= 1 s)")


if __name__ == "__main__":
    main()
