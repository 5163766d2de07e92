"""How a server's log lines look, in every process of a deployment::

    2026-12-07T10:21:05+0000 [INFO] [runner:iris_clf:1] ready (process 4211)
    2026-12-07T10:21:06+0000 [INFO] [api_server:2] 127.0.0.1:51234 (scheme=http,...) ...

A deployment is several processes writing to one terminal, so each line says when, how bad,
and which process wrote it (the *component*): ``supervisor`` (the arbiter of ``bentoml serve``
and of the start commands), ``api_server:N`` (API worker N), ``runner:NAME:N`` (worker N of
runner NAME), ``dev_server`` (``--development``: one process). The shape is classic BentoML's
(``time [LEVEL] [component] message``, the time to the second with its UTC offset), so what
parsed classic's logs parses these.

Log records go to standard error; the access log (``http/access_log.py``), which writes its
lines itself in the same shape, to standard output. The start-up line of ``bentoml serve``
(``Serving NAME on http://...``) is printed as it is: it is the command's answer, not a log line.
"""

from __future__ import annotations

import logging
import sys
import time

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
SUPERVISOR = "supervisor"
DEVELOPMENT_SERVER = "dev_server"
#: what an API worker's lines are labelled with until an entry point says which process this is
_DEFAULT_COMPONENT = "api_server"

_component = _DEFAULT_COMPONENT


def api_worker_component(worker_id: int) -> str:
    return f"api_server:{worker_id}"


def runner_component(runner_name: str, worker_id: int) -> str:
    return f"runner:{runner_name}:{worker_id}"


def service_component(service_name: str, worker_id: int) -> str:
    """A dependency's worker (``bentoml_classic.depends``)."""
    return f"service:{service_name}:{worker_id}"


def component() -> str:
    """The component of this process's lines (set by ``configure_server_logging``)."""
    return _component


class _ServerHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so that configuring again replaces it instead of adding a second one."""


def configure_server_logging(name: str, level: int = logging.INFO) -> None:
    """Label this process's lines ``name`` and send its log records, ``level`` and up, to
    standard error in the shape above.

    Called by each entry point before anything else logs. A root logger that already has
    handlers of someone else's (a script that configured logging, then called
    ``bentoml_classic.start``) is left as it is: that configuration was chosen; only the
    component of the access log's lines is set.
    """
    global _component
    _component = name
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not isinstance(h, _ServerHandler)]
    if foreign:
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = _ServerHandler(sys.stderr)
    escaped = name.replace("%", "%%")
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s [%(levelname)s] [{escaped}] %(message)s", DATE_FORMAT)
    )
    root.addHandler(handler)
    root.setLevel(level)


class LinePrefixes:
    """``time [LEVEL] [component] `` for lines written without the logging module (the access
    log's batches): formatting a time costs microseconds, so it is done once per second."""

    def __init__(self, level: str = "INFO") -> None:
        self._level = level
        self._second = -1
        self._component = _component
        self._prefix = ""

    def at(self, epoch_seconds: float) -> str:
        second = int(epoch_seconds)
        if second != self._second or self._component != _component:
            stamp = time.strftime(DATE_FORMAT, time.localtime(second))
            self._prefix = f"{stamp} [{self._level}] [{_component}] "
            self._second = second
            self._component = _component
        return self._prefix
