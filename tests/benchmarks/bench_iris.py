"""Iris classify: bentoml_classic's production topology against a raw in-process Starlette app.

    python tests/benchmarks/bench_iris.py [--duration 12] [--rounds 4] [--levels 1,8,32,64]

The servers (the baseline, the iris example, and the same example written as an async API) run in
this one invocation on this machine, so the ratios are meaningful even on a shared, noisy
machine; absolute numbers are not. Drives each with wrk (installed from Debian's
packages when missing), prints requests/s, p50, p99, errors and the ratio to the baseline, the
total PSS of each server's processes and how long `bentoml serve` takes to become ready, and
writes the table to docs/benchmarks.md. Binds 127.0.0.1 only; stops everything it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: tests.* is found from the repository root

from tests.benchmarks.harness import (  # noqa: E402
    BIN,
    Result,
    ensure_wrk,
    measure_interleaved,
    pss_mib,
    server,
    server_root,
    trained_home,
    uvicorn_command,
    warm_up,
    write_report,
)
from tests.support.servers import free_port  # noqa: E402

IRIS = REPO / "examples" / "iris"
BODY = "[[5.9,3,5.1,1.8]]"
LUA = (
    f'wrk.method = "POST"\nwrk.body = "{BODY}"\nwrk.headers["Content-Type"] = "application/json"\n'
)


def startup_seconds(env: dict[str, str], runs: int = 3) -> float:
    """Median time from starting `bentoml serve` to /readyz answering 200."""
    times = []
    for _ in range(runs):
        port = free_port()
        command = [str(BIN / "bentoml"), "serve", "service:svc", "--port", str(port)]
        with server(command, IRIS, env, f"http://127.0.0.1:{port}/readyz") as ready_s:
            times.append(ready_s)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--duration", type=int, default=12, help="seconds per level and server, in all slices"
    )
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices per level")
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        env = trained_home(tmp, IRIS)
        script = Path(tmp, "post.lua")
        script.write_text(LUA)
        base_port, ours_port, async_port = free_port(), free_port(), free_port()
        # The baseline: 2 workers (this machine's cores)
        baseline_cmd = uvicorn_command("raw_app:app", base_port, workers=2)
        ours_cmd = [str(BIN / "bentoml"), "serve", "service:svc", "--port", str(ours_port)]
        # The same service written as an async API (examples/iris/service_async.py).
        async_cmd = [str(BIN / "bentoml"), "serve", "service_async:svc", "--port", str(async_port)]
        base_dir = Path(__file__).parent
        with contextlib.ExitStack() as stack:
            base_ready = stack.enter_context(
                server(
                    baseline_cmd,
                    base_dir,
                    env,
                    f"http://127.0.0.1:{base_port}/classify",
                    body=BODY.encode(),
                )
            )
            ours_ready = stack.enter_context(
                server(ours_cmd, IRIS, env, f"http://127.0.0.1:{ours_port}/readyz")
            )
            stack.enter_context(
                server(async_cmd, IRIS, env, f"http://127.0.0.1:{async_port}/readyz")
            )
            urls = {
                "baseline": f"http://127.0.0.1:{base_port}",
                "ours": f"http://127.0.0.1:{ours_port}",
                "ours_async": f"http://127.0.0.1:{async_port}",
            }
            for url in urls.values():
                warm_up(wrk, f"{url}/classify", script)
            print(
                f"baseline ready in {base_ready:.2f}s, bentoml_classic in {ours_ready:.2f}s; "
                f"measuring {args.rounds} alternating slices per level ...",
                flush=True,
            )
            endpoints = {name: f"{url}/classify" for name, url in urls.items()}
            results = measure_interleaved(
                endpoints, wrk, levels, args.duration, args.rounds, script
            )
            base_pss = pss_mib(server_root(base_port))
            ours_pss = pss_mib(server_root(ours_port))
        base, ours = results["baseline"], results["ours"]
        print(f"  PSS: baseline {base_pss:.0f} MiB, bentoml_classic {ours_pss:.0f} MiB")
        ready = startup_seconds(env)
    report = render(
        levels,
        base,
        ours,
        results["ours_async"],
        base_pss,
        ours_pss,
        ready,
        args.duration,
        args.rounds,
    )
    print(report)
    write_report(Path(args.output), report)


def _table(base: list[Result], ours: list[Result]) -> list[str]:
    lines = [
        "| concurrency | baseline req/s | ours req/s | ratio | baseline p50 | ours p50 | p50 ratio "
        "| baseline p99 | ours p99 | p99 ratio | errors (ours) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b, o in zip(base, ours, strict=True):
        lines.append(
            f"| {b.level} | {b.rps:.0f} | {o.rps:.0f} | {o.rps / b.rps:.2f}x | {b.p50_ms:.2f} ms "
            f"| {o.p50_ms:.2f} ms | {o.p50_ms / b.p50_ms:.2f}x | {b.p99_ms:.2f} ms "
            f"| {o.p99_ms:.2f} ms | {o.p99_ms / b.p99_ms:.2f}x | {o.errors} |"
        )
    return lines


def render(
    levels: list[int],
    base: list[Result],
    ours: list[Result],
    ours_async: list[Result],
    base_pss: float,
    ours_pss: float,
    ready: float,
    duration: int,
    rounds: int,
) -> str:
    lines = [
        "The iris example as the quickstart writes it (`examples/iris/service.py`, a sync API):",
        "",
        *_table(base, ours),
        "",
        "The same service as an async API (`examples/iris/service_async.py`), same run:",
        "",
        *_table(base, ours_async),
        "",
        f"- total PSS of the serving processes: baseline {base_pss:.0f} MiB, "
        f"bentoml_classic {ours_pss:.0f} MiB",
        f"- `bentoml serve` to ready (median of 3): {ready:.2f} s",
        f"- {duration} s per level and server in {rounds} alternating slices (throughput: mean "
        f"of the slices; p50, p99: median of the slices), wrk, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, measured "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
