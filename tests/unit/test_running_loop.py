"""``running_loop``: asyncio's private running-loop functions still behave as we rely on.

A Python release that renames or changes them fails here, not in a served request."""

from __future__ import annotations

import asyncio

from bentoml_classic.running_loop import running_loop_or_none, set_running_loop


def test_no_loop_outside_one() -> None:
    assert running_loop_or_none() is None


def test_the_running_loop_is_found_without_raising() -> None:
    async def main() -> bool:
        return running_loop_or_none() is asyncio.get_running_loop()

    assert asyncio.run(main()) is True


def test_a_hidden_loop_lets_code_run_as_in_a_thread_and_comes_back() -> None:
    async def main() -> tuple[object, bool, int]:
        loop = running_loop_or_none()
        set_running_loop(None)
        try:
            hidden = running_loop_or_none()
            try:
                asyncio.get_running_loop()
                raised = False
            except RuntimeError:
                raised = True
            nested = asyncio.run(asyncio.sleep(0, result=7))  # refused while a loop runs
        finally:
            set_running_loop(loop)
        assert asyncio.get_running_loop() is loop
        return hidden, raised, nested

    assert asyncio.run(main()) == (None, True, 7)
