"""How steady this machine's speed is: one fixed piece of CPU work, timed over and over.

    python tests/benchmarks/machine_speed.py [--seconds 60] [--window 0.25]

The work is the same every time (msgspec parses the bulk benchmark's ndarray body and numpy
makes the array: no I/O, no other process), so a window that takes longer than the fastest
says the machine, not the code, was slower then. The report gives the windows' spread and the
runs of consecutive slow windows (slower than 1.3x the fastest), which is what decides how
short the alternating slices of a benchmark must be (docs/benchmarks.md, "The machine's two
speeds").
"""

from __future__ import annotations

import argparse
import statistics
import time

import msgspec
import numpy as np
from bulk_workloads import workloads

#: a window this much slower than the fastest one counts as a slow window
SLOW = 1.3


def one_pass(body: bytes, decoder: msgspec.json.Decoder) -> None:
    np.asarray(decoder.decode(body), dtype=np.float64)


def window_times(seconds: float, window: float) -> list[tuple[float, float]]:
    """(start, best time of one pass) for each window of ``window`` seconds."""
    body = next(w.body for w in workloads() if w.path == "/ndarray")
    decoder = msgspec.json.Decoder()
    began = time.perf_counter()
    windows = []
    while (now := time.perf_counter()) - began < seconds:
        best = float("inf")
        while time.perf_counter() - now < window:
            start = time.perf_counter()
            one_pass(body, decoder)
            best = min(best, time.perf_counter() - start)
        windows.append((now - began, best))
    return windows


def slow_runs(windows: list[tuple[float, float]], window: float) -> list[float]:
    """The lengths (seconds) of the runs of consecutive slow windows."""
    fastest = min(best for _, best in windows)
    runs, length = [], 0
    for _, best in windows:
        if best > SLOW * fastest:
            length += 1
        elif length:
            runs.append(length * window)
            length = 0
    if length:
        runs.append(length * window)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=0.25)
    args = parser.parse_args()
    windows = window_times(args.seconds, args.window)
    times = sorted(best for _, best in windows)
    fastest = times[0]
    runs = slow_runs(windows, args.window)
    slow_share = sum(runs) / (len(windows) * args.window)
    print(f"{len(windows)} windows of {args.window} s, best pass of each:")
    print(
        f"  fastest {1000 * fastest:.2f} ms, median {1000 * statistics.median(times):.2f} ms "
        f"({statistics.median(times) / fastest:.2f}x), slowest {1000 * times[-1]:.2f} ms "
        f"({times[-1] / fastest:.2f}x)"
    )
    slow = [best / fastest for best in times if best > SLOW * fastest]
    print(
        f"  slow windows (over {SLOW}x the fastest): {100 * slow_share:.0f} % of the time"
        + (f", at a median {statistics.median(slow):.2f}x" if slow else "")
    )
    if runs:
        print(
            f"  runs of slow windows: {len(runs)}, median {statistics.median(runs):.2f} s, "
            f"longest {max(runs):.2f} s"
        )


if __name__ == "__main__":
    main()
