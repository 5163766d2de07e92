"""Adaptive batching: how values are measured, joined and cut (``containers.py``), the FIFO
queue and its policy, the drivers of that queue (runner worker, sync and async callers), and
the lane on which a runner worker runs its model.

Nothing here knows of ``Runner``: which policy a runner's method gets is decided with the
runner (``runner/policies.py``).
"""
