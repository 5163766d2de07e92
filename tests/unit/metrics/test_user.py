"""``bentoml_classic.metrics.Counter`` & co.: prometheus_client's signatures, checked names and
labels (an ``InvalidArgument`` naming the metric), what may not be passed, a second definition
of one metric, and that importing the module imports nothing heavy.

This test process runs prometheus_client as a single process does; each test names its metrics
apart, since the process keeps every metric it made.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import bentoml_classic as bentoml
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.metrics import Counter, Gauge, Histogram, Summary
from bentoml_classic.metrics.registry import exposition
from tests.support.metrics import parse, series, value


def scraped() -> list[tuple[str, dict[str, str], float]]:
    return parse(exposition().decode())


def test_the_four_kinds_take_prometheus_client_arguments() -> None:
    requests = Counter("user_requests", "Requests", ["route"], namespace="shop", subsystem="api")
    load = Gauge("user_load", "Load", multiprocess_mode="livesum")
    latency = Histogram("user_latency", "Latency", unit="seconds", buckets=(0.1, 1.0))
    sizes = Summary("user_sizes", "Sizes", labelnames=("kind",))
    requests.labels(route="/a").inc(2)
    requests.labels("/b").inc()
    load.set(7)
    latency.observe(0.5)
    with latency.time():
        pass
    sizes.labels(kind="x").observe(3)
    samples = scraped()
    assert requests.name == "shop_api_user_requests"
    assert value(samples, "shop_api_user_requests_total", route="/a") == 2
    assert value(samples, "shop_api_user_requests_total", route="/b") == 1
    assert value(samples, "user_load") == 7
    assert latency.name == "user_latency_seconds"
    assert value(samples, "user_latency_seconds_count") == 2
    assert {labels["le"] for labels in series(samples, "user_latency_seconds_bucket")} == {
        "0.1",
        "1.0",
        "+Inf",
    }
    assert value(samples, "user_sizes_sum", kind="x") == 3


def test_they_are_bentoml_metrics_as_classic_named_them() -> None:
    assert bentoml.metrics.Counter is Counter
    assert repr(Counter("user_repr", "For the repr")) == "Counter('user_repr')"


@pytest.mark.parametrize("name", ["my metric", "9lives", "a-b", "caf\u00e9", ""])
def test_an_invalid_metric_name_is_refused_naming_it(name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid metric name") as caught:
        Counter(name, "Documented")
    assert repr(name) in str(caught.value)


def test_a_name_that_is_no_string_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="name must be a string"):
        Counter(42, "Documented")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("labelnames", "message"),
    [
        (["a b"], "invalid label name 'a b'"),
        (["1st"], "invalid label name '1st'"),
        (["__internal"], "the label name '__internal' is reserved"),
        (["x", "x"], "a label name is repeated"),
        ("route", "labelnames must be a list or tuple"),
        ([7], "invalid label name 7"),
    ],
)
def test_invalid_label_names_are_refused_naming_the_metric(
    labelnames: object, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        Counter("user_labelled", "Documented", labelnames)  # type: ignore[arg-type]
    assert "Counter 'user_labelled'" in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "label", "options"),
    [
        (Histogram, "le", {}),
        (Summary, "quantile", {}),
        # "all", the default mode, labels each process's series with it; the others drop it
        (Gauge, "pid", {}),
        (Gauge, "pid", {"multiprocess_mode": "liveall"}),
        (Gauge, "pid", {"multiprocess_mode": "max"}),
    ],
)
def test_labels_the_library_adds_are_reserved(
    kind: type[Counter], label: str, options: dict[str, str]
) -> None:
    with pytest.raises(InvalidArgument, match=f"the label name '{label}' is reserved"):
        kind("user_reserved", "Documented", [label], **options)


def test_pid_is_free_where_the_library_adds_none() -> None:
    counter = Counter("user_pid_ok", "Documented", ["pid"])
    counter.labels(pid="7").inc()
    assert value(scraped(), "user_pid_ok_total", pid="7") == 1


def test_a_registry_cannot_be_passed() -> None:
    with pytest.raises(InvalidArgument, match="registry cannot be passed"):
        Counter("user_registry", "Documented", registry=None)


def test_documentation_must_be_a_string() -> None:
    with pytest.raises(InvalidArgument, match="documentation must be a string"):
        Counter("user_undocumented", None)  # type: ignore[arg-type]


def test_what_the_library_refuses_names_the_metric() -> None:
    with pytest.raises(InvalidArgument, match="Gauge 'user_mode': Invalid multiprocess mode"):
        Gauge("user_mode", "Documented", multiprocess_mode="sometimes")
    with pytest.raises(InvalidArgument, match="Counter 'user_kwarg'"):
        Counter("user_kwarg", "Documented", buckets=(1, 2))


def test_defining_a_metric_again_gives_back_the_first() -> None:
    first = Counter("user_twice", "Defined twice", ["a"])
    again = Counter("user_twice", "Defined twice", ["a"])
    first.labels(a="1").inc()
    again.labels(a="1").inc()
    assert value(scraped(), "user_twice_total", a="1") == 2


def test_the_same_name_with_other_settings_is_refused() -> None:
    Counter("user_clash", "One thing", ["a"])
    with pytest.raises(InvalidArgument, match="already defined in this process"):
        Counter("user_clash", "One thing", ["b"])
    with pytest.raises(InvalidArgument, match="already defined in this process"):
        Gauge("user_clash", "One thing", ["a"])


def test_wrong_label_values_name_the_metric_as_a_plain_value_error() -> None:
    counter = Counter("user_misused", "Documented", ["route"])
    # a bug of the service's code, not of the client: no InvalidArgument (a 400)
    with pytest.raises(ValueError, match="metric 'user_misused': Incorrect label names") as caught:
        counter.labels(path="/a")
    assert not isinstance(caught.value, InvalidArgument)


def test_importing_the_module_imports_no_prometheus_client() -> None:
    # it would fix the library's mode before the multiprocess directory is known
    code = (
        "import sys, bentoml_classic, bentoml_classic.metrics\n"
        "bentoml_classic.metrics.Counter\n"
        "assert 'prometheus_client' not in sys.modules, 'imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
