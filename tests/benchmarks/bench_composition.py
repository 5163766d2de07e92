"""Iris behind one dependency hop (entry -> model service -> runner) against the single service.

    python tests/benchmarks/bench_composition.py [--duration 12] [--rounds 4] [--levels 1,64]

Both are served by `bentoml serve` in this one invocation, with the same number of API workers:
the single service is examples/iris/service_async.py; the composed one is
tests/benchmarks/compose_service.py, the same descriptors and runner call with the model's API
in a service of its own (one worker, the default). Slices alternate, as in
bench_iris.py, so the ratios hold on a noisy machine; absolute numbers do not. Targets (issue
18): at c=64 at least 0.75x the single service's throughput, at c=1 a p50 at most 1.5x. Writes
its section of docs/benchmarks.md. Binds 127.0.0.1 only; stops everything it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: tests.* is found from the repository root

from tests.benchmarks.harness import (  # noqa: E402
    BIN,
    Result,
    cpu_seconds,
    ensure_wrk,
    measure_interleaved,
    pss_mib,
    server,
    server_root,
    trained_home,
    warm_up,
    write_report,
)
from tests.support.servers import free_port  # noqa: E402

IRIS = REPO / "examples" / "iris"
HERE = Path(__file__).parent
BODY = "[[5.9,3,5.1,1.8]]"
LUA = (
    f'wrk.method = "POST"\nwrk.body = "{BODY}"\nwrk.headers["Content-Type"] = "application/json"\n'
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=12, help="seconds per level and server")
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices per level")
    parser.add_argument("--levels", default="1,64")
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        env = trained_home(tmp, IRIS)
        script = Path(tmp, "post.lua")
        script.write_text(LUA)
        single_port, composed_port = free_port(), free_port()
        workers = ["--api-workers", str(args.api_workers)]
        bentoml = str(BIN / "bentoml")
        single_cmd = [bentoml, "serve", "service_async:svc", "--port", str(single_port), *workers]
        composed_cmd = [bentoml, "serve", "compose_service:svc", "--port", str(composed_port)]
        composed_cmd += workers
        with contextlib.ExitStack() as stack:
            urls = {
                "single": f"http://127.0.0.1:{single_port}",
                "composed": f"http://127.0.0.1:{composed_port}",
            }
            stack.enter_context(server(single_cmd, IRIS, env, f"{urls['single']}/readyz"))
            stack.enter_context(server(composed_cmd, HERE, env, f"{urls['composed']}/readyz"))
            for url in urls.values():
                warm_up(wrk, f"{url}/classify", script)
            print(f"measuring {args.rounds} alternating slices per level ...", flush=True)
            endpoints = {name: f"{url}/classify" for name, url in urls.items()}
            roots = {"single": server_root(single_port), "composed": server_root(composed_port)}
            results, cpu = measure_with_cpu(endpoints, roots, wrk, levels, args, script)
            single_pss = pss_mib(roots["single"])
            composed_pss = pss_mib(roots["composed"])
    report = render(results, cpu, single_pss, composed_pss, args)
    print(report)
    write_report(Path(args.output), report, marker="bench_composition")


def measure_with_cpu(
    endpoints: dict[str, str],
    roots: dict[str, int],
    wrk: str,
    levels: list[int],
    args: argparse.Namespace,
    script: Path,
) -> tuple[dict[str, list[Result]], dict[str, list[float]]]:
    """Each level's figures, and the CPU time each server's processes spent per request at
    that level (microseconds): unlike req/s, it hardly moves when other work loads the machine,
    and on 2 CPUs it is what decides the throughput at c=64."""
    results: dict[str, list[Result]] = {name: [] for name in endpoints}
    cpu: dict[str, list[float]] = {name: [] for name in endpoints}
    seconds_driven = max(1, round(args.duration / args.rounds)) * args.rounds
    for level in levels:
        before = {name: cpu_seconds(root) for name, root in roots.items()}
        measured = measure_interleaved(endpoints, wrk, [level], args.duration, args.rounds, script)
        for name, root in roots.items():
            result = measured[name][0]
            results[name].append(result)
            spent = cpu_seconds(root) - before[name]
            cpu[name].append(1e6 * spent / max(1.0, result.rps * seconds_driven))
    return results, cpu


def render(
    results: dict[str, list[Result]],
    cpu: dict[str, list[float]],
    single_pss: float,
    composed_pss: float,
    args: argparse.Namespace,
) -> str:
    lines = [
        "| concurrency | single req/s | composed req/s | ratio | single p50 | composed p50 "
        "| p50 ratio | single p99 | composed p99 | CPU per request, single / composed "
        "| errors (composed) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = zip(results["single"], results["composed"], cpu["single"], cpu["composed"], strict=True)
    for s, c, s_cpu, c_cpu in rows:
        lines.append(
            f"| {s.level} | {s.rps:.0f} | {c.rps:.0f} | {c.rps / s.rps:.2f}x | {s.p50_ms:.2f} ms "
            f"| {c.p50_ms:.2f} ms | {c.p50_ms / s.p50_ms:.2f}x | {s.p99_ms:.2f} ms "
            f"| {c.p99_ms:.2f} ms | {s_cpu:.0f} / {c_cpu:.0f} us ({s_cpu / c_cpu:.2f}x) "
            f"| {c.errors} |"
        )
    lines += [
        "",
        f"- total PSS of the serving processes: single {single_pss:.0f} MiB, composed "
        f"{composed_pss:.0f} MiB (the model service's worker added)",
        f"- {args.api_workers} API workers each, the model service one worker (the default); "
        f"{args.duration} s per level and server in {args.rounds} alternating slices, wrk, "
        f"{os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, measured "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
