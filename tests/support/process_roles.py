"""Which process of a `bentoml serve` tree is which, whichever way its workers were started.

Started by Circus, an API worker runs ``serving.api_worker`` and a runner worker
``serving.runner_worker``. Forked by a preforking parent (the default since library preload,
and with ``preload``), a worker keeps its parent's command line (``serving.prefork api`` or
``serving.prefork runner``); the API preforker also forks the workers of the runners that share
its environment, told from its API workers by the public socket, which only API workers keep.
"""

from __future__ import annotations

import psutil


def _command(process: psutil.Process) -> str:
    return " ".join(process.cmdline())


def listens_on_tcp(process: psutil.Process) -> bool:
    """An API worker holds the public socket; a runner worker forked beside it closed it."""
    try:
        return any(c.status == psutil.CONN_LISTEN for c in process.net_connections("tcp"))
    except psutil.Error:
        return False


def role_of(process: psutil.Process) -> str | None:
    """``api``, ``runner`` (workers), ``preforker``, or None (the supervisor, a dependency
    service's worker, anything else); raises psutil.Error for a process that is gone."""
    command = _command(process)
    if "serving.api_worker" in command:
        return "api"
    if "serving.runner_worker" in command:
        return "runner"
    if "serving.prefork" not in command:
        return None
    parent = process.parent()
    if parent is None or _command(parent) != command:
        return "preforker"
    if "prefork runner" in command:
        return "runner"
    return "api" if listens_on_tcp(process) else "runner"


def workers_by_role(arbiter_pid: int) -> dict[str, list[psutil.Process]]:
    """The live API and runner workers under ``arbiter_pid`` (a zombie not yet reaped, or a
    process gone meanwhile, is left out)."""
    roles: dict[str, list[psutil.Process]] = {"api": [], "runner": []}
    for child in psutil.Process(arbiter_pid).children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            role = role_of(child)
        except psutil.Error:
            continue
        if role in roles:
            roles[role].append(child)
    return roles
