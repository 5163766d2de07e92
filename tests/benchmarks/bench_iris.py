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
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: tests.support is found from the repository root

from tests.support.servers import free_port  # noqa: E402

IRIS = REPO / "examples" / "iris"
BIN = Path(sys.executable).parent
BODY = "[[5.9,3,5.1,1.8]]"
LUA = (
    f'wrk.method = "POST"\nwrk.body = "{BODY}"\nwrk.headers["Content-Type"] = "application/json"\n'
)


@dataclass
class Result:
    level: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk from Debian's packages ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    """Seconds until ``url`` answers 200: GET for a probe, else POST of the iris body."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} was ready")
        try:
            if url.endswith("/readyz"):
                response = httpx.get(url, timeout=2)
            else:
                response = httpx.post(url, content=BODY, timeout=2)
            if response.status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    raise TimeoutError(url)


@contextmanager
def server(command: list[str], cwd: Path, env: dict[str, str], ready: str) -> Iterator[float]:
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield wait_ready(ready, process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def drive(wrk: str, url: str, level: int, duration: int, script: Path) -> Result:
    threads = min(level, 2)
    output = subprocess.run(
        [wrk, f"-t{threads}", f"-c{level}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    assert p50 and p99 and rps, output
    return Result(
        level, float(rps.group(1)), _duration_ms(p50.group(1)), _duration_ms(p99.group(1)), errors
    )


def pss_mib(root_pid: int) -> float:
    """Proportional set size of a process and its descendants: shared pages counted once."""
    import psutil

    total = 0
    root = psutil.Process(root_pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            text = Path(f"/proc/{proc.pid}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        total += int(match.group(1)) if match else 0
    return total / 1024


def server_root(port: int) -> int:
    import psutil

    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
            proc = psutil.Process(conn.pid)
            while proc.parent() and str(port) not in " ".join(proc.cmdline()):
                proc = proc.parent()
            return proc.pid
    raise RuntimeError(f"nothing listens on {port}")


def combine(level: int, slices: list[Result]) -> Result:
    """One figure per level from interleaved slices: mean throughput, median percentiles."""
    return Result(
        level,
        statistics.mean(r.rps for r in slices),
        statistics.median(r.p50_ms for r in slices),
        statistics.median(r.p99_ms for r in slices),
        sum(r.errors for r in slices),
    )


def measure_interleaved(
    urls: dict[str, str], wrk: str, levels: list[int], duration: int, rounds: int, script: Path
) -> dict[str, list[Result]]:
    """Drive every server at each level in alternating slices.

    The machines are shared: their speed drifts by tens of percent over a minute. Measuring one
    server for a whole level and then the other would put that drift into the ratio; slices of a
    few seconds, alternated (ABBA...), expose both servers to the same drift.
    """
    slice_seconds = max(1, round(duration / rounds))
    results: dict[str, list[Result]] = {name: [] for name in urls}
    for level in levels:
        slices: dict[str, list[Result]] = {name: [] for name in urls}
        for round_number in range(rounds):
            order = list(urls) if round_number % 2 == 0 else list(reversed(urls))
            for name in order:
                slices[name].append(
                    drive(wrk, f"{urls[name]}/classify", level, slice_seconds, script)
                )
        for name in urls:
            results[name].append(combine(level, slices[name]))
        print(
            f"  c={level}: "
            + ", ".join(f"{name} {results[name][-1].rps:.0f} req/s" for name in urls),
            flush=True,
        )
    return results


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
        env = {"BENTOML_HOME": os.path.join(tmp, "home")}
        subprocess.run(
            [sys.executable, "train.py"],
            cwd=IRIS,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        script = Path(tmp, "post.lua")
        script.write_text(LUA)
        base_port, ours_port, async_port = free_port(), free_port(), free_port()
        # The baseline as a careful user would run it: 2 workers (this machine's cores), uvloop
        # and httptools, TCP_NODELAY (asyncio sets it on accepted TCP sockets).
        baseline_cmd = [
            str(BIN / "uvicorn"),
            "raw_app:app",
            "--workers",
            "2",
            "--port",
            str(base_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        ours_cmd = [str(BIN / "bentoml"), "serve", "service:svc", "--port", str(ours_port)]
        # The same service written as an async API (examples/iris/service_async.py).
        async_cmd = [str(BIN / "bentoml"), "serve", "service_async:svc", "--port", str(async_port)]
        base_dir = Path(__file__).parent
        with contextlib.ExitStack() as stack:
            base_ready = stack.enter_context(
                server(baseline_cmd, base_dir, env, f"http://127.0.0.1:{base_port}/classify")
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
            for url in urls.values():  # warm up
                subprocess.run(
                    [wrk, "-t1", "-c8", "-d2s", "-s", str(script), f"{url}/classify"],
                    capture_output=True,
                    check=True,
                )
            print(
                f"baseline ready in {base_ready:.2f}s, bentoml_classic in {ours_ready:.2f}s; "
                f"measuring {args.rounds} alternating slices per level ...",
                flush=True,
            )
            results = measure_interleaved(urls, wrk, levels, args.duration, args.rounds, script)
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


MARK_BEGIN = "<!-- bench_iris: begin -->"
MARK_END = "<!-- bench_iris: end -->"


def write_report(path: Path, table: str, begin: str = MARK_BEGIN, end: str = MARK_END) -> None:
    """Replace the generated section of docs/benchmarks.md (between the ``begin`` and ``end``
    marks: each benchmark has its own), keeping the prose and the other sections around it."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{table}\n{end}{tail}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
