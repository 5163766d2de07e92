"""The user's metrics: classic's ``bentoml.metrics.Counter``, ``Gauge``, ``Histogram``,
``Summary``, with prometheus_client's signatures (name, documentation, labelnames, namespace,
subsystem, unit, and each type's own options).

They may be created at the top of a service module, in any process: the arbiter (which imports
the service once), an API worker or a runner worker. Workers are started with the multiprocess
directory already in their environment (``registry.py`` says why that matters), so a metric
made at import writes where ``/metrics`` reads, whichever process it lives in.

Names and label names are checked here, with classic's rules (prometheus_client before its
UTF-8 names): a mistake is an ``InvalidArgument`` that names the metric, when the service is
imported rather than on the first request. Defining the same metric twice in one process (a
module imported under two names) gives back the first; the same name with other settings is
an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from ..exceptions import InvalidArgument
from .registry import prometheus

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

#: by full name: what it was defined with, and the metric
_defined: dict[str, tuple[tuple[Any, ...], Any]] = {}


def _full_name(name: Any, namespace: Any, subsystem: Any, unit: Any, kind: str) -> str:
    for what, value in (("name", name), ("namespace", namespace), ("subsystem", subsystem)):
        if not isinstance(value, str):
            raise InvalidArgument(f"{kind} {name!r}: {what} must be a string, got {value!r}")
    if not isinstance(unit, str):
        raise InvalidArgument(f"{kind} {name!r}: unit must be a string, got {unit!r}")
    full = "_".join(part for part in (namespace, subsystem, name) if part)
    if unit and not full.endswith(f"_{unit}"):
        full = f"{full}_{unit}"
    if not _METRIC_NAME.fullmatch(full):
        raise InvalidArgument(
            f"{kind} {full!r}: invalid metric name; use letters, digits, '_' and ':', "
            "not starting with a digit"
        )
    return full


def _label_names(full: str, labelnames: Any, reserved: tuple[str, ...], kind: str) -> list[str]:
    if isinstance(labelnames, str) or not isinstance(labelnames, Iterable):
        raise InvalidArgument(
            f"{kind} {full!r}: labelnames must be a list or tuple of names, got {labelnames!r}"
        )
    names = list(labelnames)
    for label in names:
        if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
            raise InvalidArgument(
                f"{kind} {full!r}: invalid label name {label!r}; use letters, digits and '_', "
                "not starting with a digit"
            )
        if label.startswith("__") or label in reserved:
            raise InvalidArgument(f"{kind} {full!r}: the label name {label!r} is reserved")
    if len(set(names)) != len(names):
        raise InvalidArgument(f"{kind} {full!r}: a label name is repeated in {names}")
    return names


class _UserMetric:
    """A prometheus_client metric, checked on creation; everything else is the library's
    (``inc``, ``observe``, ``time()``, ``track_inprogress()``, ``labels``, ...)."""

    _kind: ClassVar[str]
    _reserved_labels: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        **options: Any,
    ) -> None:
        kind = type(self).__name__
        full = _full_name(name, namespace, subsystem, unit, kind)
        if "registry" in options:
            raise InvalidArgument(
                f"{kind} {full!r}: registry cannot be passed; /metrics serves the metrics of "
                "every process of the deployment"
            )
        if not isinstance(documentation, str):
            raise InvalidArgument(f"{kind} {full!r}: documentation must be a string")
        labels = _label_names(full, labelnames, self._reserved(options), kind)
        signature = (kind, documentation, tuple(labels), tuple(sorted(options.items(), key=str)))
        self._name = full
        existing = _defined.get(full)
        if existing is not None:
            if existing[0] != signature:
                raise InvalidArgument(
                    f"{kind} {full!r} is already defined in this process with other settings"
                )
            self._metric = existing[1]
            return
        factory = getattr(prometheus(), self._kind)
        try:
            self._metric = factory(
                name, documentation, labels, namespace, subsystem, unit, **options
            )
        except (ValueError, TypeError) as exc:
            raise InvalidArgument(f"{kind} {full!r}: {exc}") from None
        _defined[full] = (signature, self._metric)

    @property
    def name(self) -> str:
        """The full name (namespace, subsystem, name and unit joined)."""
        return self._name

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Any:
        """The child for these label values; a mistake names the metric."""
        try:
            return self._metric.labels(*labelvalues, **labelkwargs)
        except ValueError as exc:
            # a bug in the caller's code, not the client's: stays a ValueError (a 500)
            raise ValueError(f"metric {self._name!r}: {exc}") from None

    @classmethod
    def _reserved(cls, options: dict[str, Any]) -> tuple[str, ...]:
        return cls._reserved_labels

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):
            raise AttributeError(attribute)  # not the library's, and not made yet
        return getattr(self._metric, attribute)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"


class Counter(_UserMetric):
    """A total that only goes up (``inc(amount=1)``, ``count_exceptions()``)."""

    _kind = "Counter"


class Gauge(_UserMetric):
    """A value that goes up and down (``inc``, ``dec``, ``set``, ``track_inprogress()``).

    ``multiprocess_mode`` says how the values of the processes combine: ``all`` (the default:
    one series per process, labelled ``pid`` with an opaque id of the process), ``liveall``,
    ``sum``, ``livesum``, ``min``, ``livemin``, ``max``, ``livemax``, ``mostrecent``,
    ``livemostrecent``; the ``live`` modes forget a process once it has exited.
    """

    _kind = "Gauge"
    # the multiprocess collector labels each process's series ``pid`` in the modes all and
    # liveall, and drops every label of that name in the others
    _reserved_labels = ("pid",)


class Histogram(_UserMetric):
    """Observations counted in buckets (``observe(amount)``, ``time()``); ``buckets=``."""

    _kind = "Histogram"
    _reserved_labels = ("le",)


class Summary(_UserMetric):
    """Observations' count and sum (``observe(amount)``, ``time()``)."""

    _kind = "Summary"
    _reserved_labels = ("quantile",)
