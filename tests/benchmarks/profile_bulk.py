"""Where the CPU of a bulk request goes, process by process, in the real serving tree.

    python tests/benchmarks/profile_bulk.py [--workloads records,csv] [--level 16]
        [--duration 8] [--rounds 1] [--py-spy PATH] [--out DIR] [--servers ours,raw,limit]
        [--servers ours,base --base /path/to/other/checkout]

Starts ``bentoml serve bulk_service:svc --api-workers 2`` (and, with ``--servers``, the raw
apps beside it, or the same service served from another checkout: a before and after in one
run), drives one workload at a time with wrk, and reads each process's CPU time
(user + system, psutil) before and after: CPU milliseconds per answered request, per process
(supervisor, API workers, runner worker). CPU time per request does not depend on how busy the
machine is the way wall time does, so the figures hold on a shared machine. With ``--py-spy``
each process is also sampled (``py-spy record``, native frames off) for the same window, one
flame graph per process under ``--out``. Binds 127.0.0.1 only; stops everything it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from tests.benchmarks.bulk_workloads import workloads  # noqa: E402
from tests.benchmarks.harness import (  # noqa: E402
    BIN,
    drive,
    ensure_wrk,
    post_file_lua,
    server,
    server_root,
    uvicorn_command,
    warm_up,
)
from tests.support.process_roles import role_of  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

HERE = Path(__file__).resolve().parent


def role(proc: psutil.Process) -> str:
    """A short name for a process of the tree: its role in a ``bentoml serve`` tree, whichever
    way its workers were started (forked workers keep their preforker's command line), else
    from its command line."""
    with contextlib.suppress(psutil.Error):
        served = role_of(proc)
        if served is not None:
            return f"{served}:{proc.pid}"
        line = " ".join(proc.cmdline())
        for needle, name in (
            ("runner", "runner"),
            ("api-worker", "api"),
            ("api_server", "api"),
            ("api_worker", "api"),
            ("multiprocessing", "mp-helper"),
        ):
            if needle in line:
                return f"{name}:{proc.pid}"
        return f"{Path(proc.cmdline()[0]).name}:{proc.pid}"
    return f"?:{proc.pid}"


def cpu_by_process(root: int) -> dict[str, tuple[float, float]]:
    """Each process's CPU seconds so far: (user + system, system)."""
    top = psutil.Process(root)
    found: dict[str, tuple[float, float]] = {}
    for proc in [top, *top.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            name = f"supervisor:{proc.pid}" if proc is top else role(proc)
            found[name] = (times.user + times.system, times.system)
    return found


def profile(name: str, port: int, args: argparse.Namespace, wrk: str, tmp: Path) -> None:
    root = server_root(port)
    for workload in workloads():
        key = workload.path.strip("/")
        if key not in args.workloads:
            continue
        script = tmp / f"{key}.lua"
        script.write_text(post_file_lua(workload.save(tmp), workload.content_type))
        url = f"http://127.0.0.1:{port}{workload.path}"
        warm_up(wrk, url, script)
        spies: list[subprocess.Popen[bytes]] = []
        if args.py_spy:
            args.out.mkdir(parents=True, exist_ok=True)
            top = psutil.Process(root)
            for proc in [top, *top.children(recursive=True)]:
                target = args.out / f"{name}-{key}-{role(proc).replace(':', '-')}.txt"
                spy = [args.py_spy, "record", "-p", str(proc.pid), "-d", str(args.duration)]
                spy += ["--gil"] if args.gil else []
                spies.append(
                    subprocess.Popen(
                        [*spy, "-r", "200", "-f", "raw", "-o", str(target), "--nonblocking"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        before = cpu_by_process(root)
        result = drive(wrk, url, args.level, args.duration, script, timeout_s=10)
        after = cpu_by_process(root)
        for spy in spies:
            spy.wait(timeout=args.duration + 30)
        answered = result.rps * args.duration - result.errors
        print(
            f"{name} {key} c={args.level}: {result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, "
            f"{result.errors} errors",
            flush=True,
        )
        total = total_system = 0.0
        for proc_name, (seconds, system) in sorted(after.items()):
            used = seconds - before.get(proc_name, (0.0, 0.0))[0]
            in_system = system - before.get(proc_name, (0.0, 0.0))[1]
            total += used
            total_system += in_system
            print(
                f"    {proc_name:<22} {1000 * used / answered:7.3f} ms CPU/request"
                f" ({1000 * in_system / answered:.3f} system)"
            )
        print(
            f"    {'total':<22} {1000 * total / answered:7.3f} ms CPU/request"
            f" ({1000 * total_system / answered:.3f} system)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="records,csv,parquet,ndarray")
    parser.add_argument("--servers", default="ours")
    parser.add_argument("--level", type=int, default=16)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--py-spy", default="")
    parser.add_argument(
        "--gil", action="store_true", help="py-spy samples only threads holding the GIL (busy)"
    )
    parser.add_argument("--base", type=Path, help="a checkout to serve as the server 'base'")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "profile_bulk")
    args = parser.parse_args()
    args.workloads = set(args.workloads.split(","))
    wrk = ensure_wrk()
    probe = workloads()[0]
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        tmp = Path(folder)
        ports: dict[str, int] = {}
        for name in args.servers.split(","):
            ports[name] = port = free_port()
            if name in ("ours", "base"):
                command = [str(BIN / "bentoml"), "serve", "bulk_service:svc", "--port", str(port)]
                command += ["--api-workers", "2"]
                ready = f"http://127.0.0.1:{port}/readyz"
                tree = args.base if name == "base" else REPO
                stack.enter_context(server(command, HERE, {"PYTHONPATH": str(tree)}, ready))
            else:
                env = {"RAW_BULK_JSON": "orjson" if name == "limit" else "json"}
                command = uvicorn_command("raw_bulk_app:app", port, 2)
                ready = f"http://127.0.0.1:{port}{probe.path}"
                stack.enter_context(server(command, HERE, env, ready, probe.body))
        for _ in range(args.rounds):
            for name, port in ports.items():
                profile(name, port, args, wrk, tmp)


if __name__ == "__main__":
    main()
