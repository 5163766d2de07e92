"""Memory of the process tree: PSS of each process of `bentoml serve` against a raw app's.

    python tests/benchmarks/bench_memory.py [--requests 200] [--workloads iris rows]

Two workloads, each against its raw in-process Starlette baseline with 2 uvicorn workers, in
one run: the iris example (`examples/iris`, `raw_app.py`) and issue 17's bulk rows (1,000 records
of 8 floats to `rows_service.py`'s PandasDataFrame API and its batchable row-summing runner,
`raw_rows_app.py`). `bentoml serve` runs 2 API workers and one runner worker per CPU, in three
topologies: the default (library preload), unforked workers, and full preload. Each server
first answers ``--requests`` requests (8 at a time), so the figures are those of a server that
has served, not one that has just started. Prints, and writes to docs/benchmarks.md, the PSS of
every process (shared pages divided among the processes that map them), its USS (the pages
only it maps) and which of pandas, pyarrow, torch and sklearn each has mapped. Preforked,
the runner workers that the API preforker forks (shared_runners.py) are told from the API
workers by the public socket, which only API workers keep. Run it in the venv users have
(`make bench`: with pyarrow and torch). Binds 127.0.0.1 only; stops everything it starts.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: tests.support is found from the repository root

from tests.benchmarks.harness import (  # noqa: E402
    server,
    server_root,
    trained_home,
    write_report,
)
from tests.support.servers import free_port  # noqa: E402

HERE = Path(__file__).parent
IRIS = REPO / "examples" / "iris"
BIN = Path(sys.executable).parent
LIBRARIES = {"pandas": "/pandas/_libs/", "pyarrow": "/pyarrow/", "torch": "/torch/"}
LIBRARIES["sklearn"] = "/sklearn/"
ROWS_BODY = json.dumps([{f"c{j}": float(i * 8 + j) for j in range(8)} for i in range(1000)])
IRIS_BODY = "[[5.9,3,5.1,1.8]]"


def role(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    if "serving.prefork" in command:
        kind = "API" if "prefork api" in command else "runner"
        parent = process.parent()
        forked = parent is not None and " ".join(parent.cmdline()) == command
        if forked and kind == "API" and not _listens_on_tcp(process):
            kind = "runner"  # forked by the API preforker (shared_runners.py): no public socket
        return f"{kind} worker (forked)" if forked else f"{kind} preforker"
    for marker, name in (
        ("serving.api_worker", "API worker"),
        ("serving.runner_worker", "runner worker"),
        ("bentoml serve", "supervisor"),
        ("resource_tracker", "uvicorn's resource tracker"),
        ("multiprocessing-fork", "uvicorn worker"),
        ("uvicorn", "uvicorn supervisor"),
    ):
        if marker in command:
            return name
    return command[:40]


def _listens_on_tcp(process: psutil.Process) -> bool:
    try:
        return any(c.status == psutil.CONN_LISTEN for c in process.net_connections("tcp"))
    except psutil.Error:
        return False


#: a process's role, its PSS, USS and anonymous PSS in MiB, the libraries it has mapped
Row = tuple[str, float, float, float, list[str]]


def anonymous_pss(pid: int) -> float:
    """The PSS of the process's anonymous pages (Python's objects, the heaps): unlike the PSS
    of file pages (the libraries' code), it is not lowered by other processes on the machine
    that map the same files (another server from the same venv)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss_Anon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree(root_pid: int) -> list[Row]:
    """Each process of the tree: its role, PSS (its private pages, plus each shared page divided
    among the processes that map it), USS (its private pages only: what exiting frees) and
    anonymous PSS, and the libraries it has mapped."""
    root = psutil.Process(root_pid)
    rows = []
    for process in [root, *root.children(recursive=True)]:
        try:
            memory = process.memory_full_info()
            anonymous = anonymous_pss(process.pid)
            maps = Path(f"/proc/{process.pid}/maps").read_text()
        except (psutil.Error, OSError):
            continue
        mapped = [name for name, path in LIBRARIES.items() if path in maps]
        rows.append((role(process), memory.pss / 2**20, memory.uss / 2**20, anonymous, mapped))
    return rows


def exercise(url: str, body: str, requests: int) -> None:
    def post(_: int) -> int:
        return httpx.post(
            url, content=body, headers={"content-type": "application/json"}
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(requests)))
    if set(codes) != {200}:
        raise RuntimeError(f"{url} answered {sorted(set(codes))}")


#: the configuration of the preforked topology (serving/prefork.py)
PRELOAD = {"BENTOML_CONFIG_OPTIONS": "api_server.preload=true runners.preload=true"}
#: the topology before library preload was the default: every worker started by Circus
UNFORKED = {
    "BENTOML_CONFIG_OPTIONS": "api_server.preload_libraries=false runners.preload_libraries=false"
}
#: 8 requests of 1,000 rows at a time overflow the default row-counted queue bound (issue 17
#: item 1, being changed elsewhere): memory is what is measured here, so the bound is raised
ROOMY = {"BENTOML_CONFIG_OPTIONS": "runners.batching.max_queue_size=100000"}


