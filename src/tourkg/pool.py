"""The pool of query worker processes behind ``LocalStore.query``: checked out one per query, killed
and replaced when a query overruns its time limit (a thread cannot interrupt a running query; a process
can be killed), and elastic so short queries are not queued behind runaway ones.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from tourkg.errors import Overloaded, QueryTimeout, TourkgError

log = logging.getLogger(__name__)


class _Worker:
    """One ``python -m tourkg.workers`` process, spoken to over its stdin and stdout."""

    def __init__(self, payload: bytes) -> None:
        # A plain subprocess rather than multiprocessing: it does not re-import the parent's __main__,
        # so it works the same under gunicorn, pytest and the CLI.
        self.process = subprocess.Popen([sys.executable, "-m", "tourkg.workers"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, close_fds=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        self._send = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self._recv = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        try:
            self._send.send_bytes(payload)
            status, _size, _ = self._recv.recv()
            if status != "ready":
                raise RuntimeError("query worker failed to start")
        except BaseException:
            self.kill()  # no process or descriptor outlives a failed start
            raise

    def send(self, request: dict[str, Any]) -> None:
        self._send.send(request)

    def poll(self, timeout: float) -> bool:
        return self._recv.poll(timeout)

    def recv(self) -> Any:
        return self._recv.recv()

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(5)
        finally:
            self._send.close()
            self._recv.close()


#: How long a query waits for an idle worker before the pool starts an extra one: long enough that a
#: worker finishing a short query is reused, short enough that a queue behind runaways is not felt.
GROW_AFTER = 0.05
#: Seconds an extra worker (above the warm count) may stay idle before it is stopped.
RETIRE_AFTER = 30.0


class WorkerPool:
    """Query worker processes, checked out one per query; an overrunning worker is killed and replaced.

    Elastic: ``size`` workers stay warm. A query that finds none idle for :data:`GROW_AFTER` seconds
    starts an extra one (up to ``max_size``), so that short queries are not queued behind runaway ones
    until those are killed at the time limit; extras idle for :data:`RETIRE_AFTER` seconds are stopped.
    """

    def __init__(self, payload: bytes, size: int, max_size: int | None = None) -> None:
        self._payload = payload
        self._warm = max(1, size)
        self._cap = max(self._warm, max_size or 0)
        self._ready = threading.Condition()
        self._idle: list[tuple[_Worker, float]] = []  # oldest first, with the time each was returned
        self._all: set[_Worker] = set()  # running, idle or busy
        self._alive = self._warm  # running or starting
        self._closed = False
        try:
            for _ in range(self._warm):
                self._checkin(self._started(_Worker(payload)))
        except BaseException:
            self.close()
            raise

    @property
    def size(self) -> int:
        """Workers running or starting now."""
        with self._ready:
            return self._alive

    def _started(self, worker: _Worker) -> _Worker:
        with self._ready:
            self._all.add(worker)
        return worker

    def _start_one(self) -> None:
        """Start a worker (already counted in ``_alive``) and offer it to the waiting queries."""
        try:
            worker = self._started(_Worker(self._payload))
        except Exception:
            log.exception("a query worker failed to start")
            self._forget(None)
            return
        self._checkin(worker)

    def _forget(self, worker: _Worker | None) -> None:
        """Count ``worker`` (or one that failed to start) out, and wake the queries waiting to grow."""
        with self._ready:
            if worker is not None:
                self._all.discard(worker)
            self._alive -= 1
            self._ready.notify_all()

    def _checkin(self, worker: _Worker) -> None:
        with self._ready:
            if not self._closed:
                self._idle.append((worker, time.monotonic()))
                self._ready.notify()
                return
        worker.kill()

    def _retire_idle(self) -> list[_Worker]:
        """Take out the extras idle for too long (caller holds the lock, then kills them outside it)."""
        retired, cutoff = [], time.monotonic() - RETIRE_AFTER
        while self._alive > self._warm and self._idle and self._idle[0][1] < cutoff:
            worker = self._idle.pop(0)[0]
            self._all.discard(worker)
            self._alive -= 1
            retired.append(worker)
        return retired

    def _checkout(self, deadline: float) -> _Worker:
        """The most recently used idle worker, growing the pool once if none frees up quickly.

        :raises Overloaded: no worker became free before ``deadline``.
        """
        grow_at, grown = time.monotonic() + GROW_AFTER, False
        with self._ready:
            retired = self._retire_idle()
            while not self._idle:
                now = time.monotonic()
                if now >= deadline:
                    break
                if not grown and now >= grow_at and self._alive < self._cap:
                    self._alive += 1
                    threading.Thread(target=self._start_one, daemon=True).start()
                    grown = True  # one extra per waiting query
                self._ready.wait((deadline if grown or now >= grow_at else grow_at) - now)
            worker = self._idle.pop()[0] if self._idle else None
        for old in retired:
            old.kill()
        if worker is None:
            raise Overloaded(f"All {self._cap} query workers stayed busy for the whole time limit "
                             "(query_timeout); try again shortly.")
        return worker

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker``; start a new one in the background only if the warm count is not met."""
        worker.kill()
        self._forget(worker)
        with self._ready:
            refill = not self._closed and self._alive < self._warm
            if refill:
                self._alive += 1
        if refill:
            threading.Thread(target=self._start_one, daemon=True).start()

    def run(self, request: dict[str, Any], timeout: float) -> tuple[str, Any, Any]:
        """Send ``request`` to an idle worker and give it ``timeout`` seconds to answer.

        Waiting for a free worker has its own bound (``timeout`` too, then :class:`Overloaded`), so a
        query that waited in line still gets its whole time limit to run.
        """
        worker = self._checkout(time.monotonic() + timeout)
        answered = False
        try:
            worker.send(request)
            if worker.poll(timeout):
                answer = worker.recv()
                answered = True
                return answer
        except (EOFError, OSError):
            raise TourkgError("The query worker died while answering; it has been replaced.") from None
        finally:
            # Whatever happened, the worker goes back or is replaced: never lost to the pool.
            if answered:
                self._checkin(worker)
            else:
                self._replace(worker)
        raise QueryTimeout(f"The query ran longer than the time limit of {timeout:g} s (setting "
                           "query_timeout) and was stopped. Narrow it down, e.g. with LIMIT or more "
                           "specific patterns.")

    def close(self) -> None:
        """Stop every worker, busy ones included."""
        with self._ready:
            self._closed = True
            self._idle.clear()
            workers_, self._all = list(self._all), set()
        for worker in workers_:
            worker.kill()
