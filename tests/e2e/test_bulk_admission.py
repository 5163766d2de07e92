"""Bulk frames under the default configuration (issue 17): many concurrent calls far larger
than ``max_batch_size`` are all served, none refused because their rows outnumber a bound.

A real ``bentoml serve`` (2 API workers, the runner's default workers), the default
configuration (no file, no options), a ``PandasDataFrame(orient="records")`` API over a
batchable Runnable that sums each row. 16 and then 64 clients, released together, each send
1,000-row frames (and a few 10,000-row ones) to the sync and the async API; every answer must
be 200 with the right sums. Before issue 17 the queue bound of 32 batches of 100 rows refused
most of them with 503.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support.servers import E2E_SERVICES, serve_subprocess

COLUMNS = [f"f{i}" for i in range(8)]
ROUNDS = 1  # requests each client sends, one after the other


def records_body(rows: int, tag: int) -> tuple[bytes, list[float]]:
    """A records frame whose row sums tell its client apart, and those sums."""
    values = np.arange(rows * 8, dtype=np.float64).reshape(rows, 8) % 7 + tag
    body = json.dumps([dict(zip(COLUMNS, row, strict=True)) for row in values.tolist()])
    return body.encode(), values.sum(axis=1).tolist()


@pytest.fixture(scope="module")
def bulk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("bulk_home")
    env = {"BENTOML_HOME": str(home), "BENTOML_CONFIG": "", "BENTOML_CONFIG_OPTIONS": ""}
    args = ["bulk_service:svc", "--api-workers", "2"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, _):
        yield url


def load(url: str, clients: int, large_every: int) -> list[str]:
    """``clients`` threads released at once; every ``large_every``-th one sends 10,000 rows.
    Returns what went wrong (empty: every answer was a 200 with the right sums)."""
    bodies = {rows: records_body(rows, rows % 5) for rows in (1000, 10_000)}
    problems: list[str] = []
    barrier = threading.Barrier(clients)

    def client(i: int) -> None:
        rows = 10_000 if i % large_every == 0 else 1000
        body, expected = bodies[rows]
        route = "async_sums" if i % 2 else "sums"
        with httpx.Client(timeout=60) as session:
            barrier.wait()
            for _ in range(ROUNDS):
                try:
                    response = session.post(
                        f"{url}/{route}",
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                except httpx.HTTPError as exc:
                    problems.append(f"client {i}: {exc!r}")
                    return
                if response.status_code != 200:
                    problems.append(f"client {i}: {response.status_code} {response.text[:300]}")
                elif response.json() != expected:
                    problems.append(f"client {i}: wrong sums for {rows} rows")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    problems += [f"client {i} still running" for i, t in enumerate(threads) if t.is_alive()]
    return problems


@pytest.mark.parametrize(("clients", "large_every"), [(16, 8), (64, 16)])
def test_concurrent_bulk_frames_are_all_served_under_the_default_configuration(
    bulk_server: str, clients: int, large_every: int
) -> None:
    problems = load(bulk_server, clients, large_every)
    assert problems == [], f"{len(problems)} failed: {problems[:5]}"
