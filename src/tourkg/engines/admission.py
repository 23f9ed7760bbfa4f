"""Admission of SPARQL queries: a few run at once, a bounded queue waits, the rest are refused at once.

Why: a query is CPU-bound and the engine has a few cores. Running every query that arrives makes all of
them slow, lets runaway queries crowd out the page look-ups that share the engine, and answers a flood
only after the time limit. Here at most ``slots`` user queries run; up to ``queue`` more wait, each at
most ``max_wait`` seconds; a query that would wait longer than that (by the recent queries' mean
duration) or finds the queue full is refused at once with a ``Retry-After``. With ``per_client`` set, one
client (address) may have at most that many queries running or waiting; past it, 429.

Look-ups for pages never come here: they are short and bounded, and must not wait behind queries.
Model: a bounded thread pool with a queue, as Oxigraph server and Fuseki bound their query execution.

Two ways to use it: :meth:`Admission.enter` blocks the caller's thread until a slot is free (the remote
engine, whose web-worker threads wait for the engine anyway); :meth:`Admission.admit`, :meth:`start` and
:meth:`withdraw` only count, for a caller that keeps the waiting queries in a queue of its own and has
its query threads take them from it (the engine process, ``engines.runner``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter


class Refused(Exception):
    """A query not admitted: ``kind`` is ``busy`` (503) or ``client`` (429)."""

    def __init__(self, kind: str, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.kind, self.retry_after, self.message = kind, retry_after, message


class Admission:
    """Counts the running and waiting queries (thread-safe)."""

    def __init__(self, slots: int, queue: int, max_wait: float, per_client: int = 0) -> None:
        self.slots, self.queue, self.max_wait = max(1, slots), max(0, queue), max(0.0, max_wait)
        self.per_client = max(0, per_client)
        self.running = 0
        self.waiting = 0
        self.mean = 0.1  # seconds: recent queries' mean duration (moving average), a guess to start with
        self._clients: Counter[str] = Counter()
        self._started: list[float] = []  # when each running query started
        self._free = threading.Condition()

    def predicted_wait(self, position: int) -> float:
        """Seconds a query at ``position`` in the queue (0: first) is expected to wait: by the mean
        duration, and never less than the running queries show (when every one of them has already run
        longer than a waiting query may wait, they are runaways: the wait is at least as long again)."""
        by_mean = (position // self.slots + 1) * self.mean
        if len(self._started) >= self.slots:
            shortest = time.monotonic() - max(self._started)
            return max(by_mean, shortest)
        return by_mean

    def enter(self, client: str | None = None) -> float:
        """Wait for a slot; returns when the query started running (``time.monotonic()``), for
        :meth:`leave`.

        :raises Refused: queue full, predicted or actual wait past ``max_wait``, or the client's limit.
        """
        started = time.monotonic()
        with self._free:
            if client and self.per_client and self._clients[client] >= self.per_client:
                raise Refused("client", max(1, math.ceil(self.mean)),
                              f"This client already has {self._clients[client]} queries running or waiting, "
                              f"the most allowed (setting client_queries); send the next when one is done.")
            if self.running < self.slots and self.waiting == 0:
                self._take(client)
                return self._run()
            predicted = self.predicted_wait(self.waiting)
            if self.waiting >= self.queue or predicted > self.max_wait:
                raise self._busy(predicted)
            self.waiting += 1
            self._take(client)
            try:
                deadline = started + self.max_wait
                while self.running >= self.slots:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._free.wait(left):
                        if self.running < self.slots:
                            break
                        self._give(client)
                        raise self._busy(self.predicted_wait(self.waiting))
                return self._run()
            finally:
                self.waiting -= 1

    def admit(self, client: str | None = None) -> None:
        """Count a query in as waiting, to be taken from the caller's queue by :meth:`start` (or given up by
        :meth:`withdraw`); nothing blocks. The same refusals as :meth:`enter`, at once: the client's limit,
        a full queue, or a predicted wait past ``max_wait``. A query that finds a slot free waits for
        nothing: the queries already counted in but not yet started are ahead of it.

        :raises Refused: as :meth:`enter`.
        """
        with self._free:
            if client and self.per_client and self._clients[client] >= self.per_client:
                raise Refused("client", max(1, math.ceil(self.mean)),
                              f"This client already has {self._clients[client]} queries running or waiting, "
                              f"the most allowed (setting client_queries); send the next when one is done.")
            ahead = self.running + self.waiting - self.slots  # queries it would wait behind
            if ahead >= 0:
                predicted = self.predicted_wait(ahead)
                if ahead >= self.queue or predicted > self.max_wait:
                    raise self._busy(predicted)
            self.waiting += 1
            self._take(client)

    def start(self) -> float:
        """A query counted in by :meth:`admit` starts running; returns the time for :meth:`leave`."""
        with self._free:
            self.waiting -= 1
            return self._run()

    def withdraw(self, client: str | None) -> Refused:
        """A query counted in by :meth:`admit` waited ``max_wait`` without starting: it leaves the queue,
        and this is its refusal."""
        with self._free:
            self.waiting -= 1
            self._give(client)
            return self._busy(self.predicted_wait(max(0, self.waiting - self.slots + self.running)))

    def _run(self) -> float:
        self.running += 1
        now = time.monotonic()
        self._started.append(now)
        return now

    def leave(self, client: str | None, started: float) -> None:
        """A query admitted at ``started`` (what :meth:`enter` returned) is done."""
        seconds = time.monotonic() - started
        with self._free:
            self.running -= 1
            self._started.remove(started)
            self._give(client)
            self.mean = 0.8 * self.mean + 0.2 * max(seconds, 0.001)
            self._free.notify()

    def _take(self, client: str | None) -> None:
        if client and self.per_client:
            self._clients[client] += 1

    def _give(self, client: str | None) -> None:
        if client and self.per_client:
            self._clients[client] -= 1
            if self._clients[client] <= 0:
                del self._clients[client]

    def _busy(self, predicted: float) -> Refused:
        retry = max(1, math.ceil(min(predicted, 60.0)))
        return Refused("busy", retry,
                       f"Every query worker is busy ({self.running} queries running, {self.waiting} waiting, "
                       f"settings query_slots and query_queue); try again in {retry} s.")

    def state(self) -> dict[str, float]:
        """Running, waiting, mean duration: for health and logs."""
        with self._free:
            return {"running": self.running, "waiting": self.waiting, "mean_seconds": round(self.mean, 4)}
