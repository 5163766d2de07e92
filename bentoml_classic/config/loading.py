"""Reading the configuration: merging the sources, validating them, explaining what is wrong."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from pydantic import ValidationError

from ..exceptions import BentoMLConfigException
from .api_server import ApiServerConfig
from .base import _Strict
from .runners import RunnerConfig
from .services import ServiceConfig

CONFIG_ENV = "BENTOML_CONFIG"
OPTIONS_ENV = "BENTOML_CONFIG_OPTIONS"


class BentoMLConfig(_Strict):
    api_server: ApiServerConfig = ApiServerConfig()
    runners: RunnerConfig = RunnerConfig()
    #: per-runner overrides, already merged over ``runners``
    runner_overrides: dict[str, RunnerConfig] = {}
    #: the dependencies of a composed service, by name (``services.py``)
    services: dict[str, ServiceConfig] = {}

    def runner(self, name: str) -> RunnerConfig:
        return self.runner_overrides.get(name, self.runners)

    def service(self, name: str) -> ServiceConfig:
        return self.services.get(name) or ServiceConfig()

    @property
    def grace_seconds(self) -> float:
        """How long a stopping API worker drains: ``api_server.timeouts.graceful_shutdown``
        (classic's key) when set, else ``api_server.graceful_shutdown_timeout``."""
        graceful = self.api_server.timeouts.graceful_shutdown
        return self.api_server.graceful_shutdown_timeout if graceful is None else graceful


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parse_options(text: str) -> dict[str, Any]:
    """``a.b=1 c.d=true`` -> nested dict; values are parsed as YAML scalars."""
    import yaml

    result: dict[str, Any] = {}
    for item in text.split():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise BentoMLConfigException(f"{OPTIONS_ENV}: expected KEY=VALUE, got {item!r}")
        node = result
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return result


def _runner_fields() -> set[str]:
    return set(RunnerConfig.model_fields)


def build_config(raw: dict[str, Any]) -> BentoMLConfig:
    """Validate a nested dict of settings; error messages name the offending key."""
    if not isinstance(raw, dict):
        raise BentoMLConfigException("configuration must be a mapping of sections")
    runners_raw = raw.get("runners") or {}
    if not isinstance(runners_raw, dict):
        raise BentoMLConfigException(
            f"'runners' must be a mapping of settings, got {type(runners_raw).__name__}"
        )
    defaults = {k: v for k, v in runners_raw.items() if k in _runner_fields()}
    overrides_raw = {k: v for k, v in runners_raw.items() if k not in _runner_fields()}
    try:
        runners = RunnerConfig.model_validate(defaults)
    except ValidationError as exc:
        raise _explain(exc, "runners") from None
    try:
        overrides = {}
        for name, section in overrides_raw.items():
            if not isinstance(section, dict):
                raise BentoMLConfigException(
                    f"unknown configuration key 'runners.{name}' (a runner section must be a "
                    f"mapping; known keys: {sorted(_runner_fields())})"
                )
            merged = _deep_merge(runners.model_dump(by_alias=True, exclude_none=True), section)
            try:
                overrides[name] = RunnerConfig.model_validate(merged)
            except ValidationError as exc:
                raise _explain(exc, f"runners.{name}") from None
        rest = {k: v for k, v in raw.items() if k != "runners"}
        return BentoMLConfig.model_validate(
            {**rest, "runners": runners, "runner_overrides": overrides}
        )
    except ValidationError as exc:
        raise _explain(exc, "") from None


def _explain(exc: ValidationError, prefix: str) -> BentoMLConfigException:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown configuration key {key!r}")
        else:
            problems.append(f"{key}: {error['msg']}")
    return BentoMLConfigException("invalid configuration: " + "; ".join(problems))


def as_settings(config: BentoMLConfig) -> dict[str, Any]:
    """``config`` as the nested settings a file would hold (JSON-able): ``build_config`` of
    them is ``config`` again. How an arbiter hands its workers the configuration it resolved."""
    raw: dict[str, Any] = config.model_dump(
        mode="json", by_alias=True, exclude={"runner_overrides"}
    )
    for name, override in config.runner_overrides.items():
        raw["runners"][name] = override.model_dump(mode="json", by_alias=True)
    return raw


def with_settings(config: BentoMLConfig, settings: dict[str, Any]) -> BentoMLConfig:
    """``config`` with dotted ``settings`` (``{"api_server.traffic.timeout": 5}``) put over it,
    validated as a file's would be (a bad value is an error naming its key). The start
    functions' arguments (``timeout=``, ``backlog=``, ...) reach the workers this way, as
    part of the one configuration they are handed."""
    raw = as_settings(config)
    for key, value in settings.items():
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return build_config(raw)


def config_from_options(options: str) -> BentoMLConfig:
    """The configuration that ``BENTOML_CONFIG_OPTIONS=options`` alone would give."""
    return build_config(_parse_options(options))


@cache
def load_config() -> BentoMLConfig:
    """The configuration of this process (read once: workers inherit the same environment)."""
    raw: dict[str, Any] = {}
    path = os.environ.get(CONFIG_ENV)
    if path:
        import yaml

        try:
            with open(path) as file:
                raw = yaml.safe_load(file) or {}
        except OSError as exc:
            raise BentoMLConfigException(f"cannot read {CONFIG_ENV}={path!r}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise BentoMLConfigException(f"{path} is not valid YAML: {exc}") from exc
    options = os.environ.get(OPTIONS_ENV)
    if options:
        raw = _deep_merge(raw, _parse_options(options))
    return build_config(raw)
