"""The same numpy model behind a Triton runner and behind our own batching runner.

    python tests/benchmarks/bench_triton.py [--duration 8] [--rounds 4]

``examples/triton`` (``add_one``, a python-backend model with Triton's dynamic batching, called
from an async API with ``await triton_runner.add_one.async_run(arr)``) and
``numpy_add_one_service.py`` (the same ``x + 1`` as a batchable Runnable of ours), each served by
``bentoml serve`` with the same settings, driven by wrk with one row per request at c=1 and c=64
in alternating slices (harness.py), so that a shared machine's drift falls on both alike; and
the Triton runner in the two-tier topology (start-runner-server + start-http-server on this
host), whose calls go over the runner protocol to a forwarder. The tritonserver is the tests'
(the nvidia-pytriton wheel, tests/support/triton.py).

Writes its section of docs/benchmarks.md. Binds 127.0.0.1 only; stops everything it starts.
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
    ensure_wrk,
    measure_interleaved,
    process_group,
    server,
    warm_up,
    write_report,
)
from tests.support.servers import free_port  # noqa: E402

EXAMPLE = REPO / "examples" / "triton"
OURS = Path(__file__).resolve().parent
BODY = "[[1,2,3,4]]"
LUA = (
    f'wrk.method = "POST"\nwrk.body = "{BODY}"\nwrk.headers["Content-Type"] = "application/json"\n'
)
SERVERS = {"triton": (EXAMPLE, "service:svc"), "ours": (OURS, "numpy_add_one_service:svc")}


def tritonserver(tmp: Path) -> Path:
    import pytest

    from tests.support.triton import write_tritonserver

    try:
        return write_tritonserver(tmp)
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        sys.exit(f"no tritonserver for the benchmark: {exc}")


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, list[Result]]:
    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp / "home"),
        "BENTOML_TRITONSERVER": str(tritonserver(tmp / "triton")),
    }
    wrk = ensure_wrk()
    script = tmp / "post.lua"
    script.write_text(LUA)
    ports = {name: free_port() for name in [*SERVERS, "two-tier"]}
    with contextlib.ExitStack() as stack:
        for name, (cwd, target) in SERVERS.items():
            command = [str(BIN / "bentoml"), "serve", target, "--port", str(ports[name])]
            ready = f"http://127.0.0.1:{ports[name]}/readyz"
            stack.enter_context(server(command, cwd, env, ready))
        # the Triton runner served on its own, reached over the runner protocol
        runner_port = free_port()
        tier_env = {**env, "BENTOML_RUNNER_TOKEN": "bench"}
        stack.enter_context(
            process_group(
                [str(BIN / "bentoml"), "start-runner-server", "service:svc", "--runner-name",
                 "triton_runner", "--port", str(runner_port)],
                EXAMPLE, tier_env,
            )
        )  # fmt: skip
        runner_map = f'{{"triton_runner": "tcp://127.0.0.1:{runner_port}"}}'
        command = [
            str(BIN / "bentoml"), "start-http-server", "service:svc", "--runner-map", runner_map,
            "--port", str(ports["two-tier"]),
        ]  # fmt: skip
        ready = f"http://127.0.0.1:{ports['two-tier']}/readyz"
        stack.enter_context(server(command, EXAMPLE, tier_env, ready))
        urls = {name: f"http://127.0.0.1:{port}/add_one" for name, port in ports.items()}
        for url in urls.values():
            warm_up(wrk, url, script)
        return measure_interleaved(urls, wrk, [1, 64], args.duration, args.rounds, script)


def render(results: dict[str, list[Result]], args: argparse.Namespace) -> str:
    lines = [
        "| concurrency | Triton runner req/s | our runner req/s | Triton / ours | p50 Triton "
        "| p50 ours | p99 Triton | p99 ours | Triton two-tier req/s (p50) | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for triton, ours, tiers in zip(
        results["triton"], results["ours"], results["two-tier"], strict=True
    ):
        lines.append(
            f"| {triton.level} | {triton.rps:.0f} | {ours.rps:.0f} | {triton.rps / ours.rps:.2f}x "
            f"| {triton.p50_ms:.1f} ms | {ours.p50_ms:.1f} ms | {triton.p99_ms:.1f} ms "
            f"| {ours.p99_ms:.1f} ms | {tiers.rps:.0f} ({tiers.p50_ms:.1f} ms) "
            f"| {triton.errors + ours.errors + tiers.errors} |"
        )
    lines += [
        "",
        "- two-tier: the same Triton runner under `bentoml start-runner-server` and the API "
        "under `bentoml start-http-server`, both on this host (the runner protocol over TCP, "
        "token on)",
        f"- `/add_one`, one row of 4 float32 per request; {args.duration} s per server and "
        f"level in {args.rounds} alternating slices, wrk, {os.cpu_count()} CPUs, default "
        f"settings (API workers: one per CPU); Triton 2.51 from nvidia-pytriton 0.7.0, gRPC; "
        f"Python {platform.python_version()}, measured "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=8, help="seconds per server and level")
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices")
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-triton-") as tmp:
        results = measure(args, Path(tmp))
    report = render(results, args)
    print(report)
    write_report(Path(args.output), report, "bench_triton")


if __name__ == "__main__":
    main()