def _both(*options: dict[str, str]) -> dict[str, str]:
    return {"BENTOML_CONFIG_OPTIONS": " ".join(o["BENTOML_CONFIG_OPTIONS"] for o in options)}


ROOMY_PRELOAD = _both(PRELOAD, ROOMY)
ROOMY_UNFORKED = _both(UNFORKED, ROOMY)
#: each variant of bentoml_classic measured: its name's suffix, and what the summary calls it
VARIANTS = (
    ("", ", bentoml_classic (default: library preload)"),
    (", unforked", f", unforked workers (`{UNFORKED['BENTOML_CONFIG_OPTIONS']}`)"),
    (", preload", f", preforked workers (`{PRELOAD['BENTOML_CONFIG_OPTIONS']}`)"),
)


def measure(
    command: list[str], cwd: Path, env: dict[str, str], path: str, body: str, requests: int
) -> list[Row]:
    port = free_port()
    command = [*command, "--port", str(port)]
    ready = f"http://127.0.0.1:{port}/readyz" if "serve" in command else ""
    url = f"http://127.0.0.1:{port}{path}"
    # a raw app answers only POSTs: it is ready once one is answered
    with server(command, cwd, env, ready or url, body=None if ready else body.encode()):
        exercise(url, body, requests)
        return tree(server_root(port))


def render(results: dict[str, list[Row]], requests: int) -> str:
    lines = [
        "| server | process | PSS | USS | anonymous PSS | pandas, pyarrow, torch, sklearn mapped |",
        "|---|---|---|---|---|---|",
    ]
    totals, anonymous = {}, {}
    for name, rows in results.items():
        for process_role, pss, uss, anon, mapped in rows:
            lines.append(
                f"| {name} | {process_role} | {pss:.0f} MiB | {uss:.0f} MiB | {anon:.0f} MiB "
                f"| {', '.join(mapped) or '-'} |"
            )
        totals[name] = sum(row[1] for row in rows)
        anonymous[name] = sum(row[3] for row in rows)
        lines.append(
            f"| {name} | **total** | **{totals[name]:.0f} MiB** | {sum(r[2] for r in rows):.0f} "
            f"MiB | {anonymous[name]:.0f} MiB | |"
        )
    lines += [
        "",
        *(
            f"- {workload}{label}: {totals[name]:.0f} MiB, "
            f"{totals[name] / totals[f'{workload}, raw app']:.2f}x the raw app's (anonymous "
            f"PSS: {anonymous[name] / anonymous[f'{workload}, raw app']:.2f}x)"
            for workload in ("iris", "rows")
            for suffix, label in VARIANTS
            for name in [f"{workload}, bentoml_classic{suffix}"]
            if name in results
        ),
        f"- after {requests} requests each, 8 at a time; {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, installed: "
        + ", ".join(_installed(name) for name in ("pandas", "pyarrow", "torch", "scikit-learn"))
        + f"; measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.node()}",
    ]
    return "\n".join(lines)


def _installed(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{distribution} {version(distribution)}"
    except PackageNotFoundError:
        return f"no {distribution}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--workloads", nargs="+", default=["iris", "rows"], help="iris, rows, or both"
    )
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    raw = [str(BIN / "uvicorn"), "--workers", "2", "--log-level", "warning", "--no-access-log"]
    serve = [str(BIN / "bentoml"), "serve", "--api-workers", "2"]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        env = trained_home(tmp, IRIS)
        iris = [*serve, "service:svc"]
        rows = [*serve, "rows_service:svc"]
        plans = {
            "iris, raw app": ([*raw, "raw_app:app"], HERE, "/classify", IRIS_BODY, {}),
            "iris, bentoml_classic": (iris, IRIS, "/classify", IRIS_BODY, {}),
            "iris, bentoml_classic, unforked": (iris, IRIS, "/classify", IRIS_BODY, UNFORKED),
            "iris, bentoml_classic, preload": (iris, IRIS, "/classify", IRIS_BODY, PRELOAD),
            "rows, raw app": ([*raw, "raw_rows_app:app"], HERE, "/sum_rows", ROWS_BODY, {}),
            "rows, bentoml_classic": (rows, HERE, "/sum_rows", ROWS_BODY, ROOMY),
            "rows, bentoml_classic, unforked": (rows, HERE, "/sum_rows", ROWS_BODY, ROOMY_UNFORKED),
            "rows, bentoml_classic, preload": (rows, HERE, "/sum_rows", ROWS_BODY, ROOMY_PRELOAD),
        }
        results = {}
        for name, (command, cwd, path, body, extra_env) in plans.items():
            if not name.startswith(tuple(args.workloads)):
                continue
            results[name] = measure(command, cwd, {**env, **extra_env}, path, body, args.requests)
            print(f"  {name}: {sum(row[1] for row in results[name]):.0f} MiB", flush=True)
    report = render(results, args.requests)
    print(report)
    write_report(Path(args.output), report, "bench_memory")


if __name__ == "__main__":
    main()
