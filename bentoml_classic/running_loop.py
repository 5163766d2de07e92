"""The one place that uses asyncio's private running-loop functions, and why.

- ``running_loop_or_none()`` asks whether this thread runs an event loop without raising:
  ``asyncio.get_running_loop()`` raises in a thread without one, and a runner's ``run()`` asks
  on every sync call (to warn when it is called from an async API), so the raise and catch
  would be paid on the hot path. ``asyncio._get_running_loop`` is the function that
  ``get_running_loop`` itself calls.
- ``set_running_loop(None)`` hides the running loop while a sync API function runs inline on
  the loop thread (``http/sync_calls.py``), so that code looking for a loop behaves as it does
  in a pool thread (``asyncio.run()`` works); ``set_running_loop(loop)`` puts it back. asyncio
  offers no public way to do this.

Both have been part of asyncio since Python 3.7 and uvloop relies on them too; a unit test
(``tests/unit/test_running_loop.py``) fails if a Python release changes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

running_loop_or_none: Callable[[], asyncio.AbstractEventLoop | None] = asyncio._get_running_loop
set_running_loop: Callable[[asyncio.AbstractEventLoop | None], None] = asyncio._set_running_loop

__all__ = ["running_loop_or_none", "set_running_loop"]
