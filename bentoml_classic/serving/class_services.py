"""What ``@bentoml.service(...)`` asks of the deployment: default worker counts and traffic, and
each service's worker environment (GPUs, thread counts).

The decorator's values are defaults. A key the configuration sets wins, and so does a command
line argument (``--api-workers``, ``--timeout``): the entry service's ``workers`` and
``traffic`` fill ``api_server.workers`` and ``api_server.traffic.*``, a dependency's fill
``services.<name>.*``. The plan's child process reads them from the classes
(``deployment_plan.py``), so the supervisor never imports the user's module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..config import BentoMLConfig, as_settings, build_config
from .resources import gpu_pool, hand_out_gpus, machine_gpus, thread_env

logger = logging.getLogger(__name__)


def class_service_options(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: options}`` of the graph's class services (in the plan's child process)."""
    from ..service_classes import ClassService

    return {
        name: service.options.as_plan()
        for name, service in services.items()
        if isinstance(service, ClassService)
    }


def _is_set(given: BentoMLConfig, path: Sequence[str]) -> bool:
    """Whether the configuration as loaded sets the key ``path`` (``services`` by name)."""
    node: Any = given
    for part in path:
        if isinstance(node, dict):
            if part not in node:
                return False
            node = node[part]
            continue
        if part not in node.model_fields_set:
            return False
        node = getattr(node, part)
    return True


def _value(config: BentoMLConfig, path: Sequence[str]) -> Any:
    node: Any = config
    for part in path:
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return None
    return node


def with_class_defaults(
    config: BentoMLConfig,
    given: BentoMLConfig,
    entry: str,
    options: dict[str, dict[str, Any]],
) -> BentoMLConfig:
    """``config`` (arguments already written over ``given``, the configuration as loaded)
    with the decorators' defaults under every key that neither sets."""
    raw = as_settings(config)
    changed = False
    for name, wanted in options.items():
        if name == entry:
            keys = {
                ("api_server", "workers"): wanted["workers"],
                ("api_server", "traffic", "timeout"): wanted["timeout"],
                ("api_server", "traffic", "max_concurrency"): wanted["max_concurrency"],
            }
        else:
            keys = {
                ("services", name, "workers"): wanted["workers"],
                ("services", name, "traffic", "timeout"): wanted["timeout"],
                ("services", name, "traffic", "max_concurrency"): wanted["max_concurrency"],
            }
        for path, value in keys.items():
            argued = _value(config, path) != _value(given, path)
            if value is None or argued or _is_set(given, path):
                continue
            node = raw
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
            changed = True
    return build_config(raw) if changed else config


def _gpu_count(wanted: dict[str, Any]) -> int:
    gpu = wanted.get("gpu")
    return gpu if isinstance(gpu, int) and not isinstance(gpu, bool) and gpu > 0 else 0


def place_service_gpus(
    options: dict[str, dict[str, Any]],
    held: set[str],
    machine: Callable[[], Sequence[str] | None] = machine_gpus,
) -> dict[str, dict[str, Any]]:
    """``options`` with each class service's GPU count turned into GPU ids that neither a runner
    (``held``: the ids runners were given, ``place_gpus`` having run) nor another service has,
    from one hand-out (``resources.hand_out_gpus``), so that a service and a runner asking for
    one GPU each on a two-GPU machine do not both get GPU 0. A machine without GPUs leaves the
    counts as they are: ``service_envs`` runs those services on CPU, with a warning."""
    counted = [(name, _gpu_count(wanted)) for name, wanted in options.items()]
    counted = [(name, count) for name, count in counted if count]
    if not counted:
        return options
    explicit = set(held)
    for wanted in options.values():
        if isinstance(wanted.get("gpu"), list):
            explicit.update(str(gpu) for gpu in wanted["gpu"])
    pool = gpu_pool(counted, explicit, machine)
    if not pool:
        return options
    handed = hand_out_gpus(counted, explicit, pool, "service")
    return {
        name: {**wanted, "gpu": handed[name]} if name in handed else wanted
        for name, wanted in options.items()
    }


def service_envs(
    options: dict[str, dict[str, Any]],
    machine: Callable[[], Sequence[str] | None] = machine_gpus,
) -> dict[str, dict[str, str]]:
    """The environment of each class service's workers: ``CUDA_VISIBLE_DEVICES`` for ``gpu``
    (ids are taken as written: ``bentoml serve``'s plan has turned counts into ids with
    ``place_service_gpus``; a count left, as ``start-service-server`` starts one service alone,
    takes GPUs no other class service took, in graph order), the numeric libraries' thread
    counts for ``cpu``."""
    envs: dict[str, dict[str, str]] = {}
    counted = [o["gpu"] for o in options.values() if isinstance(o.get("gpu"), int) and o["gpu"]]
    listed = machine() if counted else None
    pool = [str(i) for i in range(sum(counted))] if listed is None else [str(g) for g in listed]
    taken = 0
    for name, wanted in options.items():
        env: dict[str, str] = {}
        gpu = wanted.get("gpu")
        if isinstance(gpu, list):
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu)
        elif isinstance(gpu, int) and gpu > 0:
            if not pool:
                logger.warning(
                    "service %r asks for %d GPU(s) and this machine has none: it runs on CPU",
                    name,
                    gpu,
                )
                env["CUDA_VISIBLE_DEVICES"] = ""
            else:
                ids = [pool[(taken + k) % len(pool)] for k in range(gpu)]
                taken += gpu
                env["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
        if wanted.get("cpu_threads"):
            env.update(thread_env(int(wanted["cpu_threads"])))
        if env:
            envs[name] = env
    return envs
