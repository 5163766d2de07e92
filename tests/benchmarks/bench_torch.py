"""The PyTorch example with batching on and off, and a 16 MiB tensor through a runner call.

    python tests/benchmarks/bench_torch.py [--duration 12] [--rounds 4] [--level 64]

1. examples/torch (trained here, on synthetic data) served twice by `bentoml serve`, once as
   configured and once with `runners.batching.enabled=false`, driven by wrk at one concurrency
   in alternating slices (bench_iris.py's helpers), so that the drift of a shared machine falls
   on both alike. Target: batching gives at least 3x the throughput.
2. A runner of ``torch.nn.Identity`` started with `bentoml start-runner-server` (TCP on
   127.0.0.1), called with a 16 MiB float32 tensor, which goes there and comes back: the
   effective bandwidth (bytes moved both ways per second) against a plain copy of the same
   bytes in this process (``numpy.copyto``), measured in the same run.

Writes its section of docs/benchmarks.md. Binds 127.0.0.1 only; stops everything it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: tests.* is found from the repository root

from tests.benchmarks.harness import (  # noqa: E402
    BIN,
    Result,
    combine,
    drive,
    ensure_wrk,
    server,
    trained_home,
    write_report,
)
from tests.support.servers import free_port, serve_subprocess  # noqa: E402

EXAMPLE = REPO / "examples" / "torch"
BODY = "[[5,10,30,60,150,300,600,1000]]"
LUA = (
    f'wrk.method = "POST"\nwrk.body = "{BODY}"\nwrk.headers["Content-Type"] = "application/json"\n'
)
BATCHING_OFF = "runners.batching.enabled=false"
TENSOR_BYTES = 16 * 1024 * 1024

ECHO_SERVICE = """
import bentoml_classic as bentoml

