"""The bulk benchmark's request bodies, generated from a seed: the same bytes on every run and
every machine, and nothing downloaded.

Values are rounded to 4 decimals, as a client that exports measurements writes them; that makes
the 1,000-row records body the 113 KB the issue measured.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 17
COLUMNS = [f"f{i}" for i in range(8)]


@dataclass(frozen=True)
class Workload:
    """One kind of request: the endpoint it goes to (the same path on every server), its
    Content-Type, and its body."""

    name: str
    path: str
    content_type: str
    body: bytes

    def describe(self) -> str:
        return f"{self.name} ({len(self.body) / 1024:.0f} KiB, `{self.content_type}`)"

    def save(self, folder: Path) -> Path:
        """The body written to a file, for wrk's script to read."""
        path = folder / f"{self.path.strip('/')}.body"
        path.write_bytes(self.body)
        return path


def frame(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(rng.random((rows, len(COLUMNS))).round(4), columns=COLUMNS)


def workloads() -> list[Workload]:
    """The four workloads: 1,000 rows as JSON records, 10,000 rows as CSV and as parquet, and
    100x784 features as a JSON array for a float32 ``NumpyNdarray``."""
    rng = np.random.default_rng(SEED)
    records = frame(1_000, rng).to_dict(orient="records")
    large = frame(10_000, rng)
    parquet = io.BytesIO()
    large.to_parquet(parquet, engine="pyarrow", index=False)
    pixels = rng.random((100, 784)).round(4).tolist()
    return [
        Workload(
            "1,000-row frame, JSON records",
            "/records",
            "application/json",
            json.dumps(records).encode(),
        ),
        Workload("10,000-row frame, CSV", "/csv", "text/csv", large.to_csv(index=False).encode()),
        Workload(
            "10,000-row frame, parquet", "/parquet", "application/octet-stream", parquet.getvalue()
        ),
        Workload(
            "100x784 float32 ndarray, JSON",
            "/ndarray",
            "application/json",
            json.dumps(pixels).encode(),
        ),
    ]
