"""The frames one loop turn writes to a connection leave together, at the end of that turn
(``protocol/gathered_writes.py``), over a real socket pair."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

from bentoml_classic.protocol.gathered_writes import GatheredWrites


async def _connected_pair() -> tuple[GatheredWrites, socket.socket]:
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_unix_connection(asyncio.Protocol, sock=ours)
    return GatheredWrites(cast(asyncio.Transport, transport), loop), theirs


def _received(peer: socket.socket) -> bytes:
    try:
        return peer.recv(65536)
    except BlockingIOError:
        return b""


async def _one_turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def test_the_frames_of_one_turn_leave_together_at_its_end() -> None:
    async def scenario() -> tuple[bytes, int, bytes, bytes]:
        writes, peer = await _connected_pair()
        writes.writelines([b"one|", memoryview(b"two|")])
        writes.writelines([b"three|"])
        writes.write(b"four|")
        held = _received(peer)  # nothing has left yet: the turn is not over
        pending = writes.get_write_buffer_size()
        await _one_turn()
        sent = _received(peer)
        writes.writelines([b"five|"])
        await _one_turn()
        later = _received(peer)
        writes.close()
        peer.close()
        return held, pending, sent, later

    held, pending, sent, later = asyncio.run(scenario())
    assert held == b""
    assert pending == len(b"one|two|three|four|")  # the stand-in must see them as unsent
    assert sent == b"one|two|three|four|"
    assert later == b"five|"


def test_close_sends_what_was_gathered_first_and_abort_drops_it() -> None:
    async def scenario() -> tuple[bytes, bytes]:
        writes, peer = await _connected_pair()
        writes.writelines([b"last words"])
        writes.close()
        await _one_turn()
        closed = _received(peer)
        writes, other = await _connected_pair()
        writes.writelines([b"never sent"])
        writes.abort()
        await _one_turn()
        aborted = _received(other)
        peer.close()
        other.close()
        return closed, aborted

    closed, aborted = asyncio.run(scenario())
    assert closed == b"last words"
    assert aborted == b""


def test_it_stands_in_for_a_transport_where_the_protocol_reads_one() -> None:
    async def scenario() -> dict[str, Any]:
        writes, peer = await _connected_pair()
        found = {
            "closing": writes.is_closing(),
            "socket": writes.get_extra_info("socket") is not None,
            "ssl": writes.get_extra_info("sslcontext"),
        }
        writes.close()
        found["closed"] = writes.is_closing()
        peer.close()
        return found

    assert asyncio.run(scenario()) == {
        "closing": False,
        "socket": True,
        "ssl": None,
        "closed": True,
    }
