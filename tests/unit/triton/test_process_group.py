"""A ``tritonserver`` that must be killed takes the processes it started with it (the Python
backend's stubs), shown with a stand-in server that ignores SIGTERM and starts a child that does
too: no ``tritonserver`` is needed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil

from bentoml_classic.triton.process import TritonProcess

SERVER = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
stub = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
child = subprocess.Popen([sys.executable, "-c", stub])
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_killed_server_takes_its_stubs_with_it(tmp_path: Path) -> None:
    script = tmp_path / "stand_in_server.py"
    script.write_text(SERVER)
    process = TritonProcess("stand_in", [sys.executable, str(script)], die_with_us=True)
    deadline = time.monotonic() + 30
    while not process._lines and time.monotonic() < deadline:
        time.sleep(0.05)
    stub = psutil.Process(int(process._lines[0]))
    assert stub.is_running()
    process.stop(grace=0.5)  # the server ignores SIGTERM: it is killed after the grace
    assert process.process.returncode is not None
    stub.wait(timeout=10)  # psutil.TimeoutExpired if the stub outlived its server
