"""Before and after at concurrency 1: the bulk service from two checkouts, one request each in turn.

    python tests/benchmarks/ab_bulk.py BASE_CHECKOUT [--workloads csv,parquet] [--requests 300]

Serves ``bulk_service:svc`` (2 API workers) twice, once from ``BASE_CHECKOUT`` (say a
``git archive`` of main) and once from this tree, and sends each workload's request to one,
then the other, ``--requests`` times over one keep-alive connection each; prints each one's
median latency (the first 20 requests left out) and their ratio. Taking turns request by
request spreads the load of a shared machine evenly over both, which slices of seconds (wrk)
do not when other work comes and goes. Binds 127.0.0.1 only; stops what it starts.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.bulk_workloads import workloads  # noqa: E402
from tests.benchmarks.harness import BIN, server  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
WARM_UP = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("--workloads", default="records,csv,parquet,ndarray")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    chosen = set(args.workloads.split(","))
    with ExitStack() as stack:
        connections = {}
        for name, tree in (("base", args.base), ("ours", REPO)):
            port = free_port()
            command = [str(BIN / "bentoml"), "serve", "bulk_service:svc", "--port", str(port)]
            command += ["--api-workers", "2"]
            ready = f"http://127.0.0.1:{port}/readyz"
            stack.enter_context(server(command, HERE, {"PYTHONPATH": str(tree)}, ready))
            connections[name] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for workload in workloads():
            if workload.path.strip("/") not in chosen:
                continue
            latencies: dict[str, list[float]] = {name: [] for name in connections}
            headers = {"Content-Type": workload.content_type}
            for index in range(WARM_UP + args.requests):
                for name, connection in connections.items():
                    started = time.perf_counter()
                    connection.request("POST", workload.path, body=workload.body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    assert response.status == 200, (name, response.status)
                    if index >= WARM_UP:
                        latencies[name].append(time.perf_counter() - started)
            p50 = {name: statistics.median(values) * 1e3 for name, values in latencies.items()}
            print(
                f"{workload.name}: base p50 {p50['base']:.2f} ms, ours {p50['ours']:.2f} ms, "
                f"ours/base {p50['ours'] / p50['base']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