echo = bentoml.pytorch.get("echo:latest").to_runner()
svc = bentoml.Service("echo", runners=[echo])
"""


def batching_on_off(
    env: dict[str, str], wrk: str, level: int, duration: int, rounds: int, script: Path
) -> dict[str, Result]:
    ports = {"on": free_port(), "off": free_port()}
    with contextlib.ExitStack() as stack:
        for name, port in ports.items():
            extra = {"BENTOML_CONFIG_OPTIONS": BATCHING_OFF} if name == "off" else {}
            command = [str(BIN / "bentoml"), "serve", "service:svc", "--port", str(port)]
            stack.enter_context(
                server(command, EXAMPLE, {**env, **extra}, f"http://127.0.0.1:{port}/readyz")
            )
        urls = {name: f"http://127.0.0.1:{port}/classify" for name, port in ports.items()}
        for url in urls.values():  # warm up: the API workers import torch on their first answer
            subprocess.run(
                [wrk, "-t1", "-c8", "-d3s", "-s", str(script), url], capture_output=True, check=True
            )
        slices: dict[str, list[Result]] = {name: [] for name in urls}
        slice_seconds = max(1, round(duration / rounds))
        for round_number in range(rounds):
            order = list(urls) if round_number % 2 == 0 else list(reversed(urls))
            for name in order:
                slices[name].append(drive(wrk, urls[name], level, slice_seconds, script))
    return {name: combine(level, results) for name, results in slices.items()}


def tensor_bandwidth(env: dict[str, str], workdir: Path, calls: int) -> tuple[float, float]:
    """GiB/s through a runner call (both ways) and of a plain copy, medians of ``calls``."""
    import numpy as np
    import torch

    import bentoml_classic as bentoml
    from bentoml_classic.protocol.address import Address
    from bentoml_classic.protocol.blocking_client import BlockingRunnerClient

    os.environ.update(env)
    bentoml.pytorch.save_model("echo", torch.nn.Identity())
    (workdir / "echo_service.py").write_text(ECHO_SERVICE)
    token = secrets.token_hex(16)
    port = free_port()
    args = ["echo_service:svc", "--runner-name", "echo"]
    tensor = torch.rand(TENSOR_BYTES // 4, dtype=torch.float32)
    with serve_subprocess(
        args,
        cwd=workdir,
        env={**env, "BENTOML_RUNNER_TOKEN": token},
        ready_path="",
        command="start-runner-server",
        port=port,
    ):
        client = BlockingRunnerClient(
            "echo", [Address.parse(f"tcp://127.0.0.1:{port}")], token.encode(), timeout=60
        )
        try:
            back = _first_answer(client, tensor)
            assert torch.equal(back, tensor)
            for _ in range(2):  # warm up
                client.call("__call__", (tensor,), {})
            runner_s = []
            for _ in range(calls):
                started = time.perf_counter()
                client.call("__call__", (tensor,), {})
                runner_s.append(time.perf_counter() - started)
        finally:
            client.close()
    source = tensor.numpy()
    target = np.empty_like(source)
    copy_s = []
    for _ in range(calls):
        started = time.perf_counter()
        np.copyto(target, source)
        copy_s.append(time.perf_counter() - started)
    gib = TENSOR_BYTES / 2**30
    return 2 * gib / statistics.median(runner_s), gib / statistics.median(copy_s)


def _first_answer(client: Any, tensor: Any, timeout: float = 120) -> Any:
    """The first call's answer, once the runner server listens and has loaded its model."""
    from bentoml_classic.exceptions import BentoMLException

    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.call("__call__", (tensor,), {})
        except (OSError, BentoMLException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def render(
    results: dict[str, Result], runner_gibs: float, copy_gibs: float, args: argparse.Namespace
) -> str:
    on, off = results["on"], results["off"]
    lines = [
        "| concurrency | batching on req/s | off req/s | on / off | p50 on | p50 off "
        "| p99 on | p99 off | errors on / off |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {on.level} | {on.rps:.0f} | {off.rps:.0f} | {on.rps / off.rps:.2f}x "
        f"| {on.p50_ms:.1f} ms | {off.p50_ms:.1f} ms | {on.p99_ms:.1f} ms | {off.p99_ms:.1f} ms "
        f"| {on.errors} / {off.errors} |",
        "",
        f"- a 16 MiB float32 tensor through a runner call (there and back, TCP on 127.0.0.1): "
        f"{runner_gibs:.2f} GiB/s; a plain copy of the same bytes (`numpy.copyto`): "
        f"{copy_gibs:.2f} GiB/s; ratio {runner_gibs / copy_gibs:.2f} (medians of {args.calls} "
        "calls)",
        f"- `examples/torch/service.py:svc` trained with `--hidden {args.hidden}`, `/classify`, "
        f"one row per request; {args.duration} s "
        f"per server in {args.rounds} alternating slices, wrk, {os.cpu_count()} CPUs, CPU only "
        f"(torch {_torch_version()}), Python {platform.python_version()}, measured "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}",
    ]
    return "\n".join(lines)


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=12, help="seconds per server")
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices")
    parser.add_argument("--level", type=int, default=64, help="wrk's concurrency")
    parser.add_argument("--calls", type=int, default=20, help="16 MiB calls to time")
    parser.add_argument(
        "--hidden",
        type=int,
        default=4096,
        help="the MLP's hidden width (train.py --hidden): how much of a call is the model's",
    )
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-torch-") as tmp:
        env = trained_home(tmp, EXAMPLE, "--hidden", str(args.hidden))
        script = Path(tmp, "post.lua")
        script.write_text(LUA)
        print(f"batching on and off at c={args.level} ...", flush=True)
        results = batching_on_off(env, wrk, args.level, args.duration, args.rounds, script)
        print("a 16 MiB tensor through a runner call ...", flush=True)
        runner_gibs, copy_gibs = tensor_bandwidth(env, Path(tmp), args.calls)
    report = render(results, runner_gibs, copy_gibs, args)
    print(report)
    write_report(Path(args.output), report, "bench_torch")


if __name__ == "__main__":
    main()
