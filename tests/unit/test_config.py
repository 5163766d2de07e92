"""Configuration: defaults, the BENTOML_CONFIG file, BENTOML_CONFIG_OPTIONS, runner overrides."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bentoml_classic.config import (
    BentoMLConfig,
    RunnerConfig,
    as_settings,
    build_config,
    load_config,
    with_settings,
)
from bentoml_classic.exceptions import BentoMLConfigException


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("BENTOML_CONFIG", raising=False)
    monkeypatch.delenv("BENTOML_CONFIG_OPTIONS", raising=False)
    load_config.cache_clear()
    yield
    load_config.cache_clear()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bentoml_configuration.yaml"
    path.write_text(textwrap.dedent(text))
    return path


# -- defaults --------------------------------------------------------------------------------


def test_defaults() -> None:
    config = build_config({})
    assert isinstance(config, BentoMLConfig)
    assert config.api_server.workers is None
    assert config.api_server.http.host == "127.0.0.1"
    assert config.api_server.http.port == 3000
    assert config.api_server.traffic.timeout == 60.0
    assert config.api_server.traffic.max_concurrency is None
    assert config.api_server.max_request_size == 20 * 1024 * 1024
    assert config.runners.batching.enabled is True
    # unset: 100 rows a batch, larger calls not cut (runner/test_policies.py)
    assert config.runners.batching.max_batch_size is None
    assert config.runners.batching.max_latency_ms == 10_000.0
    assert config.runners.batching.max_queue_size is None
    assert config.runners.batching.max_queue_bytes is None
    assert config.runners.workers_per_resource == 1.0
    assert config.runners.resources is None
    assert config.runners.timeout == 300.0
    assert config.api_server.scheduling_policy == "batch"
    assert config.runners.scheduling_policy == "inherit"
    assert (config.api_server.heap.retain_mb, config.api_server.heap.idle_trim_s) == (32, 2.0)
    assert config.runners.heap == config.api_server.heap
    assert config.runner("anything") == config.runners


def test_load_config_without_environment_is_the_defaults() -> None:
    assert load_config() == build_config({})


def test_every_classic_key() -> None:
    config = build_config(
        {
            "api_server": {
                "workers": 3,
                "http": {"host": "0.0.0.0", "port": 8080},
                "traffic": {"timeout": 5, "max_concurrency": 7},
                "max_request_size": 1024,
            },
            "runners": {
                "batching": {"enabled": False, "max_batch_size": 8, "max_latency_ms": 25},
                "workers_per_resource": 2,
                "resources": {"cpu": 4, "nvidia.com/gpu": [0, 1]},
                "timeout": 12,
            },
        }
    )
    assert config.api_server.workers == 3
    assert (config.api_server.http.host, config.api_server.http.port) == ("0.0.0.0", 8080)
    assert config.api_server.traffic.timeout == 5
    assert config.api_server.traffic.max_concurrency == 7
    assert config.api_server.max_request_size == 1024
    runners = config.runners
    assert runners.batching == runners.batching.model_copy(
        update={"enabled": False, "max_batch_size": 8, "max_latency_ms": 25}
    )
    assert runners.batching.enabled is False
    assert runners.batching.max_batch_size == 8
    assert runners.batching.max_latency_ms == 25
    assert runners.workers_per_resource == 2
    assert runners.resources.model_dump(by_alias=True, exclude_none=True) == {
        "cpu": 4,
        "nvidia.com/gpu": [0, 1],
    }
    assert runners.timeout == 12


def test_classic_ssl_backlog_and_timeouts_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """api_server.ssl / backlog / timeouts as classic 1.1's default configuration spells them."""
    path = write_config(
        tmp_path,
        """
        api_server:
          backlog: 512
          ssl:
            enabled: true
            certfile: /etc/tls/cert.pem
            keyfile: /etc/tls/key.pem
            keyfile_password: ~
            ca_certs: ~
            version: 17
            cert_reqs: 0
            ciphers: TLSv1
          timeouts:
            keep_alive: 10
            graceful_shutdown: 7
        """,
    )
    monkeypatch.setenv("BENTOML_CONFIG", str(path))
    config = load_config()
    assert config.api_server.backlog == 512
    assert config.api_server.ssl.certfile == "/etc/tls/cert.pem"
    assert config.api_server.ssl.enabled is True
    assert config.api_server.timeouts.keep_alive == 10
    assert config.grace_seconds == 7  # classic's key wins over graceful_shutdown_timeout
    defaults = build_config({}).api_server
    assert (defaults.backlog, defaults.ssl.certfile, defaults.ssl.version) == (2048, None, 17)
    assert (defaults.timeouts.keep_alive, defaults.timeouts.graceful_shutdown) == (5, None)


