"""A model call that proved quick runs on the runner server's loop thread; when one then hangs,
the stand-in thread (``protocol/stand_in.py``) answers the connection's pings, and the frames
that arrive meanwhile are handled, in order, once the call returns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bentoml_classic.protocol.async_client import AsyncRunnerClient
from tests.support.waiting import WAIT
from tests.unit.protocol.served import TOKEN, ServedRunner, async_client, run_async


async def hang_inline(runner: ServedRunner, client: AsyncRunnerClient) -> asyncio.Future[Any]:
    """Prove ``block`` quick (it then runs on the loop thread), then start a call that hangs."""
    runner.release.set()
    for _ in range(200):
        if runner.server.lane.runs_inline("block"):
            break
        assert await client.call("block", ("quick",), {}) == "quick"
    assert runner.server.lane.runs_inline("block")
    runner.release.clear()
    runner.started.clear()
    hung = asyncio.ensure_future(client.call("block", ("hung",), {}))
    assert await asyncio.to_thread(runner.started.wait, WAIT)
    assert runner.server.lane.inline_since is not None  # it holds the loop thread
    return hung


def test_pings_are_answered_while_an_inline_model_call_hangs(
    make_runner: Callable[..., ServedRunner],
) -> None:
    for runner in (make_runner("unix"), make_runner("tcp", token=TOKEN)):

        async def scenario(client: AsyncRunnerClient, runner: ServedRunner = runner) -> None:
            hung = await hang_inline(runner, client)
            assert await client.ping(WAIT) is True
            echoed = asyncio.ensure_future(client.call("echo", ("behind",), {}))
            assert await client.ping(WAIT) is True
            assert not hung.done()  # the pings were answered before the hang ended
            await asyncio.sleep(0.2)
            assert not echoed.done()  # a call waits for the model, as before
            runner.release.set()
            assert await hung == "hung"
            assert await echoed == "behind"  # kept, then handled by the loop
            assert await client.call("echo", ("after",), {}) == "after"
            assert await client.ping(WAIT) is True

        run_async(scenario, async_client(runner.url, token=runner.token))
