"""The Circus arbiter that supervises a deployment's workers, kept off the network.

Circus's defaults join a multicast group and bind TCP control endpoints; here its control and
event endpoints are Unix sockets in the deployment's private directory and discovery is off.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from circus.arbiter import Arbiter
    from circus.sockets import CircusSocket
    from circus.watcher import Watcher

logger = logging.getLogger("bentoml_classic.supervisor")


def make_arbiter(
    watchers: list[Watcher],
    sockets: list[CircusSocket],
    socket_dir: str,
    public: tuple[str, ...] = (),
) -> Arbiter:
    """An arbiter whose control endpoints are Unix sockets in ``socket_dir``: nothing on the
    network, no multicast discovery (circus's default would join a multicast group).

    ``public``: the names of the sockets clients connect to, which the arbiter stops listening
    on first when it stops (see ``_stop_watchers``).
    """
    arbiter = _arbiter_class()(
        watchers,
        endpoint=f"ipc://{socket_dir}/circus-control.sock",
        pubsub_endpoint=f"ipc://{socket_dir}/circus-events.sock",
        multicast_endpoint=None,
        check_delay=0.5,
        sockets=sockets,
        loglevel="WARNING",
    )
    arbiter.public_sockets = public
    return arbiter


def _arbiter_class() -> type[Arbiter]:
    from circus.arbiter import Arbiter
    from tornado import gen

    class QuietStopArbiter(Arbiter):  # type: ignore[misc]  # circus publishes no types
        """Circus checks its watchers on a timer (``check_delay``), and that check takes the
        same lock as a stop: when a stop took longer than one period (workers draining), each
        tick raised a ConflictError that tornado logged with a traceback, on every Ctrl-C.
        While another arbiter command runs, the tick is skipped; the next one does the check.
        """

        def manage_watchers(self) -> Any:
            if self._exclusive_running_command is not None or self._restarting:
                return None
            return super().manage_watchers()

        @gen.coroutine
        def _stop_watchers(
            self, close_output_streams: bool = False, watcher_iter_func: Any = None
        ) -> Any:
            """Callers before callees: the watchers of the lowest priority (API workers) are
            stopped, and have drained, before the next (runners, which they still call while
            draining). Circus stops all at once.

            First the public sockets are closed here: the API workers close their copies as
            they begin to drain, and a socket still open in the arbiter would go on taking
            connections into its backlog that nobody accepts (a client hung until the arbiter
            exited); closed, new connections are refused at once."""
            for name in getattr(self, "public_sockets", ()):
                public = self.sockets.get(name)
                if public is not None:
                    public.close()
            iterate = watcher_iter_func or self.iter_watchers
            watchers = list(iterate(reverse=False))
            priorities = sorted({watcher.priority for watcher in watchers})
            if watchers:
                logger.info(
                    "stopping %s",
                    ", then ".join(
                        " and ".join(w.name for w in watchers if w.priority == priority)
                        for priority in priorities
                    ),
                )
            for priority in priorities:
                yield gen.multi(
                    [
                        watcher._stop(close_output_streams)
                        for watcher in watchers
                        if watcher.priority == priority
                    ]
                )

    return QuietStopArbiter


def quiet_circus() -> None:
    """Circus's own chatter below warnings, and one harmless deprecation warning silenced."""
    logging.getLogger("circus").setLevel(logging.WARNING)
    # tornado 6.6 deprecates the call circus makes from its signal handler; harmless
    warnings.filterwarnings("ignore", message="add_callback_from_signal is deprecated")
