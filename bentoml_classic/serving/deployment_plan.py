"""What the supervisor needs to know of a service, learnt in a short-lived child process.

The supervisor of ``bentoml serve`` lives as long as the deployment. Importing the user's
service there would keep everything that module imports (pandas, and with it pyarrow, often a
framework) resident in a process that never serves a request. So a child process imports the
service, runs its ``on_deployment`` hooks, and answers with the plan as JSON: the service's
name, each runner's worker environments and batch policies, and what the hooks did to the
environment, which the supervisor applies to its own so that every worker inherits it, as it
did when the hooks ran in the supervisor.

The answer comes back on a pipe of its own, not stdout: the user's module may print.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import exceptions
from ..composition.graph import ServiceGraph, ServiceNode
from ..config import BentoMLConfig, as_settings
from ..exceptions import BentoMLException
from .library_preload import libraries_loaded
from .resources import listed_gpus, place_gpus, worker_envs

if TYPE_CHECKING:
    from ..runner.runner import Runner

#: the variable that hands the child the configuration the supervisor resolved (as_settings)
_CONFIG_ENV = "BENTOML_PLAN_CONFIG"


@dataclass
class RunnerPlan:
    """One runner that runs in worker processes of its own."""

    name: str
    #: its position among the service's runners (names its sockets)
    index: int
    #: the environment of each of its workers (``resources.worker_envs``)
    worker_envs: list[dict[str, str]]
    #: method name -> its BatchPolicy's fields, for the batchable methods
    batch_policies: dict[str, dict[str, Any]]
    #: a Triton runner's tritonserver (``triton_processes.triton_plan``); None for others
    triton: dict[str, Any] | None = None


@dataclass
class DeploymentPlan:
    service_name: str
    runners: list[RunnerPlan] = field(default_factory=list)
    #: the service graph (``composition/graph.py``): the entry, its dependencies, their runners
    graph: ServiceGraph | None = None
    #: the environment variables the hooks (or the module's import) set, and those they removed
    env_set: dict[str, str] = field(default_factory=dict)
    env_unset: list[str] = field(default_factory=list)
    #: the ``@bentoml.service(...)`` options of the graph's class services, by name
    #: (``class_services.py``)
    class_services: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the libraries importing the service loaded that may be imported before the workers are
    #: forked (``library_preload.py``)
    libraries: list[str] = field(default_factory=list)

    def apply_environment(self) -> None:
        """Make the environment the hooks left the supervisor's, for its workers to inherit."""
        os.environ.update(self.env_set)
        for name in self.env_unset:
            os.environ.pop(name, None)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DeploymentPlan:
        runners = [RunnerPlan(**runner) for runner in raw.pop("runners")]
        graph = raw.pop("graph", None)
        if graph is not None:
            nodes = tuple(
                ServiceNode(node["name"], tuple(node["depends_on"]), tuple(node["runners"]))
                for node in graph["services"]
            )
            graph = ServiceGraph(graph["entry"], nodes)
        return cls(runners=runners, graph=graph, **raw)

    @property
    def dependencies(self) -> tuple[ServiceNode, ...]:
        return () if self.graph is None else self.graph.dependencies


def runner_plan(runner: Runner, index: int, config: BentoMLConfig) -> RunnerPlan:
    from ..triton.runner import TritonRunner

    runner_config = config.runner(runner.name)
    triton = None
    if isinstance(runner, TritonRunner):
        from .triton_processes import triton_plan

        triton = triton_plan(runner, runner_config)
    return RunnerPlan(
        name=runner.name,
        index=index,
        worker_envs=worker_envs(runner.runnable_class, runner_config),
        batch_policies={
            name: dataclasses.asdict(policy)
            for name, policy in runner.batch_policies(runner_config).items()
        },
        triton=triton,
    )


def plan_deployment(target: str, working_dir: str, config: BentoMLConfig) -> DeploymentPlan:
    """Import ``target`` and run its deployment hooks in a child process; its plan.

    A BentoML error there (a module that raises on import, a target naming no service, a bad
    runner resource) is raised here again, with its message; the child's own output (what the
    module prints or logs) goes where the supervisor's goes.
    """
    read_end, write_end = os.pipe()
    env = {**os.environ, _CONFIG_ENV: json.dumps(as_settings(config))}
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, target, working_dir, str(write_end)],
            pass_fds=(write_end,),
            env=env,
            cwd=working_dir,
        )
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        raw = answer.read()
    code = child.wait()
    if not raw:
        raise BentoMLException(
            f"planning the deployment of {target!r} failed: the process that imports the "
            f"service exited with code {code} and no answer"
        )
    message: dict[str, Any] = json.loads(raw)
    if "error" in message:
        raise _error_from(message["error"])
    return DeploymentPlan.from_json(message["plan"])


def _error_from(error: dict[str, str]) -> BentoMLException:
    kind = getattr(exceptions, error["kind"], None)
    if isinstance(kind, type) and issubclass(kind, BentoMLException):
        return kind(error["message"])
    return BentoMLException(error["message"])


def _make_plan(target: str, working_dir: str) -> DeploymentPlan:
    from ..config import build_config
    from ..loader import import_service
    from .class_services import class_service_options, place_service_gpus
    from .hooks import run_deployment_hooks

    before = dict(os.environ)
    config = build_config(json.loads(os.environ.pop(_CONFIG_ENV)))
    svc = import_service(target, working_dir)
    services = svc.all_services()
    # each runner once, however many services of the graph use it, in the order found
    runners = list({r.name: r for s in services.values() for r in s.runners}.values())
    # runners asking for a number of GPUs get different ones (resources.py)
    served = [(r.name, r.runnable_class) for r in runners if not r.embedded]
    config = place_gpus(config, served)
    # class services' GPU counts from the GPUs the runners did not get (one hand-out for both)
    class_services = place_service_gpus(
        class_service_options(services), listed_gpus(config, served)
    )
    for service in services.values():
        run_deployment_hooks(service)
    after = dict(os.environ)
    return DeploymentPlan(
        service_name=svc.name,
        graph=svc.graph(),
        runners=[
            runner_plan(runner, index, config)
            for index, runner in enumerate(runners)
            if not runner.embedded
        ],
        env_set={k: v for k, v in after.items() if before.get(k) != v},
        env_unset=sorted(set(before) - set(after) - {_CONFIG_ENV}),
        class_services=class_services,
        libraries=libraries_loaded(sys.modules),
    )


def main() -> None:
    from ..log_format import SUPERVISOR, configure_server_logging

    target, working_dir, answer_fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    configure_server_logging(SUPERVISOR)
    message: dict[str, Any]
    try:
        message = {"plan": dataclasses.asdict(_make_plan(target, working_dir))}
    except BentoMLException as exc:
        message = {"error": {"kind": type(exc).__name__, "message": str(exc)}}
    except Exception as exc:  # a hook's own bug: its traceback is what the user needs
        message = {
            "error": {
                "kind": "BentoMLException",
                "message": f"starting {target!r} failed in an on_deployment hook or the "
                f"runners' set-up:\n{''.join(traceback.format_exception(exc)).rstrip()}",
            }
        }
    with os.fdopen(answer_fd, "w") as answer:
        json.dump(message, answer)


if __name__ == "__main__":
    main()
