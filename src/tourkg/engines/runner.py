"""The engine's query threads: a few threads take the admitted queries from one queue, run them and
answer each on its own connection.

Why a queue the query threads pull from, rather than a pool a connection thread hands each query to and
waits on: the hand-over took the GIL back and forth between three threads a query. Here the connection
thread reads a query, counts it in and goes back to reading; a query thread that finishes one query
takes the next without sleeping when others wait, and sends the answer itself. Measured on 100k triples
under 8 connections of ``COUNT(*)`` (strace, 10 s): 22 futex calls a query before, 1.2 after. The CPU
a query costs did not change measurably (the evaluation, 20-22 ms, is most of it, at parity with
Oxigraph server's), but no connection thread is held by a query any more.

Why not run each query on its connection's own thread (no queue at all): the engine has a thread per
connection of every web worker, and each thread that ran a query kept its own allocator heap, so the
memory grew with the number of clients (1M triples: 673 MB against 534 with a fixed set of threads).
Here only :attr:`Admission.slots` threads ever run a query, started when first needed.

A query that waits longer than the admission's ``max_wait`` is refused by :meth:`QueryRunner.expire`,
which the engine's watchdog calls on every tick; the time limit of a running query is enforced by the
same watchdog, which stops the process (:meth:`QueryRunner.overdue`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from tourkg.engines.admission import Admission, Refused


class Peer:
    """One web worker's connection to the engine, answered by its connection thread or a query thread.

    The connection is closed by whichever of them is last: when the client hangs up while its query
    runs, the query thread closes it after the query, never the connection thread under it (a closed
    descriptor's number is reused by the next connection, which would then receive a stranger's answer).
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self._waiting = False  # a query of this connection is queued or running
        self._gone = False

    def expect(self) -> None:
        """A query of this connection is counted in: its answer comes from a query thread."""
        with self._lock:
            self._waiting = True

    def reply(self, answer: tuple) -> None:
        """Send one answer (nothing when the client has gone: then the connection is closed)."""
        with self._lock:
            self._waiting = False
            if self._gone:
                self.conn.close()
                return
            try:
                self.conn.send(answer)
            except (OSError, ValueError):  # the client went away: the connection thread sees it too
                pass

    def hang_up(self) -> None:
        """The connection thread read the end of the connection: close it unless a query still runs."""
        with self._lock:
            self._gone = True
            if not self._waiting:
                self.conn.close()


@dataclass
class _Waiting:
    peer: Peer
    request: dict[str, Any]
    timeout: float
    client: str | None
    give_up: float  # time.monotonic() past which it is refused, still waiting


class QueryRunner:
    """The queue of admitted queries and the threads that run them (at most ``admission.slots``)."""

    def __init__(self, admission: Admission, run: Callable[[dict[str, Any]], tuple],
                 thread_start: Callable[[], None] = lambda: None) -> None:
        """``run``: evaluates one query request and returns its answer, never raising
        (``results.execute`` on the current store). ``thread_start``: called first on each query thread
        (the engine lowers its priority there)."""
        self.admission = admission
        self._run = run
        self._thread_start = thread_start
        self._queue: deque[_Waiting] = deque()
        self._ready = threading.Condition()
        self._threads = 0
        self._idle = 0  # threads waiting for a query and not yet woken for one
        self._running: dict[int, float] = {}  # thread id → the running query's deadline (monotonic)
        self._deadlines = threading.Lock()

    def submit(self, peer: Peer, request: dict[str, Any], timeout: float) -> None:
        """Count a query in and queue it, or answer its refusal at once; returns without waiting."""
        client = request.get("client")
        try:
            self.admission.admit(client)
        except Refused as refused:
            peer.reply(("ok", ("refused", (refused.kind, refused.retry_after, refused.message), None)))
            return
        peer.expect()
        item = _Waiting(peer, request, timeout, client, time.monotonic() + self.admission.max_wait)
        with self._ready:
            self._queue.append(item)
            if self._idle:
                self._idle -= 1
                self._ready.notify()
            elif self._threads < self.admission.slots:
                self._threads += 1
                threading.Thread(target=self._work, name="tourkg-query", daemon=True).start()

    def _work(self) -> None:
        self._thread_start()
        me = threading.get_ident()
        while True:
            with self._ready:
                while not self._queue:
                    self._idle += 1
                    self._ready.wait()  # whoever notifies took this thread off the idle count
                item = self._queue.popleft()
            if time.monotonic() > item.give_up:  # the watchdog's tick had not refused it yet
                self._refuse(item)
                continue
            started = self.admission.start()
            with self._deadlines:
                self._running[me] = time.monotonic() + item.timeout
            try:
                answer: tuple = ("ok", self._run(item.request))
            except Exception as exc:  # noqa: BLE001 - reported to the caller; the thread goes on
                answer = ("error", "internal", f"{type(exc).__name__}: {exc}")
            finally:
                with self._deadlines:
                    self._running.pop(me, None)
                self.admission.leave(item.client, started)
            item.peer.reply(answer)

    def _refuse(self, item: _Waiting) -> None:
        refused = self.admission.withdraw(item.client)
        item.peer.reply(("ok", ("refused", (refused.kind, refused.retry_after, refused.message), None)))

    def expire(self, now: float) -> None:
        """Refuse the queries that have waited ``max_wait`` (the queue is in order of arrival, and every
        query may wait as long, so they are at its head)."""
        gone = []
        with self._ready:
            while self._queue and self._queue[0].give_up <= now:
                gone.append(self._queue.popleft())
        for item in gone:
            self._refuse(item)

    def overdue(self, now: float) -> bool:
        """Whether a running query has passed its time limit."""
        with self._deadlines:
            return any(deadline < now for deadline in self._running.values())
