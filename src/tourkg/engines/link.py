"""A connection to the engine process driven by a web worker's event loop: the query hot path's.

A query sent from the event loop needs no thread of the web worker: the loop writes the request, goes on
answering other connections, and reads the answer when the engine sends it. With a thread, every query
crossed from the loop to a thread and back (a wake-up, a future chained across threads, the GIL handed
over), and on two cores that CPU is taken from the engine's evaluation (measured in
``web/query_path.py``).

The wire format is ``multiprocessing.connection``'s, which the engine reads and writes: a 4-byte
big-endian signed length (``-1`` then an 8-byte length for larger messages) and a pickle. The
connection itself is made, and authenticated, by ``client.connect`` in a thread (it may wait for a
restarting engine), then handed to the loop.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import struct
from multiprocessing.connection import Connection
from typing import Any

_SHORT = struct.Struct("!i")
_LONG = struct.Struct("!Q")


class LinkCut(Exception):
    """The engine closed the connection before answering (it stopped, or is restarting)."""


class LinkTimeout(Exception):
    """No answer within the time given: the connection is closed."""


class Link(asyncio.Protocol):
    """One engine connection on an event loop: one request at a time, as the engine answers them."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    async def open(cls, conn: Connection) -> Link:
        """Hand an authenticated connection (``client.connect``'s) to the running loop."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(conn.fileno()))
        conn.close()
        sock.setblocking(False)
        try:
            _, link = await loop.create_unix_connection(cls, sock=sock)
        except BaseException:
            sock.close()
            raise
        return link

    # -- asyncio.Protocol ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._settle(exception=LinkCut())

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if len(buffer) < 4:
            return
        size, head = _SHORT.unpack_from(buffer)[0], 4
        if size == -1:
            if len(buffer) < 12:
                return
            size, head = _LONG.unpack_from(buffer, 4)[0], 12
        if len(buffer) < head + size:
            return
        if len(buffer) > head + size or self._waiter is None:  # the engine never speaks unasked
            self.close()
            return
        with memoryview(buffer) as view:
            message = pickle.loads(view[head:])
        buffer.clear()
        self._settle(result=message)

    # -- requests ------------------------------------------------------------------------------------
    def request(self, message: Any, timeout: float) -> asyncio.Future:
        """Send ``message``; the future gives the engine's answer, or raises :class:`LinkCut` or
        :class:`LinkTimeout` (after which the connection is closed)."""
        assert self.transport is not None and self._waiter is None
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        if self.lost:
            self._settle(exception=LinkCut())
            return waiter
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        size = len(data)
        head = _SHORT.pack(size) if size <= 0x7FFFFFFF else _SHORT.pack(-1) + _LONG.pack(size)
        self.transport.write(head + data if size < 1 << 16 else head)
        if size >= 1 << 16:
            self.transport.write(data)
        self._timer = loop.call_later(timeout, self._expire)
        return waiter

    def _expire(self) -> None:
        self._timer = None
        self._settle(exception=LinkTimeout())
        self.close()

    def _settle(self, *, result: Any = None, exception: BaseException | None = None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if exception is not None:
            waiter.set_exception(exception)
        else:
            waiter.set_result(result)

    def close(self) -> None:
        """Close the connection (an answer still awaited gets :class:`LinkCut`)."""
        self.lost = True
        if self.transport is not None:
            self.transport.close()
        self._settle(exception=LinkCut())
