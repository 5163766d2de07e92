"""``api_server.heap.*`` and ``runners.heap.*``: how a worker's C heap keeps the memory its
requests freed (``bentoml_classic/serving/heap.py`` applies it)."""

from __future__ import annotations

from pydantic import Field

from .base import _Strict


class HeapConfig(_Strict):
    #: MiB of freed memory a worker keeps for its next requests instead of handing it back to the
    #: system at once; 0: the C library's own policy (glibc: a few MiB, adjusted as it goes)
    retain_mb: int = Field(32, ge=0)
    #: seconds a worker must rest (use under 1 % of a CPU) before it hands back what it kept;
    #: 0: it never does
    idle_trim_s: float = Field(2.0, ge=0)
