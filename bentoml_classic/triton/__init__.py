"""Triton Inference Server runners, as in classic BentoML's ``bentoml.triton``::

    triton_runner = bentoml_classic.triton.Runner("triton_runner", "./model_repository")

``tritonclient`` (the ``[triton]`` extra) is imported only by the processes that call Triton.
"""

from .runner import TritonModel, TritonRunner

Runner = TritonRunner

__all__ = ["Runner", "TritonModel", "TritonRunner"]
