"""The heap policy of a worker (serving/heap.py), on the real C library. Each case runs in a
fresh interpreter: the allocator settings of the test process itself must not change."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from bentoml_classic.serving.heap import HeapPolicy, _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="the heap policy acts on glibc only")

# mallinfo2's fields (glibc 2.33+): hblkhd is the bytes held in mmapped blocks
MALLINFO = """
import ctypes
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
def mmapped():
    return libc.mallinfo2().hblkhd
def rss_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20
def burn(seconds):
    import time
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
"""


def run(script: str) -> dict[str, object]:
    code = MALLINFO + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_large_block_comes_from_the_heap_under_the_policy() -> None:
    """glibc maps a fresh 4 MiB block on its own (and unmaps it when freed): the policy serves
    it from the heap, where the next request reuses its pages."""
    result = run(
        """
        import json
        from bentoml_classic.serving.heap import HeapPolicy, apply_heap_policy
        before = mmapped()
        block = bytearray(4 * 2**20)
        default = mmapped() - before
        del block
        applied = apply_heap_policy(HeapPolicy(retain_mb=32, idle_trim_s=0))
        before = mmapped()
        block = bytearray(4 * 2**20)
        print(json.dumps({"default": default, "policy": mmapped() - before, "applied": applied}))
        """
    )
    assert result["applied"] is True
    assert result["default"] >= 4 * 2**20  # type: ignore[operator]
    assert result["policy"] == 0


def test_retain_zero_keeps_the_c_librarys_own_policy() -> None:
    result = run(
        """
        import json
        from bentoml_classic.serving.heap import HeapPolicy, apply_heap_policy
        applied = apply_heap_policy(HeapPolicy(retain_mb=0))
        before = mmapped()
        block = bytearray(4 * 2**20)
        print(json.dumps({"applied": applied, "mapped": mmapped() - before}))
        """
    )
    assert result == {"applied": False, "mapped": result["mapped"]}
    assert result["mapped"] >= 4 * 2**20  # type: ignore[operator]


ARROW_POOL = """
import json, os
import pyarrow as pa
from bentoml_classic.serving.heap import HeapPolicy, apply_heap_policy
before = pa.default_memory_pool().backend_name
apply_heap_policy(HeapPolicy(retain_mb=RETAIN, idle_trim_s=0))
column = pa.array(range(100_000))  # allocated after the policy: from the default pool
print(json.dumps({
    "before": before,
    "after": pa.default_memory_pool().backend_name,
    "system_bytes": pa.system_memory_pool().bytes_allocated(),
}))
"""


@pytest.mark.parametrize(
    ("retain_mb", "env_pool", "expected"),
    [(32, None, "system"), (0, None, "unchanged"), (32, "mimalloc", "unchanged")],
)
def test_pyarrow_allocates_from_the_governed_heap_unless_told_otherwise(
    retain_mb: int, env_pool: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the policy pyarrow's new buffers come from the system allocator (whose free pages
    the trimmer hands back); ``retain_mb: 0`` and the user's ARROW_DEFAULT_MEMORY_POOL keep
    pyarrow's own pool."""
    pytest.importorskip("pyarrow")
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    if env_pool is not None:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", env_pool)
    result = run(ARROW_POOL.replace("RETAIN", str(retain_mb)))
    assert result["before"] != "system"  # pyarrow's wheels default to mimalloc (or jemalloc)
    assert result["after"] == (result["before"] if expected == "unchanged" else expected)
    if expected == "system":
        assert result["system_bytes"] >= 800_000  # type: ignore[operator]


def test_pyarrow_loaded_after_the_policy_allocates_from_the_governed_heap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that loads the service (and pandas, and pyarrow) after applying its policy, as
    unforked workers do: pyarrow's default pool is the system allocator all the same."""
    pytest.importorskip("pyarrow")
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    result = run(
        """
        import json, sys
        from bentoml_classic.serving.heap import HeapPolicy, apply_heap_policy
        apply_heap_policy(HeapPolicy(retain_mb=32, idle_trim_s=0))
        assert "pyarrow" not in sys.modules
        import pyarrow as pa
        print(json.dumps({"pool": pa.default_memory_pool().backend_name}))
        """
    )
    assert result == {"pool": "system"}


def test_freed_memory_is_kept_while_busy_and_handed_back_at_rest() -> None:
    """40 MiB freed stays in the process (under a 64 MiB retain) while it works, and the idle
    trimmer hands it back once the process has rested; without the trimmer it stays."""
    script = """
        import json, sys, time
        from bentoml_classic.serving.heap import HeapPolicy, apply_heap_policy
        apply_heap_policy(HeapPolicy(retain_mb=64, idle_trim_s=float(sys.argv[1])))
        start = rss_mib()
        blocks = [bytearray(2**20) for _ in range(40)]
        for block in blocks:
            block[::4096] = b"x" * len(block[::4096])  # touch every page
        burn(0.15)  # work enough (CPU time) for a trim to be worth making
        del blocks, block
        freed = rss_mib() - start
        time.sleep(1.5)
        print(json.dumps({"kept": freed, "after_rest": rss_mib() - start}))
        """
    trimmed = run(script.replace("float(sys.argv[1])", "0.2"))
    kept = run(script.replace("float(sys.argv[1])", "0"))
    assert trimmed["kept"] >= 35  # type: ignore[operator]
    assert trimmed["after_rest"] <= 10  # type: ignore[operator]
    assert kept["after_rest"] >= 35  # type: ignore[operator]


def test_cyclic_garbage_of_the_last_requests_is_collected_at_rest() -> None:
    """A reference cycle holding a request's buffer (a traceback, a waiter and its batch) is
    freed by the trimmer at rest: with no allocations then, Python's collector would not run."""
    result = run(
        """
        import json, time, weakref
        from bentoml_classic.serving.heap import HeapPolicy, apply_heap_policy
        apply_heap_policy(HeapPolicy(retain_mb=32, idle_trim_s=0.2))
        class Request:
            pass
        request = Request()
        request.body = bytearray(8 * 2**20)
        request.itself = request  # the cycle
        gone = weakref.ref(request)
        burn(0.15)
        del request
        held = gone() is not None
        time.sleep(1.2)
        print(json.dumps({"held_before_rest": held, "after_rest": gone() is None}))
        """
    )
    assert result == {"held_before_rest": True, "after_rest": True}


def test_the_trimmer_waits_for_the_process_to_rest() -> None:
    result = run(
        """
        import json, time
        from bentoml_classic.serving.heap import IdleTrimmer, _glibc
        trimmer = IdleTrimmer(_glibc(), 0.2)
        trimmer.start()
        burn(1.0)  # busy across several checks: no trim
        while_busy = trimmer.trims
        time.sleep(1.0)  # resting: one trim, however long the rest
        after_rest = trimmer.trims
        time.sleep(0.6)
        print(json.dumps({"busy": while_busy, "rest": after_rest, "later": trimmer.trims}))
        """
    )
    assert result == {"busy": 0, "rest": 1, "later": 1}


def test_the_policy_travels_in_the_worker_spec_as_its_fields() -> None:
    assert HeapPolicy.from_spec({}) == HeapPolicy()
    assert HeapPolicy.from_spec({"retain_mb": 8, "idle_trim_s": 0.5}) == HeapPolicy(8, 0.5)
