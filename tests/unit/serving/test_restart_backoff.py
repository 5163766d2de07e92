"""``serving.restart_backoff``: a runner that keeps failing to start waits longer each time, up to
the cap, and a start that succeeds starts the count again."""

from __future__ import annotations

from pathlib import Path

from bentoml_classic.serving.restart_backoff import (
    RESTART_BACKOFF_CAP_S,
    RESTART_BACKOFF_S,
    StartFailures,
)


def test_each_failure_doubles_the_wait_up_to_the_cap(tmp_path: Path) -> None:
    waits = [StartFailures(str(tmp_path), "model").failed() for _ in range(12)]
    assert waits[:3] == [RESTART_BACKOFF_S, 2 * RESTART_BACKOFF_S, 4 * RESTART_BACKOFF_S]
    assert waits == sorted(waits) and waits[-1] == RESTART_BACKOFF_CAP_S


def test_a_start_that_succeeds_resets_the_count(tmp_path: Path) -> None:
    for _ in range(4):
        StartFailures(str(tmp_path), "model").failed()
    StartFailures(str(tmp_path), "model").started()
    assert StartFailures(str(tmp_path), "model").failed() == RESTART_BACKOFF_S
    assert StartFailures(str(tmp_path), "other").failed() == RESTART_BACKOFF_S  # per runner


def test_without_a_directory_every_failure_waits_the_first_wait() -> None:
    assert {StartFailures(None, "model").failed() for _ in range(3)} == {RESTART_BACKOFF_S}
