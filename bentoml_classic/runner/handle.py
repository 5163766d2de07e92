"""``RunnerHandle``: the seam between a ``Runner`` and whatever runs its calls.

A runner does no work itself; it forwards every call to the handle attached to it
(``Runner.attach``). Three kinds exist:

- ``UninitializedHandle`` (here): refuses every call with an error that says how to fix that;
- ``LocalRunnerHandle`` (``local.py``): runs the runnable in this process, for ``init_local()``,
  ``--development`` and embedded runners;
- ``RemoteRunnerHandle`` (``protocol/remote.py``): calls runner worker processes.

The protocol below is everything the framework calls on a handle; a new way of running
runners (another transport, a Ray deployment) is a class with these methods::

    class MyHandle:
        def run_method(self, method, args, kwargs): ...
        async def async_run_method(self, method, args, kwargs): ...
        def stream_method(self, method, args, kwargs): ...        # an iterator of the items
        def async_stream_method(self, method, args, kwargs): ...  # an async iterator
        async def is_ready(self): return True
        async def scrape_metrics(self): return []
        def close(self): ...

    runner.attach(MyHandle())
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from ..exceptions import StateException


class RunnerHandle(Protocol):
    def run_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call ``method`` from a thread that may block (a sync API function)."""
        ...

    async def async_run_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Call ``method`` from an event loop (``await runner.x.async_run()``)."""
        ...

    def stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterator[Any]:
        """The items of a generator method, for a thread that may block. Closing the iterator
        (or leaving it unfinished and dropping it) closes the generator."""
        ...

    def async_stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        """The items of a generator method, from an event loop (``runner.x.async_stream()``)."""
        ...

    async def is_ready(self) -> bool:
        """Whether calls can be served now (``/readyz``)."""
        ...

    async def scrape_metrics(self) -> list[str]:
        """Called by ``/metrics`` before it reads the figures: the processes that run this
        runner's calls write what they hold (``metrics/meters.py``), and those whose figures
        this process cannot read (a runner server started on its own, another supervisor,
        maybe another host) send their Prometheus text, which ``/metrics`` merges in. Empty
        when there is none."""
        ...

    def close(self) -> None:
        """Release what the handle holds (the model, connections)."""
        ...


class UninitializedHandle:
    """The handle of a runner that nothing has started yet."""

    def __init__(self, runner_name: str) -> None:
        self._runner_name = runner_name

    def _refuse(self) -> StateException:
        return StateException(
            f"runner {self._runner_name!r} is not initialised: add it to a Service "
            f"(Service(name, runners=[runner])) and serve that with `bentoml serve`, "
            f"or call runner.init_local() to run it in this process for debugging"
        )

    def run_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise self._refuse()

    async def async_run_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        raise self._refuse()

    def stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterator[Any]:
        raise self._refuse()

    def async_stream_method(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        raise self._refuse()

    async def is_ready(self) -> bool:
        # Readiness probes only ever asked handles that run calls elsewhere; a runner that no
        # one started was never what held a server back (its calls fail with the message above).
        return True

    async def scrape_metrics(self) -> list[str]:
        return []

    def close(self) -> None:
        pass
