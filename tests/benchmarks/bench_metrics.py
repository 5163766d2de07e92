"""What the Prometheus metrics cost: the iris example served with them and without, one run.

    python tests/benchmarks/bench_metrics.py [--duration 40] [--rounds 8] [--levels 1,64]

Four `bentoml serve` deployments of examples/iris (2 API workers and a runner worker each) run
side by side, some with the default configuration and some with `api_server.metrics.enabled` and
`runners.metrics.enabled` false, and wrk drives them in alternating slices (bench_iris.py's
helpers), so that the drift of a shared machine falls on both alike; there are two of each,
started on, off, off, on. Prints requests/s, the servers' CPU time per request
(steadier than throughput on a shared machine), p50 and p99 of each and the ratios on/off;
the figure goes into docs/benchmarks.md by hand, with its date. Binds 127.0.0.1 only; stops
everything it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: tests.* is found from the repository root

from tests.benchmarks.bench_iris import IRIS, LUA  # noqa: E402
from tests.benchmarks.harness import (  # noqa: E402
    BIN,
    Result,
    combine,
    cpu_seconds,
    drive,
    ensure_wrk,
    server,
    server_root,
    trained_home,
    warm_up,
)
from tests.support.servers import free_port  # noqa: E402

METRICS_OFF = "api_server.metrics.enabled=false runners.metrics.enabled=false"


@dataclass
class Tally:
    """One server's slices at one level, and the CPU time it spent on them."""

    slices: list[Result] = field(default_factory=list)
    cpu_seconds: float = 0.0
    served: float = 0.0

    def cpu_per_request_us(self) -> float:
        return self.cpu_seconds / self.served * 1e6


def measure(
    urls: dict[str, str],
    roots: dict[str, int],
    wrk: str,
    level: int,
    slice_seconds: int,
    rounds: int,
    script: Path,
    tallies: dict[str, Tally],
) -> None:
    """Drive each server at ``level`` in alternating slices (ABBA..., as bench_iris.py does),
    adding each slice and the servers' CPU time over it to ``tallies``."""
    for round_number in range(rounds):
        order = list(urls) if round_number % 2 == 0 else list(reversed(urls))
        for name in order:
            before = cpu_seconds(roots[name])
            result = drive(wrk, f"{urls[name]}/classify", level, slice_seconds, script)
            tallies[name].cpu_seconds += cpu_seconds(roots[name]) - before
            tallies[name].served += result.rps * slice_seconds
            tallies[name].slices.append(result)


#: the deployments, in the order they start: two of each, so that being started first or
#: last falls on both alike. Identical servers started one after the other and measured in
#: alternating slices differed by 5-13 %, in favour of either, from run to run.
DEPLOYMENTS = ("on 1", "off 1", "off 2", "on 2")


@contextlib.contextmanager
def deployments(
    target: str, env: dict[str, str], wrk: str, script: Path
) -> Iterator[tuple[dict[str, str], dict[str, int]]]:
    """Every deployment of ``DEPLOYMENTS``, started and warmed up: their URLs and root pids."""
    ports = {name: free_port() for name in DEPLOYMENTS}
    with contextlib.ExitStack() as stack:
        for name, port in ports.items():
            command = [str(BIN / "bentoml"), "serve", target, "--port", str(port)]
            extra = {"BENTOML_CONFIG_OPTIONS": METRICS_OFF} if name.startswith("off") else {}
            stack.enter_context(
                server(command, IRIS, {**env, **extra}, f"http://127.0.0.1:{port}/readyz")
            )
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for url in urls.values():
            warm_up(wrk, f"{url}/classify", script)
        yield urls, {name: server_root(port) for name, port in ports.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=40, help="seconds per level and server")
    parser.add_argument("--rounds", type=int, default=8, help="alternating slices per level")
    parser.add_argument("--levels", default="1,64")
    parser.add_argument(
        "--target", default="service:svc", help="the iris service (service_async:svc: async)"
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    slice_seconds = max(1, round(args.duration / args.rounds))
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        env = trained_home(tmp, IRIS)
        script = Path(tmp, "post.lua")
        script.write_text(LUA)
        rows = []
        with deployments(args.target, env, wrk, script) as (urls, roots):
            print(f"measuring {args.rounds} alternating slices per level ...", flush=True)
            for level in levels:
                tallies = {name: Tally() for name in DEPLOYMENTS}
                measure(urls, roots, wrk, level, slice_seconds, args.rounds, script, tallies)
                rows.append(row(level, tallies))
                print(rows[-1], flush=True)
    print(
        "| concurrency | on req/s | off req/s | on/off | on CPU/req | off CPU/req | on/off ", end=""
    )
    print("| p50 on / off | p99 on / off |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


def row(level: int, tallies: dict[str, Tally]) -> str:
    """One level's line: both deployments of a kind together."""
    kinds = {
        kind: [t for name, t in tallies.items() if name.startswith(kind)] for kind in ("on", "off")
    }
    on = combine(level, [r for t in kinds["on"] for r in t.slices])
    off = combine(level, [r for t in kinds["off"] for r in t.slices])
    cpu = {
        kind: sum(t.cpu_seconds for t in group) / sum(t.served for t in group) * 1e6
        for kind, group in kinds.items()
    }
    return (
        f"| {level} | {on.rps:.0f} | {off.rps:.0f} | {on.rps / off.rps:.3f} "
        f"| {cpu['on']:.0f} µs | {cpu['off']:.0f} µs | {cpu['on'] / cpu['off']:.3f} "
        f"| {on.p50_ms:.2f} / {off.p50_ms:.2f} ms | {on.p99_ms:.2f} / {off.p99_ms:.2f} ms |"
    )


if __name__ == "__main__":
    main()
