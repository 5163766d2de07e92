"""The framework's own metrics, under classic BentoML's names and labels.

- API workers: ``bentoml_api_server_request_total``, ``..._request_duration_seconds`` (a
  histogram) and ``..._request_in_progress``, labelled ``endpoint`` (the API's route),
  ``service_name``, ``service_version`` and, but for the gauge, ``http_response_code``;
- runner workers: ``bentoml_runner_request_total``, ``..._request_duration_seconds`` and
  ``..._request_in_progress``, the same labels plus ``runner_name``; ``endpoint`` is the
  method's path as classic's runner app routed it (``/predict``, ``/`` for ``__call__``);
- wherever a batch is run: ``bentoml_runner_adaptive_batch_size``, rows per batch, labelled
  ``runner_name``, ``worker_index``, ``method_name``, ``service_version``, ``service_name``.

The namespaces (``bentoml_api_server``, ``bentoml_runner``) are classic's configuration keys
``api_server.metrics.namespace`` and ``runners.metrics.namespace``.

A meter (``meters.py``) is made once per route or method, keeps the library's children of each
label set it has seen, and adds requests up in the process, writing them a few times a second
(``meters.py`` says why).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

from .meters import DeferredMeter, DeferredObserver, RequestFamilies
from .registry import prometheus, unregister

API_NAMESPACE = "bentoml_api_server"
RUNNER_NAMESPACE = "bentoml_runner"
#: ``service_version`` of a service served from its module rather than a built bento
NO_VERSION = "not available"
#: prometheus_client's default buckets, which classic used for request durations
#: (config/observability.py lists them again for its defaults: see there why)
DEFAULT_DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


class Observer(Protocol):
    """What records a batch size: a histogram's child, or anything with ``observe``."""

    def observe(self, amount: float) -> None: ...


def exponential_buckets(start: float, factor: float, end: float) -> tuple[float, ...]:
    """``start, start*factor, ...`` while below ``end``, then ``end`` (classic's helper:
    ``min: 0.1, max: 5, factor: 2`` gives 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5)."""
    if not (0 < start < end and factor > 1):
        raise ValueError(f"need 0 < start < end and factor > 1, got {start}, {end}, {factor}")
    buckets: list[float] = []
    bound = start
    while bound < end:
        buckets.append(bound)
        bound *= factor
    return (*buckets, end)


#: per process: the families made so far, by name prefix, with what they were made from
_families: dict[str, tuple[tuple[Any, ...], RequestFamilies]] = {}


def _request_families(
    namespace: str, labels: Sequence[str], buckets: Sequence[float], what: str
) -> RequestFamilies:
    """The three request families under ``namespace``, made once per process.

    A second app in the same process (tests, a notebook) with other buckets replaces them:
    the registry cannot hold two families of one name.
    """
    key = (tuple(labels), tuple(buckets))
    made = _families.get(namespace)
    if made is not None and made[0] == key:
        return made[1]
    if made is not None:
        for family in (made[1].total, made[1].duration, made[1].in_progress):
            unregister(family)
    client = prometheus()
    with_status = [*labels[:3], "http_response_code", *labels[3:]]
    families = RequestFamilies(
        total=client.Counter(f"{namespace}_request_total", f"Total number of {what}", with_status),
        duration=client.Histogram(
            f"{namespace}_request_duration_seconds",
            f"{what[0].upper()}{what[1:]} duration in seconds",
            with_status,
            buckets=tuple(buckets),
        ),
        in_progress=client.Gauge(
            f"{namespace}_request_in_progress",
            f"Total number of {what} in progress now",
            list(labels),
            multiprocess_mode="livesum",
        ),
    )
    _families[namespace] = (key, families)
    return families


def api_meter(
    route: str,
    service_name: str,
    *,
    namespace: str = API_NAMESPACE,
    buckets: Sequence[float] = DEFAULT_DURATION_BUCKETS,
) -> DeferredMeter:
    """The meter of one API route (``/classify``) of an API worker."""
    families = _request_families(
        namespace, ("endpoint", "service_name", "service_version"), buckets, "HTTP requests"
    )
    return DeferredMeter(
        families, {"endpoint": route, "service_name": service_name, "service_version": NO_VERSION}
    )


def runner_endpoint(method: str) -> str:
    """A runner method's ``endpoint`` label: its path in classic's runner app."""
    return "/" if method == "__call__" else f"/{method}"


def runner_meter(
    runner_name: str, method: str, service_name: str, *, namespace: str = RUNNER_NAMESPACE
) -> DeferredMeter:
    """The meter of one method of a runner, in the process that serves its calls."""
    families = _request_families(
        namespace,
        ("endpoint", "service_name", "service_version", "runner_name"),
        DEFAULT_DURATION_BUCKETS,
        "runner RPC",
    )
    labels = {
        "endpoint": runner_endpoint(method),
        "service_name": service_name,
        "service_version": NO_VERSION,
        "runner_name": runner_name,
    }
    return DeferredMeter(families, labels)


_batch_sizes: Any = None


def batch_size_observer(
    runner_name: str,
    method: str,
    service_name: str,
    worker_index: str,
    max_batch_size: int,
    *,
    deferred: bool = False,
) -> Observer:
    """Where a batch of ``method`` records its rows; ``deferred``: written later
    (``meters.py``), for batches recorded on one event loop's thread (a runner worker's).

    The buckets are classic's: powers of two below ``max_batch_size``, then it. One process
    holds one family, so the first runner to ask sets them; a later runner with a larger
    ``max_batch_size`` (several runners in one development process) still counts every batch,
    the largest ones in ``+Inf``.
    """
    global _batch_sizes
    if _batch_sizes is None:
        end = max(int(max_batch_size), 2)
        _batch_sizes = prometheus().Histogram(
            f"{RUNNER_NAMESPACE}_adaptive_batch_size",
            "Runner adaptive batch size",
            ["runner_name", "worker_index", "method_name", "service_version", "service_name"],
            buckets=(*exponential_buckets(1, 2, end), math.inf),
        )
    child: Observer = _batch_sizes.labels(
        runner_name=runner_name,
        worker_index=worker_index,
        method_name=method,
        service_version=NO_VERSION,
        service_name=service_name,
    )
    return DeferredObserver(child) if deferred else child
