"""What the access log costs: the iris example served twice in one run, access log on (the
default) and off (``--no-access-log``), driven in alternating slices.

    python tests/benchmarks/bench_access_log.py [--duration 12] [--rounds 4] [--levels 1,64]
        [--service service:svc | service_async:svc]

Both servers write their standard output to a file, as a deployment writes to a log file or a
pipe (a discarded output would flatter the cost of writing). Prints requests/s, p50 and p99 of
each and the ratio on/off, and checks that the log holds about one line per request served.
The helpers (wrk, the slices) are harness.py's, the iris model bench_iris.py's.

A shared machine's speed drifts by more than the few percent measured here, so it first
measures, in this process, the CPU the log costs one request (the middleware against the plain
request-id layer, the writer thread included), and then the CPU per request of each server's
processes over the whole run: figures a noisy neighbour moves less than the throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: tests.* is found from the repository root

from tests.benchmarks.bench_iris import IRIS, LUA  # noqa: E402
from tests.benchmarks.harness import (  # noqa: E402
    BIN,
    Result,
    cpu_seconds,
    ensure_wrk,
    measure_interleaved,
    process_group,
    trained_home,
    wait_ready,
    warm_up,
)
from tests.support.servers import free_port  # noqa: E402


@contextmanager
def served(
    target: str, extra: list[str], env: dict[str, str], log: Path
) -> Iterator[tuple[str, int]]:
    """``bentoml serve TARGET`` of the iris example with ``extra`` options, stdout into
    ``log``."""
    port = free_port()
    command = [str(BIN / "bentoml"), "serve", target, "--port", str(port), *extra]
    with (
        log.open("wb") as output,
        process_group(command, IRIS, env, stdout=output, stop_timeout=30) as process,
    ):
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/readyz", process)
        yield url, process.pid


def per_request_costs(requests: int = 200_000) -> float:
    """Microseconds of CPU (every thread of this process) one request costs with the access
    log on, over the plain request-id layer, on an iris-like exchange: formatting its line on
    the loop, and the writer thread's share of the writes (to /dev/null)."""
    from bentoml_classic.http.access_log import AccessLog, AccessLogMiddleware
    from bentoml_classic.http.request_id import RequestIdMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"3")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"[2]"})

    async def send(message: Any) -> None:
        pass

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    def scope() -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "http",
            "method": "POST",
            "path": "/classify",
            "client": ("127.0.0.1", 50000),
            "headers": [
                (b"host", b"127.0.0.1:3000"),
                (b"content-length", b"17"),
                (b"content-type", b"application/json"),
            ],
        }

    with open(os.devnull, "w") as devnull:
        access_log = AccessLog(None, devnull, capacity=requests)
        layers = {"off": RequestIdMiddleware(app), "on": AccessLogMiddleware(app, access_log)}
        cpu_s = {"off": 0.0, "on": 0.0}

        async def measure() -> None:
            access_log.start()
            for _ in range(10):
                for name, layer in layers.items():
                    started = time.process_time()
                    for count in range(requests // 10):
                        await layer(scope(), receive, send)
                        if count % 64 == 0:
                            await asyncio.sleep(0)  # let the hand-over timers run
                    cpu_s[name] += time.process_time() - started
            access_log.close()

        asyncio.run(measure())
    return (cpu_s["on"] - cpu_s["off"]) / requests * 1e6


def access_lines(log: Path) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines() if "(request_id=" in line)


def render(levels: list[int], on: list[Result], off: list[Result], args: argparse.Namespace) -> str:
    lines = [
        "| concurrency | off req/s | on req/s | on/off | off p50 | on p50 | off p99 | on p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a, b in zip(off, on, strict=True):
        lines.append(
            f"| {a.level} | {a.rps:.0f} | {b.rps:.0f} | {b.rps / a.rps:.3f}x | {a.p50_ms:.2f} ms "
            f"| {b.p50_ms:.2f} ms | {a.p99_ms:.2f} ms | {b.p99_ms:.2f} ms |"
        )
    lines.append(
        f"\n{args.duration} s per level and server in {args.rounds} alternating slices, wrk, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, measured "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=12, help="seconds per level and server")
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices per level")
    parser.add_argument("--levels", default="1,64")
    parser.add_argument(
        "--service",
        default="service:svc",
        help="the iris example's sync API, or service_async:svc for its async one",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    print(f"per request, in process: {per_request_costs():.2f} us of CPU", flush=True)
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-access-") as tmp:
        env = trained_home(tmp, IRIS)
        script = Path(tmp, "post.lua")
        script.write_text(LUA)
        on_log, off_log = Path(tmp, "on.log"), Path(tmp, "off.log")
        with contextlib.ExitStack() as stack:
            servers = {
                "on": stack.enter_context(served(args.service, [], env, on_log)),
                "off": stack.enter_context(served(args.service, ["--no-access-log"], env, off_log)),
            }
            urls = {name: url for name, (url, _) in servers.items()}
            for url in urls.values():
                warm_up(wrk, f"{url}/classify", script)
            print(f"measuring {args.rounds} alternating slices per level ...", flush=True)
            cpu_before = {name: cpu_seconds(pid) for name, (_, pid) in servers.items()}
            endpoints = {name: f"{url}/classify" for name, url in urls.items()}
            results = measure_interleaved(
                endpoints, wrk, levels, args.duration, args.rounds, script
            )
            # CPU per request (all processes of a server, all levels): a figure the drift of a
            # shared machine's speed moves less than the throughput
            for name, (_, pid) in servers.items():
                served_requests = sum(r.rps for r in results[name]) * args.duration
                used = cpu_seconds(pid) - cpu_before[name]
                print(f"  {name}: {used / served_requests * 1e6:.1f} us of CPU per request")
        # both servers have stopped: every line is written
        served_on = sum(r.rps for r in results["on"]) * args.duration  # roughly, per level
        print(
            f"access lines written: on {access_lines(on_log)} (about {served_on:.0f} requests "
            f"served, warm-up and probes aside), off {access_lines(off_log)}"
        )
    print(render(levels, results["on"], results["off"], args))


if __name__ == "__main__":
    main()
