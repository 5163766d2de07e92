"""The scheduling policy a worker gives its threads. Each case runs in a fresh interpreter: the
policy of the test process itself must not change."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bentoml_classic.serving.scheduling import apply_scheduling_policy
from tests.support.configs import needs_default_scheduling_policy

pytestmark = needs_default_scheduling_policy

# Starts a thread, applies the policy, starts another thread; prints what each thread has.
SCRIPT = """
import json, os, sys, threading
from bentoml_classic.serving.scheduling import apply_scheduling_policy
from tests.support.configs import needs_default_scheduling_policy

def park(ready, release, out):
    out.append(threading.get_native_id())
    ready.set()
    release.wait()

release = threading.Event()
early_ready, early = threading.Event(), []
threading.Thread(target=park, args=(early_ready, release, early)).start()
early_ready.wait()
if sys.argv[2] == "idle":  # a policy chosen before we start: it must stay
    os.sched_setscheduler(early[0], os.SCHED_IDLE, os.sched_param(0))
changed = apply_scheduling_policy(sys.argv[1])
late_ready, late = threading.Event(), []
threading.Thread(target=park, args=(late_ready, release, late)).start()
late_ready.wait()
print(json.dumps({
    "changed": changed,
    "main": os.sched_getscheduler(0),
    "early": os.sched_getscheduler(early[0]),
    "late": os.sched_getscheduler(late[0]),
}))
release.set()
"""


def policies_after(policy: str, early_thread: str = "default") -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, policy, early_thread],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_batch_reaches_threads_started_before_and_after() -> None:
    assert policies_after("batch") == {
        "changed": True,
        "main": os.SCHED_BATCH,
        "early": os.SCHED_BATCH,
        "late": os.SCHED_BATCH,
    }


def test_inherit_leaves_every_thread_as_it_was() -> None:
    assert policies_after("inherit") == {
        "changed": False,
        "main": os.SCHED_OTHER,
        "early": os.SCHED_OTHER,
        "late": os.SCHED_OTHER,
    }


def test_a_thread_under_another_policy_keeps_it() -> None:
    seen = policies_after("batch", early_thread="idle")
    assert seen["early"] == os.SCHED_IDLE
    assert seen["main"] == seen["late"] == os.SCHED_BATCH


def test_an_unknown_policy_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'fifo'"):
        apply_scheduling_policy("fifo")