def test_as_settings_round_trips_through_json() -> None:
    config = build_config(
        {
            "api_server": {"ssl": {"certfile": "/c.pem"}, "traffic": {"timeout": 4}},
            "runners": {"iris": {"resources": {"nvidia.com/gpu": [1]}, "timeout": 9}},
        }
    )
    assert build_config(json.loads(json.dumps(as_settings(config)))) == config


def test_with_settings_writes_over_keys_and_names_a_bad_one() -> None:
    config = build_config({"runners": {"iris": {"batching": {"max_batch_size": 5}}}})
    changed = with_settings(config, {"api_server.traffic.timeout": 3, "runners.iris.timeout": 8})
    assert changed.api_server.traffic.timeout == 3
    assert changed.runner("iris").timeout == 8
    assert changed.runner("iris").batching.max_batch_size == 5  # kept
    assert with_settings(config, {}) == config
    with pytest.raises(BentoMLConfigException, match=r"api_server\.backlog"):
        with_settings(config, {"api_server.backlog": 0})


def test_config_is_frozen() -> None:
    config = build_config({})
    with pytest.raises(ValidationError):
        config.api_server.http.port = 1  # type: ignore[misc]


# -- per-runner overrides --------------------------------------------------------------------


def test_runner_overrides_merge_over_runner_defaults() -> None:
    config = build_config(
        {
            "runners": {
                "batching": {"max_batch_size": 50, "max_latency_ms": 100},
                "timeout": 30,
                "iris_clf": {"batching": {"max_batch_size": 5}, "resources": {"cpu": 2}},
                "other": {"timeout": 99},
            }
        }
    )
    iris = config.runner("iris_clf")
    assert isinstance(iris, RunnerConfig)
    assert iris.batching.max_batch_size == 5
    assert iris.batching.max_latency_ms == 100  # inherited from runners.batching
    assert iris.timeout == 30
    assert iris.resources.model_dump(by_alias=True, exclude_none=True) == {"cpu": 2}
    other = config.runner("other")
    assert other.timeout == 99
    assert other.batching.max_batch_size == 50
    # runners without a section get the defaults; the defaults are not changed by overrides
    assert config.runner("unknown_runner") == config.runners
    assert config.runners.batching.max_batch_size == 50
    assert config.runners.timeout == 30


def test_runner_override_of_resources_merges_keys() -> None:
    config = build_config(
        {"runners": {"resources": {"cpu": 4}, "gpu_runner": {"resources": {"nvidia.com/gpu": 1}}}}
    )
    assert config.runner("gpu_runner").resources.model_dump(by_alias=True, exclude_none=True) == {
        "cpu": 4,
        "nvidia.com/gpu": 1,
    }
    assert config.runners.resources.model_dump(by_alias=True, exclude_none=True) == {"cpu": 4}


