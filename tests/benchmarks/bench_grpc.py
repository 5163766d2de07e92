"""Iris classify over gRPC (``bentoml serve-grpc``) against the same service over HTTP
(``bentoml serve``), in one run, driven by one load generator; writes its section of
docs/benchmarks.md.

wrk speaks no gRPC, so both servers are driven by h2load (nghttp2's, installed from Debian's
packages like wrk): a C client whose own cost is small beside either server's, bounded in time
(``-D``). HTTP goes as HTTP/1.1 (``--h1``), one connection per concurrent request, as wrk
drives it; gRPC as what gRPC is on the wire, a POST of the framed ``Request`` to
``/bentoml.grpc.v1.BentoService/Call`` over HTTP/2, with 8 streams per connection (the API
workers share the port, and the kernel spreads connections, not streams, over them). The
per-request log gives the p50. h2load does not read gRPC's trailers, so one call of each kind
is checked first. The servers are measured in alternating slices, as
``harness.measure_interleaved`` does for wrk, so that the machine's drift falls on all.

Beside requests/s, which a loaded machine moves by half, each server's CPU time per answered
request (all its processes, psutil) is reported: it moves much less with the machine's load.
A third server, ``grpc_floor_server.py`` (a bare ``grpc.aio`` server answering a fixed
``Response``), is measured the same way: its CPU per call is grpcio's own share of a gRPC call,
which no change of ours can remove.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.harness import (  # noqa: E402
    BIN,
    Result,
    combine,
    cpu_seconds,
    process_group,
    trained_home,
    wait_ready,
    write_report,
)
from tests.support.servers import IRIS, free_port  # noqa: E402

BODY = b"[[5.9, 3.0, 5.1, 1.8]]"
FLOOR = Path(__file__).with_name("grpc_floor_server.py")
#: gRPC streams per HTTP/2 connection at concurrency c (c / STREAMS connections)
STREAMS = 8


def ensure_h2load() -> str:
    found = shutil.which("h2load")
    if found:
        return found
    print("installing h2load (nghttp2-client) from Debian's packages ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nghttp2-client"], check=True)
    return shutil.which("h2load") or "h2load"


def grpc_body() -> bytes:
    """The ``Request`` as a gRPC message: a flag byte (not compressed), its length, itself."""
    from bentoml_classic.grpc.v1 import service_pb2 as pb

    request = pb.Request(
        api_name="classify",
        ndarray=pb.NDArray(
            dtype=pb.NDArray.DTYPE_DOUBLE, shape=[1, 4], double_values=[5.9, 3.0, 5.1, 1.8]
        ),
    )
    message = request.SerializeToString()
    return struct.pack(">BI", 0, len(message)) + message


def check_both(http_port: int, grpc_port: int) -> None:
    """One call of each kind answers the iris class, so that h2load measures real answers."""
    import httpx

    from bentoml_classic.client import GrpcClient

    answer = httpx.post(f"http://127.0.0.1:{http_port}/classify", content=BODY, timeout=30)
    assert answer.json() == [2], answer.text
    with GrpcClient.from_url(f"127.0.0.1:{grpc_port}") as client:
        import numpy as np

        assert client.classify(np.array([[5.9, 3.0, 5.1, 1.8]])).tolist() == [2]


def drive(
    h2load: str, kind: str, port: int, level: int, seconds: float, tmp: str
) -> tuple[Result, int]:
    """One slice of load on one server: its figures, and how many requests it answered."""
    log = Path(tmp, f"{kind}-{level}.log")
    body = Path(tmp, f"{kind}.body")
    if kind == "http":  # the others are gRPC servers
        body.write_bytes(BODY)
        url = f"http://127.0.0.1:{port}/classify"
        shape = ["--h1", "-c", str(level), "-m", "1", "-H", "content-type: application/json"]
    else:
        body.write_bytes(grpc_body())
        url = f"http://127.0.0.1:{port}/bentoml.grpc.v1.BentoService/Call"
        connections = max(1, level // STREAMS)
        shape = [
            "-c", str(connections), "-m", str(max(1, level // connections)),
            "-H", "content-type: application/grpc", "-H", "te: trailers",
        ]  # fmt: skip
    done = subprocess.run(
        [h2load, "-t", "1", "-D", f"{seconds:g}", "-d", str(body), "--log-file", str(log),
         *shape, url],
        capture_output=True, text=True, timeout=seconds + 60,
    )  # fmt: skip
    rps = float(re.search(r"([\d.]+) req/s", done.stdout)[1])  # type: ignore[index]
    failed = re.search(r"(\d+) failed, (\d+) errored", done.stdout)
    durations = []
    bad = 0
    for line in log.read_text().splitlines():
        _, status, micros = line.split("\t")
        if status != "200":
            bad += 1
        durations.append(int(micros) / 1000)
    ordered = sorted(durations) or [0.0]
    errors = bad + (int(failed[1]) + int(failed[2]) if failed else 0)
    return Result(
        level,
        rps,
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        errors,
    ), len(durations) - bad


def wait_grpc_port(port: int, timeout: float = 30) -> None:
    """The floor server has no health service: wait until a call answers."""
    import grpc

    from bentoml_classic.grpc.v1 import service_pb2 as pb
    from bentoml_classic.grpc.v1 import service_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        stub = service_pb2_grpc.BentoServiceStub(channel)
        assert list(stub.Call(pb.Request(), timeout=timeout).ndarray.int64_values) == [2]


def wait_grpc_serving(port: int, timeout: float = 90) -> float:
    from bentoml_classic.client.grpc_client import wait_until_serving

    started = time.monotonic()
    wait_until_serving(f"127.0.0.1:{port}", timeout)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8, help="seconds per level and server")
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices per level")
    parser.add_argument("--levels", default="1,64")
    parser.add_argument("--workers", type=int, default=2, help="API workers of each server")
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-grpc-") as tmp:
        env = trained_home(tmp, IRIS)
        http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
        floor_port = free_port()
        env["BENTOML_CONFIG_OPTIONS"] = f"api_server.grpc.metrics.port={metrics_port}"
        bentoml = str(BIN / "bentoml")
        workers = ["--api-workers", str(args.workers)]
        http_cmd = [bentoml, "serve", "service:svc", "--port", str(http_port), *workers]
        grpc_cmd = [bentoml, "serve-grpc", "service:svc", "--port", str(grpc_port), *workers]
        with contextlib.ExitStack() as stack:
            http_server = stack.enter_context(process_group(http_cmd, IRIS, env))
            roots = {
                "http": http_server.pid,
                "grpc": stack.enter_context(process_group(grpc_cmd, IRIS, env)).pid,
                "floor": stack.enter_context(
                    process_group([sys.executable, str(FLOOR), str(floor_port)], REPO, {})
                ).pid,
            }
            wait_ready(f"http://127.0.0.1:{http_port}/readyz", http_server, timeout=90)
            wait_grpc_serving(grpc_port)
            wait_grpc_port(floor_port)
            check_both(http_port, grpc_port)
            h2load = ensure_h2load()
            ports = {"http": http_port, "grpc": grpc_port, "floor": floor_port}
            for kind, port in ports.items():
                drive(h2load, kind, port, 8, 2, tmp)  # warm up
            slice_s = args.duration / args.rounds
            results: dict[str, list[Result]] = {kind: [] for kind in ports}
            cpu_us: dict[str, list[float]] = {kind: [] for kind in ports}
            for level in levels:
                slices: dict[str, list[Result]] = {kind: [] for kind in ports}
                spent = dict.fromkeys(ports, 0.0)
                answered = dict.fromkeys(ports, 0)
                for round_number in range(args.rounds):
                    order = list(ports) if round_number % 2 == 0 else list(reversed(ports))
                    for kind in order:
                        before = cpu_seconds(roots[kind])
                        result, count = drive(h2load, kind, ports[kind], level, slice_s, tmp)
                        spent[kind] += cpu_seconds(roots[kind]) - before
                        answered[kind] += count
                        slices[kind].append(result)
                for kind in ports:
                    results[kind].append(combine(level, slices[kind]))
                    cpu_us[kind].append(spent[kind] / max(1, answered[kind]) * 1e6)
                print(
                    f"  c={level}: "
                    + ", ".join(
                        f"{k} {results[k][-1].rps:.0f} req/s p50 {results[k][-1].p50_ms:.2f} ms "
                        f"cpu {cpu_us[k][-1]:.0f} us/req"
                        for k in ports
                    ),
                    flush=True,
                )
        report = render(results, cpu_us, args)
    print(report)
    write_report(Path(args.output), report, marker="bench_grpc")


def render(
    results: dict[str, list[Result]], cpu_us: dict[str, list[float]], args: argparse.Namespace
) -> str:
    lines = [
        "## gRPC against HTTP: iris classify (`make bench-grpc`)",
        "",
        f"`bentoml serve-grpc` and `bentoml serve` of examples/iris, {args.workers} API workers "
        "each, both driven by h2load (HTTP/1.1 with a connection per concurrent request; gRPC "
        "over HTTP/2, 8 streams per connection), "
        f"{args.rounds} alternating slices, {args.duration:g} s per level and server. CPU: "
        "user and system time of all the server's processes per answered request; floor: "
        "a bare `grpc.aio` server answering a fixed `Response` (`grpc_floor_server.py`), "
        "driven as gRPC is.",
        "",
        "| c | HTTP req/s | gRPC req/s | gRPC/HTTP | HTTP p50 ms | gRPC p50 ms | errors "
        "| HTTP CPU us/req | gRPC CPU us/req | floor CPU us/call |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for index, (http, grpc) in enumerate(zip(results["http"], results["grpc"], strict=True)):
        lines.append(
            f"| {http.level} | {http.rps:.0f} | {grpc.rps:.0f} | {grpc.rps / http.rps:.2f}x | "
            f"{http.p50_ms:.2f} | {grpc.p50_ms:.2f} | {http.errors + grpc.errors} | "
            f"{cpu_us['http'][index]:.0f} | {cpu_us['grpc'][index]:.0f} | "
            f"{cpu_us['floor'][index]:.0f} |"
        )
    load = os.getloadavg()[0]
    lines += [
        "",
        f"- measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC on "
        f"{os.cpu_count()} CPUs, 1-minute load average {load:.1f} at the end",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
