"""``services.<name>.*``: the processes and traffic of each service of a composed graph.

The entry service keeps ``api_server.*``; a dependency (``bentoml_classic.depends``) has no
HTTP port, so only its worker count and the traffic its callers send it are set here.
"""

from __future__ import annotations

from pydantic import Field

from .base import _Strict


class ServiceTrafficConfig(_Strict):
    #: seconds a caller waits for one call to this service before a 504
    timeout: float = Field(60.0, gt=0)
    #: calls in progress per worker of this service; one more is shed with a 503. None: no limit
    max_concurrency: int | None = Field(None, gt=0)


class ServiceConfig(_Strict):
    #: worker processes of this service; None: one. A worker runs async APIs side by side on
    #: its event loop and sync ones in a thread pool; more workers help CPU-heavy Python code,
    #: and cost a relay-like dependency more than they give on a small machine
    #: (docs/benchmarks.md)
    workers: int | None = Field(None, gt=0)
    traffic: ServiceTrafficConfig = ServiceTrafficConfig()