# -- unknown keys and bad values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"api_servr": {}}, "api_servr"),
        ({"api_server": {"worker": 2}}, "api_server.worker"),
        ({"api_server": {"http": {"prot": 1}}}, "api_server.http.prot"),
        ({"api_server": {"traffic": {"timeuot": 1}}}, "api_server.traffic.timeuot"),
        ({"runners": {"my_runner": {"timout": 5}}}, "runners.my_runner.timout"),
        (
            {"runners": {"my_runner": {"batching": {"max_size": 5}}}},
            "runners.my_runner.batching.max_size",
        ),
        ({"runners": {"timout": 5}}, "runners.timout"),
    ],
)
def test_unknown_keys_are_named(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(BentoMLConfigException) as caught:
        build_config(raw)
    assert f"'{key}'" in str(caught.value)
    assert "unknown" in str(caught.value)


# Regression test (a bug, fixed since): an unknown key under the runner defaults
# (runners.batching.*) is reported without its "runners." prefix: "unknown configuration key
# 'batching.max_batch_sise'" (config, build_config: RunnerConfig.model_validate(defaults) fails
# inside the outer try, which calls _explain(exc, "") instead of _explain(exc, "runners")).
def test_unknown_key_under_runners_batching_is_named_in_full() -> None:
    with pytest.raises(BentoMLConfigException) as caught:
        build_config({"runners": {"batching": {"max_batch_sise": 5}}})
    assert "'runners.batching.max_batch_sise'" in str(caught.value)


# Regression test (a bug, fixed since): same as above for bad values: "timeout: Input should be
# greater than 0" instead of naming runners.timeout (config, build_config, _explain(exc, "")).
def test_bad_value_under_runners_is_named_in_full() -> None:
    with pytest.raises(BentoMLConfigException) as caught:
        build_config({"runners": {"timeout": -1}})
    assert "runners.timeout" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"api_server": {"workers": 0}}, "api_server.workers"),
        ({"api_server": {"http": {"port": 70000}}}, "api_server.http.port"),
        ({"api_server": {"traffic": {"timeout": "soon"}}}, "api_server.traffic.timeout"),
        ({"runners": {"r1": {"batching": {"max_batch_size": 0}}}}, "runners.r1.batching"),
        ({"runners": {"r1": {"timeout": -1}}}, "runners.r1.timeout"),
        ({"api_server": {"scheduling_policy": "fifo"}}, "api_server.scheduling_policy"),
        ({"runners": {"scheduling_policy": "rr"}}, "runners.scheduling_policy"),
        ({"api_server": {"heap": {"retain_mb": -1}}}, "api_server.heap.retain_mb"),
        ({"runners": {"r1": {"heap": {"idle_trim_s": -2}}}}, "runners.r1.heap.idle_trim_s"),
    ],
)
def test_bad_values_are_named(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(BentoMLConfigException) as caught:
        build_config(raw)
    assert key in str(caught.value)


def test_configuration_must_be_a_mapping() -> None:
    with pytest.raises(BentoMLConfigException):
        build_config(["api_server"])  # type: ignore[arg-type]


# Regression test (a bug, fixed since): a `runners` value that is not a mapping raises
# TypeError/ValueError from dict() instead of BentoMLConfigException (config, build_config:
# `dict(raw.get("runners") or {})` runs before the isinstance check, which can then never fail).
@pytest.mark.parametrize("value", [5, "fast", [1, 2]])
def test_runners_must_be_a_mapping(value: Any) -> None:
    with pytest.raises(BentoMLConfigException, match="runners"):
        build_config({"runners": value})


def test_runner_section_must_be_a_mapping() -> None:
    with pytest.raises(BentoMLConfigException, match=r"runners\.my_runner"):
        build_config({"runners": {"my_runner": 3}})


# -- BENTOML_CONFIG and BENTOML_CONFIG_OPTIONS -----------------------------------------------


def test_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(
        tmp_path,
        """
        api_server:
          workers: 2
          http:
            port: 5000
        runners:
          batching:
            max_batch_size: 16
          iris_clf:
            timeout: 7
        """,
    )
    monkeypatch.setenv("BENTOML_CONFIG", str(path))
    config = load_config()
    assert config.api_server.workers == 2
    assert config.api_server.http.port == 5000
    assert config.runners.batching.max_batch_size == 16
    assert config.runner("iris_clf").timeout == 7
    assert config.runner("iris_clf").batching.max_batch_size == 16


def test_load_config_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, "api_server:\n  workers: 2\n")
    monkeypatch.setenv("BENTOML_CONFIG", str(path))
    first = load_config()
    path.write_text("api_server:\n  workers: 9\n")
    assert load_config() is first
    load_config.cache_clear()
    assert load_config().api_server.workers == 9


def test_empty_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENTOML_CONFIG", str(write_config(tmp_path, "# nothing\n")))
    assert load_config() == build_config({})


def test_unknown_key_in_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, "api_server:\n  http:\n    hots: 0.0.0.0\n")
    monkeypatch.setenv("BENTOML_CONFIG", str(path))
    with pytest.raises(BentoMLConfigException, match=r"api_server\.http\.hots"):
        load_config()


def test_missing_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENTOML_CONFIG", str(tmp_path / "absent.yaml"))
    with pytest.raises(BentoMLConfigException, match=r"absent\.yaml"):
        load_config()


def test_invalid_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENTOML_CONFIG", str(write_config(tmp_path, "api_server: [1, 2\n")))
    with pytest.raises(BentoMLConfigException, match="YAML"):
        load_config()


def test_config_file_that_is_not_a_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENTOML_CONFIG", str(write_config(tmp_path, "- a\n- b\n")))
    with pytest.raises(BentoMLConfigException):
        load_config()


def test_config_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "BENTOML_CONFIG_OPTIONS",
        "api_server.workers=4 api_server.http.host=0.0.0.0 runners.batching.enabled=false "
        "runners.iris_clf.batching.max_latency_ms=12.5 runners.timeout=60",
    )
    config = load_config()
    assert config.api_server.workers == 4
    assert config.api_server.http.host == "0.0.0.0"
    assert config.runners.batching.enabled is False
    assert config.runners.timeout == 60
    assert config.runner("iris_clf").batching.max_latency_ms == 12.5
    assert config.runner("iris_clf").batching.enabled is False


