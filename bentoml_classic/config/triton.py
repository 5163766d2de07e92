"""``runners.<name>.triton.*``: how a Triton runner's ``tritonserver`` is found
(``bentoml_classic/triton/executable.py`` reads it)."""

from __future__ import annotations

from .base import _Strict


class TritonConfig(_Strict):
    #: the ``tritonserver`` to start for this runner (a path, or a name looked up on PATH); unset:
    #: ``BENTOML_TRITONSERVER``, else ``tritonserver`` on PATH
    executable: str | None = None
