"""What every benchmark here needs: wrk, servers started and stopped, slices and their figures.

The benchmarks (bench_iris.py, bench_bulk.py, bench_access_log.py, bench_metrics.py) compare
servers measured in one run on a shared machine; the pieces that make those comparisons fair
(alternating slices, medians of slices, the PSS of a whole process tree) live here once, so that
every benchmark measures the same way. Binds 127.0.0.1 only; a server started here is stopped
with its whole process group.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.support.servers import stop_process_group

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


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


def post_file_lua(body: Path, content_type: str) -> str:
    """A wrk script that POSTs the bytes of ``body``: read from the file, so that any bytes
    (parquet's among them) reach the server as they are, whatever their size."""
    return (
        f'local file = assert(io.open("{body}", "rb"))\n'
        'wrk.body = file:read("*a")\nfile:close()\nwrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
    )


def uvicorn_command(app: str, port: int, workers: int) -> list[str]:
    """A raw baseline as a careful user runs it: uvloop and httptools (uvicorn[standard]),
    TCP_NODELAY (asyncio sets it on accepted TCP sockets), no access log."""
    return [
        str(BIN / "uvicorn"),
        app,
        "--workers",
        str(workers),
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def wait_ready(
    url: str, process: subprocess.Popen[bytes], timeout: float = 60, body: bytes | None = None
) -> float:
    """Seconds until ``url`` answers 200: a GET, or a POST of ``body`` where one is given."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} was ready")
        try:
            if body is None:
                response = httpx.get(url, timeout=2)
            else:
                response = httpx.post(url, content=body, timeout=2)
            if response.status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    raise TimeoutError(url)


@contextmanager
def process_group(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    stdout: IO[bytes] | int = subprocess.DEVNULL,
    stop_timeout: float = 20,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in its own session until the block ends, then stop its whole group:
    SIGTERM, and SIGKILL after ``stop_timeout`` seconds."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop_process_group(process, timeout=stop_timeout)


@contextmanager
def server(
    command: list[str], cwd: Path, env: dict[str, str], ready: str, body: bytes | None = None
) -> Iterator[float]:
    """A server run until the block ends; yields its seconds until ``ready`` answered 200."""
    with process_group(command, cwd, env) as process:
        yield wait_ready(ready, process, body=body)


def warm_up(wrk: str, url: str, script: Path, seconds: int = 2) -> None:
    subprocess.run(
        [wrk, "-t1", "-c8", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        check=True,
    )


def _duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def drive(
    wrk: str, url: str, level: int, duration: int, script: Path, timeout_s: int = 2
) -> Result:
    """One wrk run; a request unanswered after ``timeout_s`` (wrk's default: 2) is an error."""
    threads = min(level, 2)
    options = [f"-t{threads}", f"-c{level}", f"-d{duration}s", f"--timeout={timeout_s}s"]
    output = subprocess.run(
        [wrk, *options, "--latency", "-s", str(script), url],
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


def pss_mib(root_pid: int, children: bool = True) -> float:
    """Proportional set size of a process and (unless told otherwise) its descendants: shared
    pages counted once."""
    import psutil

    total = 0
    root = psutil.Process(root_pid)
    for proc in [root, *(root.children(recursive=True) if children else [])]:
        try:
            text = Path(f"/proc/{proc.pid}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        total += int(match.group(1)) if match else 0
    return total / 1024


def cpu_seconds(root_pid: int) -> float:
    """User and system CPU time of a server's processes (the root and its descendants) so far."""
    import psutil

    root = psutil.Process(root_pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def server_root(port: int) -> int:
    """The pid of the process that was started to listen on ``port`` (not one of its workers)."""
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
    urls: dict[str, str],
    wrk: str,
    levels: list[int],
    duration: int,
    rounds: int,
    script: Path,
    timeout_s: int = 2,
) -> dict[str, list[Result]]:
    """Drive every server's endpoint (``urls``: name to full URL) at each level in alternating
    slices.

    The machines are shared: their speed drifts by tens of percent over a minute, and this VM
    also runs at about half speed for spells of a fraction of a second to two seconds
    (``machine_speed.py``). Measuring one server for a whole level and then the other would put
    that drift into the ratio; short slices, alternated (ABBA...), expose every server to the
    same drift and about as many slow spells.
    """
    slice_seconds = max(1, round(duration / rounds))
    results: dict[str, list[Result]] = {name: [] for name in urls}
    for level in levels:
        slices: dict[str, list[Result]] = {name: [] for name in urls}
        for round_number in range(rounds):
            order = list(urls) if round_number % 2 == 0 else list(reversed(urls))
            for name in order:
                slices[name].append(drive(wrk, urls[name], level, slice_seconds, script, timeout_s))
        for name in urls:
            results[name].append(combine(level, slices[name]))
        print(
            f"  c={level}: "
            + ", ".join(f"{name} {results[name][-1].rps:.0f} req/s" for name in urls),
            flush=True,
        )
    return results


def write_report(path: Path, table: str, marker: str = "bench_iris") -> None:
    """Replace the section of docs/benchmarks.md between ``marker``'s comments, keeping the
    prose around it and every other benchmark's section."""
    begin, end = f"<!-- {marker}: begin -->", f"<!-- {marker}: end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{table}\n{end}{tail}")
    print(f"wrote {path}")


def trained_home(tmp: str, example: Path, *train_args: str) -> dict[str, str]:
    """A fresh model store under ``tmp`` holding what ``example``'s train.py saves; the
    environment that points servers at it."""
    env = {"BENTOML_HOME": os.path.join(tmp, "home")}
    subprocess.run(
        [sys.executable, "train.py", *train_args],
        cwd=example,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return env
