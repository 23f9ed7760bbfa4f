"""The access log: one line per request on stderr, in the Common Log Format with two fields more.

    127.0.0.1 - - [01/Dec/2026:17:21:20 +0000] "GET /page/country/panama HTTP/1.1" 200 5120 0.0012 -
    127.0.0.1 - - [01/Dec/2026:17:21:21 +0000] "POST /sparql HTTP/1.1" 200 734 0.0213 query=0.0198

The last two fields are the seconds the request took and, for SPARQL, the seconds spent waiting for
and running the query in the engine (``-`` otherwise). Every character a client chose (path, query
string, method, protocol) is written with control characters, quotes, backslashes and non-ASCII escaped
as ``\\xHH``, so no request can forge or split log lines.

Lines are gathered and written together, as nginx's ``access_log … buffer= flush=`` does: a request
only appends its line to a queue; a thread of each web worker writes what waits every :data:`FLUSH`
seconds, in writes of whole lines of at most ``PIPE_BUF`` bytes, which the kernel does not interleave
with the other workers' writes; what still waits is written when the worker exits (a line may reach
the log 0.1 s late, and a killed worker loses at most that much). Measured on a 1k dataset, prepared
answers at 8 connections (``bench/access_log.py``, docs/access-log.md): with a write per line the log
added 16-50 % to a request's CPU over ``--no-access-log``, written together 6-24 %.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

#: Where a view leaves the seconds its SPARQL query took (waiting for a slot included).
QUERY_SECONDS = "tourkg.query_seconds"
#: Longest request target written (a GET query string may be 8 KB): the rest is cut, marked with ``...``.
MAX_TARGET = 2000
#: Where the fast path leaves the Content-Length of the prepared answer it is about to send, so that it
#: is not looked for among the headers at every request.
CONTENT_LENGTH = "tourkg.content_length"
#: Escaped request lines kept per web worker, for targets of at most ``_KEPT_TARGET`` characters: at
#: most about 2 MB even when every target is non-ASCII (escaped, each byte takes four characters).
_KEPT = 1024
_KEPT_TARGET = 200
#: Most seconds a line waits before it is written.
FLUSH = 0.1
#: Most bytes written at once: writes of at most PIPE_BUF bytes to a pipe are never interleaved.
_PIPE_BUF = 4096
#: Lines that may wait (about 1 MB; 80 MB of the longest escaped targets): past it a request writes them
#: itself, as an unbuffered log would. A worker logs a few thousand lines between two writes.
_MOST_WAITING = 10_000
#: This process's id, kept up to date across forks (``os.getpid`` is a system call).
_process = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))
#: Statuses whose answers have no body (RFC 9110 §6.4.1).
_NO_BODY = ("204", "304")
#: The seconds written for a request answered in less than 10 ms, in 0.1 ms steps.
_TICKS = tuple(f"{tick / 10_000:.4f}" for tick in range(100))
_UNSAFE = re.compile(r'[^\x21\x23-\x5b\x5d-\x7e]')  # printable ASCII but for '"' and '\'; no space


def escape(text: str) -> str:
    """``text`` safe for a log line: what a client chose can neither split nor forge a line."""
    return _escape(str(text))


def _escape(text: str) -> str:
    return _UNSAFE.sub(lambda m: "".join(f"\\x{b:02x}" for b in m.group().encode("utf-8", "surrogateescape")),
                       text)


class AccessLog:
    """WSGI middleware writing the access log (see the module docstring)."""

    def __init__(self, app: Callable[..., Any], fd: int = 2, *, flush: float | None = FLUSH) -> None:
        """:param flush: most seconds a line waits to be written with others (``None`` or 0: each line at
        once)."""
        self.app, self.fd, self.flush_after = app, fd, flush or 0.0
        self._second = -1
        self._stamp = ""
        self._requests: dict[tuple[Any, ...], tuple[str, str]] = {}
        self._addresses: dict[str, str] = {}
        self._waiting: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._owner = 0  # the process whose writer thread runs (started in each web worker)

    def _now(self) -> str:
        second = int(time.time())
        if second != self._second:  # formatted once a second, not once a request
            self._stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
            self._second = second
        return self._stamp

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        seen: list[Any] = [None, None]  # status, content length

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[0] = status
            length = environ.pop(CONTENT_LENGTH, None)  # a prepared answer's, known beforehand
            if length is None:
                length = next((v for k, v in headers if len(k) == 14 and k.lower() == "content-length"), None)
            if length is None and status[:3] in _NO_BODY:
                length = "0"  # known: no body follows (the body is then passed on as is, replayable)
            seen[1] = length
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        if seen[1] is not None or environ.get("REQUEST_METHOD") == "HEAD":
            self._write(environ, seen, started, None)
            return body
        return self._counted(environ, body, seen, started)

    def asynchronous(self, environ: dict[str, Any]) -> Awaitable[Any] | None:
        """The wrapped app's answer from the server's event loop (``Switch.asynchronous``), logged when
        it comes; ``None`` (a thread answers, and :meth:`__call__` logs it) when there is none."""
        inner = getattr(self.app, "asynchronous", None)
        pending = inner(environ) if inner is not None else None
        return None if pending is None else self._logged(environ, pending)

    async def _logged(self, environ: dict[str, Any], pending: Awaitable[Any]) -> Any:
        started = time.monotonic()
        answer = await pending
        if answer is not None:  # (status, headers, body); None: Flask answers, and __call__ logs it
            size = next((v for k, v in answer[1] if len(k) == 14 and k.lower() == "content-length"), None)
            self._write(environ, [answer[0], size], started, None)
        return answer

    def _counted(self, environ: dict[str, Any], body: Iterable[bytes], seen: list[Any],
                 started: float) -> Iterator[bytes]:
        """A streamed body (a dump sent in blocks): counted as it goes, logged when it is done."""
        sent = 0
        try:
            for block in body:
                sent += len(block)
                yield block
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            self._write(environ, seen, started, sent)

    def _write(self, environ: dict[str, Any], seen: list[Any], started: float, sent: int | None) -> None:
        status = (seen[0] or "000").split(" ", 1)[0]
        size = seen[1] if sent is None else str(sent)
        query = environ.get(QUERY_SECONDS)
        before, request = self._request((environ.get("REMOTE_ADDR"), environ.get("REQUEST_METHOD"),
                                         environ.get("PATH_INFO"), environ.get("QUERY_STRING"),
                                         environ.get("SERVER_PROTOCOL")))
        line = (f'{before}{self._now()}{request}{status} {size or 0} {time.monotonic() - started:.4f} '
                f'{"-" if query is None else f"query={query:.4f}"}\n')
        self._emit(line.encode("ascii", "replace"))

    def describe(self, method: str, path: str, query: str, protocol: str, status: str,
                 size: str | None) -> str:
        """What the lines of a replayed answer (one the server answers again without calling the app)
        say after the time stamp, but for the seconds: escaped once, when the server keeps the answer."""
        return f"{self._request(('', method, path, query, protocol))[1]}{status} {size or 0} "

    def replayed(self, address: str, described: str, started: float) -> None:
        """Log one replay of the answer ``described`` (:meth:`describe`) to the client at ``address``.
        The lines repeat, so all but the time stamp and the seconds are kept, and the seconds of a replay
        (a few µs) are looked up rather than formatted: measured with the writes, 1.4 µs a line before,
        1.0 after."""
        before = self._addresses.get(address)
        if before is None:
            before = f"{_escape(address or '-')} - - ["
            if len(self._addresses) >= _KEPT:
                self._addresses.clear()
            self._addresses[address] = before
        ticks = int((time.monotonic() - started) * 10_000 + 0.5)
        took = _TICKS[ticks] if ticks < len(_TICKS) else f"{ticks / 10_000:.4f}"
        self._emit(f"{before}{self._now()}{described}{took} -\n".encode("ascii", "replace"))

    def _emit(self, data: bytes) -> None:
        if self.flush_after <= 0:
            self._send(data)
            return
        self._waiting.append(data)  # a deque: appending is atomic, no lock on the request's path
        if self._owner != _process[0]:
            self._start_writer()
        elif len(self._waiting) > _MOST_WAITING:  # the log does not keep up: write, as unbuffered
            self.flush()

    def flush(self) -> None:
        """Write the lines waiting, in writes of whole lines of at most ``PIPE_BUF`` bytes (the writer
        thread does it every :data:`FLUSH` seconds)."""
        with self._lock:  # one writer at a time keeps the lines in order
            waiting = self._waiting
            while waiting:
                # Joined at once and cut at line ends (a line per Python step cost 0.3 µs a line).
                data = b"".join([waiting.popleft() for _ in range(len(waiting))])
                view, start, size = memoryview(data), 0, len(data)
                while start < size:
                    end = start + _PIPE_BUF
                    if end < size:
                        cut = data.rfind(b"\n", start, end)
                        # a line longer than PIPE_BUF goes alone, whole
                        end = cut + 1 if cut >= 0 else (data.find(b"\n", end) + 1 or size)
                    self._send(view[start:end])
                    start = end

    def _send(self, data: bytes | memoryview) -> None:
        try:
            os.write(self.fd, data)
        except OSError:  # a closed or full log never fails a request
            pass

    def _start_writer(self) -> None:
        """In each process that logs (a forked web worker): the thread that writes what waits, and a
        last write when the process exits (the server calls :meth:`flush` when a worker stops; a
        process that exits through multiprocessing runs its own finalizers rather than atexit's)."""
        from multiprocessing import util

        with self._lock:
            if self._owner == _process[0]:
                return
            self._owner = _process[0]
        threading.Thread(target=self._writer, name="tourkg-access-log", daemon=True).start()
        atexit.register(self.flush)
        util.Finalize(None, self.flush, exitpriority=0)

    def _writer(self) -> None:
        while True:
            time.sleep(self.flush_after)
            self.flush()

    def _request(self, key: tuple[Any, ...]) -> tuple[str, str]:
        """The escaped client address and request line, around the time stamp. Escaping them was most of
        a line's cost, so they are kept for short targets, the requests that repeat (measured, with the
        prepared answers' lengths given by the fast path: 10.7 µs a line before, 6.8 µs after); long ones
        are escaped each time, so that what is kept stays small. ``key``: (client address, method, path,
        query string, protocol)."""
        found = self._requests.get(key)
        if found is not None:
            return found
        address, method, path, query, protocol = key
        target = (path or "/") + (f"?{query}" if query else "")
        kept = len(target) <= _KEPT_TARGET
        if len(target) > MAX_TARGET:
            target = target[:MAX_TARGET] + "..."
        found = (f"{_escape(address or '-')} - - [",
                 f'] "{_escape(method or "-")} {_escape(target)} {_escape(protocol or "-")}" ')
        if kept:
            if len(self._requests) >= _KEPT:
                self._requests.clear()  # cheap, and refilled by the requests that come
            self._requests[key] = found
        return found