def test_config_options_override_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(
        tmp_path,
        """
        api_server:
          workers: 2
          http:
            port: 5000
        runners:
          resources:
            cpu: 4
        """,
    )
    monkeypatch.setenv("BENTOML_CONFIG", str(path))
    monkeypatch.setenv("BENTOML_CONFIG_OPTIONS", "api_server.http.port=6000")
    config = load_config()
    assert config.api_server.http.port == 6000
    assert config.api_server.workers == 2  # the rest of the file stays
    assert config.runners.resources.model_dump(by_alias=True, exclude_none=True) == {"cpu": 4}


def test_config_options_values_are_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """``[1,2]`` arrives as a list (and is then refused: a CPU count is a number)."""
    monkeypatch.setenv("BENTOML_CONFIG_OPTIONS", "runners.resources.cpu=[1,2]")
    with pytest.raises(BentoMLConfigException, match=r"runners\.resources\.cpu"):
        load_config()
    load_config.cache_clear()
    monkeypatch.setenv("BENTOML_CONFIG_OPTIONS", "runners.batching.enabled=false")
    assert load_config().runners.batching.enabled is False


@pytest.mark.parametrize("options", ["api_server.workers", "=3", "api_server.workers 4"])
def test_malformed_config_options(monkeypatch: pytest.MonkeyPatch, options: str) -> None:
    monkeypatch.setenv("BENTOML_CONFIG_OPTIONS", options)
    with pytest.raises(BentoMLConfigException, match="BENTOML_CONFIG_OPTIONS"):
        load_config()


def test_unknown_key_in_config_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENTOML_CONFIG_OPTIONS", "api_server.http.portt=1")
    with pytest.raises(BentoMLConfigException, match=r"api_server\.http\.portt"):
        load_config()


# -- api_server.http.cors --------------------------------------------------------------------


def cors_of(section: Any) -> Any:
    return build_config({"api_server": {"http": {"cors": section}}}).api_server.http.cors


def test_cors_is_off_with_every_key_unset_by_default() -> None:
    cors = build_config({}).api_server.http.cors
    assert not cors.enabled
    assert cors.model_dump() == dict.fromkeys(cors.model_dump())


def test_cors_takes_every_classic_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(
        tmp_path,
        r"""
        api_server:
          http:
            cors:
              enabled: true
              access_control_allow_origins: ["https://a.example", "https://b.example"]
              access_control_allow_origin_regex: 'https://.*\.my_org\.com'
              access_control_allow_credentials: true
              access_control_allow_methods: ["GET", "POST"]
              access_control_allow_headers: "*"
              access_control_max_age: 1200
              access_control_expose_headers: ["Content-Length"]
        """,
    )
    monkeypatch.setenv("BENTOML_CONFIG", str(path))
    cors = load_config().api_server.http.cors
    assert cors.enabled is True
    assert cors.access_control_allow_origins == ["https://a.example", "https://b.example"]
    assert cors.access_control_allow_origin_regex == r"https://.*\.my_org\.com"
    assert cors.access_control_allow_credentials is True
    assert cors.access_control_allow_methods == ["GET", "POST"]
    assert cors.access_control_allow_headers == "*"
    assert cors.access_control_max_age == 1200
    assert cors.access_control_expose_headers == ["Content-Length"]


def test_every_cors_key_accepts_null_and_so_does_the_section() -> None:
    keys = [
        "enabled",
        "access_control_allow_origins",
        "access_control_allow_origin_regex",
        "access_control_allow_credentials",
        "access_control_allow_methods",
        "access_control_allow_headers",
        "access_control_max_age",
        "access_control_expose_headers",
    ]
    assert cors_of(dict.fromkeys(keys)) == cors_of({})
    assert cors_of(None) == cors_of({})


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"access_control_allow_origin_regex": "https://(unclosed"}, "access_control_allow_origin"),
        ({"access_control_allow_origins": 5}, "access_control_allow_origins"),
        ({"access_control_allow_methods": {"GET": 1}}, "access_control_allow_methods"),
        ({"access_control_max_age": "an hour"}, "access_control_max_age"),
        ({"access_control_allow_credentials": "perhaps"}, "access_control_allow_credentials"),
        ({"enabled": "sometimes"}, "enabled"),
        ({"allow_origins": ["*"]}, "allow_origins"),
    ],
)
def test_a_bad_cors_setting_is_named_in_full(section: dict[str, Any], key: str) -> None:
    with pytest.raises(BentoMLConfigException, match=rf"api_server\.http\.cors\.{key}"):
        cors_of(section)


