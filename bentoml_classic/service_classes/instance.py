"""The one instance of a service class in each process that serves it.

It is made by the service's first startup hook, which every kind of worker runs before it says
it is ready (an API worker's lifespan, a dependency's worker, ``--development``), so a model
loaded in ``__init__`` is loaded before the first request. A call that comes before any hook
ran (a notebook, a test calling an API through a handle) makes it then. A forked child makes
its own: an instance holds the parent's threads, sockets and devices.
"""

from __future__ import annotations

import os
import threading
from typing import Any


class InstanceHolder:
    def __init__(self, cls: type) -> None:
        self._cls = cls
        self._lock = threading.Lock()
        self._instance: Any = None
        self._pid: int | None = None

    def get(self) -> Any:
        """This process's instance, made now if it has none."""
        instance = self._instance
        if instance is not None and self._pid == os.getpid():
            return instance
        with self._lock:
            if self._instance is None or self._pid != os.getpid():
                self._instance = self._cls()
                self._pid = os.getpid()
            return self._instance

    def create(self, ctx: Any = None) -> None:
        """The startup hook: make the instance before the worker serves (``ctx`` unused)."""
        self.get()