def test_a_bad_cors_regex_says_why() -> None:
    with pytest.raises(BentoMLConfigException, match="not a valid regular expression"):
        cors_of({"access_control_allow_origin_regex": "["})


# --- api_server.metrics and runners.metrics (classic's keys) -----------------------------------


def test_metrics_keys_and_their_defaults() -> None:
    config = build_config(
        {
            "api_server": {"metrics": {"enabled": False, "namespace": "shop_api"}},
            "runners": {"metrics": {"namespace": "shop_runner"}, "iris": {"metrics": {}}},
        }
    )
    assert config.api_server.metrics.enabled is False
    assert config.api_server.metrics.namespace == "shop_api"
    assert config.runners.metrics.namespace == "shop_runner"
    assert config.runner("iris").metrics.enabled is True
    defaults = build_config({})
    assert defaults.api_server.metrics.duration.bounds()[:3] == (0.005, 0.01, 0.025)
    assert defaults.runners.metrics.namespace == "bentoml_runner"


def test_duration_buckets_from_a_list_or_from_min_max_factor() -> None:
    listed = {"api_server": {"metrics": {"duration": {"buckets": [0.1, 1, 10]}}}}
    assert build_config(listed).api_server.metrics.duration.bounds() == (0.1, 1, 10)
    made = {"api_server": {"metrics": {"duration": {"min": 0.1, "max": 5.0, "factor": 2.0}}}}
    config = build_config(made)
    assert config.api_server.metrics.duration.bounds() == (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0)
    # as a worker receives it: the default list travels next to min, max and factor
    assert build_config(as_settings(config)).api_server.metrics.duration.bounds() == (
        config.api_server.metrics.duration.bounds()
    )


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        ({"min": 0.1}, "min, max and factor go together"),
        ({"min": 1, "max": 0.5, "factor": 2}, "min must be below max"),
        ({"min": 0.1, "max": 5, "factor": 1}, "factor: Input should be greater than 1"),
        ({"buckets": [1, 0.5]}, "buckets must be in ascending order"),
        ({"buckets": []}, "buckets: List should have at least 1 item"),
        ({"buckets": [1], "min": 0.1, "max": 5, "factor": 2}, "either buckets or min, max"),
    ],
)
def test_bad_duration_buckets_are_named(duration: dict[str, Any], message: str) -> None:
    with pytest.raises(BentoMLConfigException) as caught:
        build_config({"api_server": {"metrics": {"duration": duration}}})
    assert "api_server.metrics.duration" in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize("section", ["api_server", "runners"])
def test_a_namespace_must_make_metric_names(section: str) -> None:
    with pytest.raises(BentoMLConfigException) as caught:
        build_config({section: {"metrics": {"namespace": "my api"}}})
    assert f"{section}.metrics.namespace" in str(caught.value)
    assert "'my api' is not a valid metric name prefix" in str(caught.value)


def test_the_default_duration_buckets_are_the_metrics_defaults() -> None:
    """config/observability.py and metrics/builtin.py each list them (the layers keep them
    apart)."""
    from bentoml_classic.config import BentoMLConfig
    from bentoml_classic.metrics.builtin import DEFAULT_DURATION_BUCKETS

    assert BentoMLConfig().api_server.metrics.duration.bounds() == DEFAULT_DURATION_BUCKETS


def test_services_sections_set_a_dependency_s_workers_and_traffic() -> None:
    config = build_config({"services": {"model": {"workers": 3, "traffic": {"timeout": 5}}}})
    assert config.service("model").workers == 3
    assert config.service("model").traffic.timeout == 5
    assert config.service("other").workers is None  # no section: the defaults
    assert build_config(as_settings(config)) == config
    with pytest.raises(
        BentoMLConfigException, match=r"unknown configuration key 'services\.model\.worker'"
    ):
        build_config({"services": {"model": {"worker": 3}}})
    with pytest.raises(BentoMLConfigException, match=r"services\.model\.workers"):
        build_config({"services": {"model": {"workers": 0}}})
