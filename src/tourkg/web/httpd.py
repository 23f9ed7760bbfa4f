"""The HTTP/1.1 server of the web workers: an event loop that answers prepared requests in its own thread
and hands the others to a pool of threads.

Each web worker runs one ``uvloop`` event loop (libuv) reading requests with ``httptools`` (llhttp, the
parser of Node.js). A request the fast path can answer from a prepared answer (a document, a page, a
303, a 304, a dump: :meth:`ready` of the WSGI callable says so, with no I/O) is answered by the loop at
once; every other request (a query, a first render, a POST) runs the WSGI app in one of the worker's
threads, and the loop writes what it returns. No request waits for another: a worker answers prepared
requests while its threads wait for the engine. An app may also answer a request from the loop when it
only waits for I/O: its ``asynchronous(environ)``, when it has one, returns an awaitable of ``(status,
headers, body)`` (``None`` from it, or from the awaitable, hands the request to a thread after all);
tourkg's plain SPARQL queries go this way (``web/query_path.py``).

Why not granian, which served before: under granian every request crosses from its Rust runtime to a
Python thread and back, 2.2-2.7 context switches a request and a third of a worker's CPU samples in the
kernel's task switch (perf, docs/benchmarks.md). Measured side by side on the 1k dumps (wrk, 8
connections, 2 cores), nginx 19,000-49,000 requests/s: an app with no logic under granian reached
0.57-0.78x nginx, the same answers from this loop 1.1-1.4x.

HTTP/1.0 and 1.1: keep-alive, pipelining (answers in order), chunked request bodies, ``Expect:
100-continue``, ``HEAD``, chunked answers when the app gives no length; a request head of at most
:data:`MAX_HEAD` bytes (431 past it), a body of at most :data:`MAX_BODY` (413), :data:`KEEP_ALIVE`
seconds to send a request (a silent or slow client is disconnected), :data:`CONNECTIONS` connections a
worker (503 past them). Header names with an underscore are dropped, as nginx does: ``X_Forwarded_For``
would otherwise reach the app as ``X-Forwarded-For``.

The supervisor forks the workers (:func:`serve`): each listens on its own ``SO_REUSEPORT`` socket, a
worker that dies is started again, and SIGINT or SIGTERM stops them, each finishing the requests it has
begun (at most :data:`STOP_TIMEOUT` seconds).

Model: uvicorn's ``httptools_impl`` protocol and gunicorn's arbiter, reduced to what tourkg needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

import httptools

log = logging.getLogger("tourkg")

#: Most bytes of a request line and headers: past it 431.
MAX_HEAD = 65536
#: Most bytes of a request body, unless the server is told otherwise: past it 413 (the app refuses
#: smaller ones past its own limits).
MAX_BODY = 16 << 20
#: Seconds a client may take to send a request once connected or after an answer (keep-alive).
KEEP_ALIVE = 5.0
#: Connections a worker holds at once; past them a new one gets 503 and is closed.
CONNECTIONS = 1024
#: Connections the kernel queues for a worker before it accepts them.
BACKLOG = 2048
#: Seconds a stopping worker finishes the requests it has begun; then it exits anyway.
STOP_TIMEOUT = 10.0
#: Most bytes a thread gathers from a streamed answer before the loop writes them.
_BATCH = 1 << 20
#: Most bytes of an answer joined into one buffer before writing (larger ones are written as a list).
_JOINED = 256 << 10
#: Most bytes one read may bring beside a request head (uvloop reads 256 KB at most): a head still
#: incomplete past :data:`MAX_HEAD` and this is refused before it is complete.
_READ = 256 << 10
#: Seconds a refused request's connection goes on being read (and what comes thrown away) before it is
#: closed: closing with bytes unread would reset it, and the client could lose the answer (RFC 9112
#: §9.6), as nginx's ``lingering_close``.
_LINGER = 2.0
#: Requests read ahead on one connection (pipelining) before reading pauses.
_PIPELINE = 16
_NO_BODY = frozenset({204, 304})
#: Request headers no answer depends on (besides ``Sec-*``): left out of the key of a replayed answer.
#: Any other header, known or not, is part of it, so that a request differing in one is never answered
#: with another's answer.
_IGNORED = frozenset({b"user-agent", b"connection", b"keep-alive", b"referer", b"cache-control", b"pragma",
                      b"dnt", b"upgrade-insecure-requests", b"priority", b"te", b"cookie", b"purpose",
                      b"sec-purpose", b"via", b"from"})
#: Most answers a worker replays, most bytes of their bodies, and the longest key (request target and
#: headers) kept: past the first two it starts again with none; a longer key is not kept.
_REPLAYS = 8192
_REPLAY_BYTES = 32 << 20
_REPLAY_KEY = 8192
#: Most bytes of the requests kept by their bytes (see :meth:`Worker.remember`), and what one more
#: Python object is counted (a header of a key, a tuple).
_RAW_BYTES = 8 << 20
_OBJECT = 64
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_StartResponse = Callable[..., Any]


class ReplayLog(Protocol):
    """Logs the requests the server answers without calling the app (replays)."""

    def describe(self, method: str, path: str, query: str, protocol: str, status: str,
                 size: str | None) -> Any:
        """What stays the same in the lines of a kept answer, computed once when it is kept."""

    def replayed(self, address: str, described: Any, started: float) -> None:
        """Log one replay of an answer ``described``, begun at ``started`` (``time.monotonic``)."""

_App = Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]


class FileBody:
    """``wsgi.file_wrapper``: a file the loop sends with ``sendfile(2)``, kernel to socket, by offset,
    so one open file serves any number of requests at once. Iterated (by another server, or a
    thread), it is read by offset too; it never closes the file, which belongs to the prepared answer."""

    def __init__(self, file: Any, block: int = 128 << 10) -> None:
        self.file, self.block = file, block
        self.fd = file.fileno()
        self.size = os.fstat(self.fd).st_size

    def __iter__(self) -> Iterator[bytes]:
        offset = 0
        while offset < self.size:
            data = os.pread(self.fd, min(self.block, self.size - offset), offset)
            if not data:
                return
            offset += len(data)
            yield data


class _Clock:
    """The ``Date`` header, formatted once a second."""

    def __init__(self) -> None:
        self.second, self.header = -1, b""

    def date(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.second = second
            self.header = b"Date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
        return self.header


class Worker:
    """What the connections of one worker process share: the app, its threads, the answers it replays,
    the clock."""

    def __init__(self, app: _App, *, host: str, port: int, threads: int,
                 ready: Callable[[dict[str, Any]], bool] | None = None,
                 epoch: Callable[[], int] | None = None,
                 replay_log: ReplayLog | None = None,
                 max_body: int = MAX_BODY) -> None:
        """:param ready: whether a request is answered at once, without waiting (see the module
            docstring); the loop then calls the app itself.
        :param epoch: the number of the data served; an answer the app marks replayable (environ
            ``tourkg.replayable`` set to that number) is replayed for the same request while it holds.
        :param replay_log: logs a replayed request (the app, not called, cannot)."""
        self.app, self.ready = app, ready or (lambda environ: False)
        #: The app's answers from the loop itself for requests that only wait (see the module docstring).
        self.asynchronous: Callable[[dict[str, Any]], Awaitable[Any] | None] | None = getattr(
            app, "asynchronous", None)
        self.epoch, self.replay_log, self.max_body = epoch, replay_log, max_body
        self.replays: dict[tuple, tuple] = {}
        #: The bytes of requests seen whole in one read -> (the answer replayed, what its framing reads of
        #: the request): the same bytes again (a client repeating a request) are answered without
        #: parsing them (:meth:`remember`).
        self.raw: dict[bytes, tuple[tuple, tuple]] = {}
        self.replay_bytes, self.raw_bytes, self.replay_epoch = 0, 0, -1
        self._significant: dict[bytes, bytes | None] = {}
        self.host, self.port = host, str(port)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="tourkg-web")
        self.connections: set[Connection] = set()
        self.clock = _Clock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = False
        self._environ_names: dict[bytes, str | None] = {}
        self._encoded: dict[int, tuple[list[tuple[str, str]], str, bytes, bool]] = {}
        self.base = {"SCRIPT_NAME": "", "SERVER_NAME": host, "SERVER_PORT": str(port), "wsgi.version": (1, 0),
                     "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": True,
                     "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.input_terminated": True,
                     "wsgi.file_wrapper": FileBody}

    def environ_name(self, name: bytes) -> str | None:
        """The environ key of a header (``None``: dropped, its name has an underscore)."""
        found = self._environ_names.get(name, False)
        if found is False:
            text = name.decode("latin-1").upper()
            found = None if "_" in text else text.replace("-", "_")
            if found not in (None, "CONTENT_TYPE", "CONTENT_LENGTH"):
                found = "HTTP_" + found
            if len(self._environ_names) < 4096:
                self._environ_names[name] = found
        return found  # type: ignore[return-value]

    def encoded(self, status: str, headers: list[tuple[str, str]]) -> tuple[bytes, bool]:
        """The status line and headers as bytes, and whether they give a Content-Length. A prepared
        answer passes the same list each time: its bytes are kept (by identity, with the list kept alive
        so that its identity is not reused)."""
        kept = self._encoded.get(id(headers))
        if kept is not None and kept[0] is headers and kept[1] == status:
            return kept[2], kept[3]
        parts = [b"HTTP/1.1 ", status.encode("latin-1"), b"\r\n"]
        length = False
        for name, value in headers:
            if len(name) == 14 and name.lower() == "content-length":
                length = True
            elif len(name) == 4 and name.lower() == "date":
                continue  # the server's own, always current (a prepared answer's would be old)
            parts += (name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n")
        encoded = b"".join(parts)
        if len(self._encoded) >= 4096:
            self._encoded.clear()
        self._encoded[id(headers)] = (headers, status, encoded, length)
        return encoded, length

    def keep_replay(self, key: tuple, epoch: int, started: list[Any], body: Any,
                    environ: dict[str, Any]) -> None:
        """Keep an answer to replay. Bounded: at most :data:`_REPLAYS` answers and
        :data:`_REPLAY_BYTES` bytes of bodies and keys (each part of a key counted :data:`_OBJECT` bytes
        more), keys of at most :data:`_REPLAY_KEY` bytes (a request with long odd headers is answered,
        not kept); a new data generation empties it, which also lets the old generation's files
        close."""
        if epoch != self.replay_epoch:
            self.forget()
            self.replay_epoch = epoch
        length = sum(len(part) for part in key)
        if length > _REPLAY_KEY:
            return
        size = length + _OBJECT * len(key)
        if isinstance(body, list):
            size += sum(len(chunk) for chunk in body)
        if size > _REPLAY_BYTES:
            return
        if len(self.replays) >= _REPLAYS or self.replay_bytes + size > _REPLAY_BYTES:
            self.forget()
        status, headers = started[0], started[1]
        length = next((v for k, v in headers if len(k) == 14 and k.lower() == "content-length"), None)
        logged = None if self.replay_log is None else self.replay_log.describe(
            environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"],
            environ["SERVER_PROTOCOL"], status.split(" ", 1)[0], length)
        self.replays[key] = (epoch, started, body, logged, self._whole(started, body, environ))
        self.replay_bytes += size

    def _whole(self, started: list[Any], body: Any,
               environ: dict[str, Any]) -> tuple[bytes, bytes, bytes | None] | None:
        """An answer's bytes but for its ``Date``, as :meth:`Connection._head` and :meth:`Connection._body`
        write them to an HTTP/1.1 keep-alive request: the status line and headers; what follows the date
        (Content-Length included); the body, or ``None`` for a file (sent after them). A small answer is
        then replayed in one write. ``None``: a larger answer, or one whose length is not known."""
        code = int(started[0][:3])
        if code < 200:
            return None
        encoded, length = self.encoded(started[0], started[1])
        if isinstance(body, FileBody):
            return (encoded, b"\r\n", None) if length and environ["REQUEST_METHOD"] == "GET" else None
        if not isinstance(body, list):
            return None
        size = sum(len(chunk) for chunk in body)
        if size > _JOINED:
            return None
        after = b"\r\n" if length or code in _NO_BODY else b"Content-Length: %d\r\n\r\n" % size
        sent = b"" if environ["REQUEST_METHOD"] == "HEAD" or code in _NO_BODY else b"".join(body)
        return encoded, after, sent

    def forget(self) -> None:
        """Replay nothing more (a new data generation, or the bounds reached)."""
        self.replays.clear()
        self.raw.clear()
        self.replay_bytes = self.raw_bytes = 0

    def remember(self, data: bytes, key: tuple, request: tuple) -> None:
        """``data`` is the whole of ``request``, whose answer is replayed under ``key``. Kept with the
        answer itself and what the answer's framing reads of the request (not its headers). Bounded on
        its own (:data:`_RAW_BYTES`), so that requests whose bytes never repeat (a browser's, with its
        cookies) never push the answers out: past it, it starts again with none."""
        entry = self.replays.get(key)
        if entry is None or len(data) > _REPLAY_KEY or data in self.raw:
            return
        method, url, version, _, _, keep_alive = request
        size = len(data) + len(url) + 8 * _OBJECT
        if len(self.raw) >= _REPLAYS or self.raw_bytes + size > _RAW_BYTES:
            self.raw.clear()
            self.raw_bytes = 0
        self.raw[data] = (entry, (method, url, version, (), b"", keep_alive))
        self.raw_bytes += size

    def replay_key(self, request: tuple) -> tuple | None:
        """What identifies a request's answer: method, target, protocol and every header but those that
        change no answer (:data:`_IGNORED`). ``None``: never replayed (a body, a method not GET or
        HEAD)."""
        method, url, version, headers, body, _ = request
        if body or self.epoch is None or (method != b"GET" and method != b"HEAD"):
            return None
        key: list[Any] = [method, url, version]
        significant = self._significant
        for name, value in headers:
            lowered = significant.get(name, b"")
            if lowered == b"":
                lowered = name.lower()
                if lowered in _IGNORED or lowered.startswith(b"sec-"):
                    lowered = None
                if len(significant) < 4096:
                    significant[name] = lowered
            if lowered is not None:
                key += (lowered, value)
        return tuple(key)

    def sweep(self) -> None:
        """Close the connections that have waited too long for a request (every second)."""
        assert self.loop is not None
        now = time.monotonic()
        for connection in list(self.connections):
            if connection.since is not None and now - connection.since > KEEP_ALIVE:
                connection.timed_out()
        self.loop.call_later(1.0, self.sweep)


class Connection(asyncio.Protocol):
    """One client connection: parses requests, answers them in order."""

    def __init__(self, worker: Worker) -> None:
        self.w = worker
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: deque[tuple] = deque()
        self.busy = self.closed = self.reading_paused = self.writing_paused = False
        self.drained: asyncio.Future | None = None
        self.pump: Iterator[bytes] | None = None  # a prepared streamed answer being written by the loop
        self.since: float | None = time.monotonic()  # waiting for a request since (None: answering)
        self.in_head, self.head_bytes = True, 0
        self.url, self.headers, self.body, self.body_size = b"", [], [], 0
        self.refused: tuple[int, str] | None = None
        self.remote = ("", "")
        self.eof = False  # the client has sent all it will (half-closed)
        self.lingering = False  # refused: reading what comes until the connection is closed
        self.receiving = False  # between a request's first byte and its end
        self.last = False  # close once the requests read are answered (an Upgrade was asked)
        self._keep = self._no_body = False
        self._whole_read = False  # this read may be one whole request (see data_received)
        self._begun = 0  # requests begun in this read
        self._answered: tuple[tuple, tuple] | None = None  # the key and parsed form of the last one
        self._pumped: tuple[bool, tuple] = (False, ())
        self.out: list[bytes] = []  # what is to be written at once
        self._sending: tuple[FileBody, int, tuple] | None = None  # a file being sent, and how far
        self.fd = -1  # the socket's, for sendfile
        self._sock: socket.socket | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.w.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fd = sock.fileno()
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.remote = (str(peer[0]), str(peer[1]))
        if len(self.w.connections) > CONNECTIONS or self.w.stopping:
            self.refuse(503, "The server is at its limit of connections; try again in a moment.\n")

    @property
    def sock(self) -> socket.socket | None:
        """A socket object on a copy of the connection's descriptor (made once, when a file is sent):
        uvloop's own offers no ``send`` with flags."""
        if self._sock is None and self.fd >= 0:
            self._sock = socket.socket(fileno=os.dup(self.fd))
            self._sock.setblocking(False)
        return self._sock

    def connection_lost(self, exc: Exception | None) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.closed = True
        self.w.connections.discard(self)
        self.since = None
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if self.pump is not None:
            _close(self.pump)
            self.pump = None

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._flow()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if self.pump is not None:
            self._pump()
        elif self._sending is not None:
            self._send_file()
        self._flow()
        if not self.busy and self.queue:
            self._next()

    def _flow(self) -> None:
        """Read while the client reads its answers and few requests wait; else stop reading (a client
        that sends requests without reading the answers would otherwise fill the worker's memory)."""
        if self.transport is None or self.closed:
            return
        if self.reading_paused:
            if not self.writing_paused and len(self.queue) <= _PIPELINE // 2:
                self.reading_paused = False
                self.transport.resume_reading()
        elif self.writing_paused or len(self.queue) > _PIPELINE:
            self.reading_paused = True
            self.transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return
        w = self.w
        idle = not (self.receiving or self.busy or self.queue or self.closed or self.writing_paused
                    or self.last or self.refused is not None or w.epoch is None)
        if idle and w.raw and len(data) <= _REPLAY_KEY:
            # The same bytes as a request seen before, whole in one read, from a request boundary: the
            # same request (the parser would leave the same state), answered without parsing it.
            found = w.raw.get(data)
            if found is not None and found[0][0] == w.epoch():  # type: ignore[misc]
                self.since, self.head_bytes = None, 0  # as once the parser has read a request's head
                try:
                    self._replay(*found)
                except Exception:  # noqa: BLE001 - as in _next: logged, the connection closed
                    log.exception("error answering %r", found[1][1][:200])
                    self.busy = False
                    self._close()
                    return
                self._next()
                return
        if self.in_head:
            self.head_bytes += len(data)
        self._whole_read, self._begun, self._answered = idle, 0, None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrade (WebSocket, h2c) is not offered: the request is answered as HTTP/1.1, and the
            # connection closed after it (the parser stops at an upgrade; what follows is not read).
            self.last = True
            if not self.busy and not self.queue:
                self._close()
        except httptools.HttpParserError:
            if self.refused is None:
                self.refused = (400, "The request is not well-formed HTTP/1.1.\n")
        if self.refused is None and self.in_head and self.head_bytes > MAX_HEAD + _READ:
            self.refused = (431, f"The request line and headers are longer than {MAX_HEAD} bytes.\n")
        if self.refused is not None and not self.busy:
            self.refuse(*self.refused)
        elif (self._whole_read and self._begun == 1 and self._answered is not None and not self.receiving
              and not self.last and self.refused is None):
            w.remember(data, *self._answered)

    def eof_received(self) -> bool | None:
        self.eof = True
        if self.lingering:
            self._close()
            return None
        if self.busy or self.queue:
            return True  # half-closed: answer what was asked, then close
        return None

    # -- httptools callbacks --------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._begun += 1
        self.url, self.headers, self.body, self.body_size = b"", [], [], 0
        self.since, self.receiving = time.monotonic(), True  # KEEP_ALIVE for the head, from its first byte
        self.since = self.since or time.monotonic()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_head:  # trailers of a chunked body are not headers of the request
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        size, hosts, expect = len(self.url), 0, False
        for name, value in self.headers:  # one pass: this runs for every request
            size += len(name) + len(value) + 4
            if len(name) == 4 and name.lower() == b"host":
                hosts += 1
            elif len(name) == 14 and name.lower() == b"content-length":
                if value.isdigit() and int(value) > self.w.max_body:
                    self.refused = (413, f"The request body is larger than {self.w.max_body} bytes.\n")
            elif len(name) == 6 and name.lower() == b"expect":
                expect = value.lower() == b"100-continue"
                self._whole_read = False  # answered with a 100 first: never without parsing
            elif len(name) == 7 and name.lower() == b"upgrade":
                self.last = True  # not offered: answered as HTTP/1.1, then closed (the parser stops there)
        if size > MAX_HEAD or self.head_bytes > MAX_HEAD + _READ:
            self.refused = (431, f"The request line and headers are longer than {MAX_HEAD} bytes.\n")
        elif hosts > 1 or (hosts == 0 and self.parser.get_http_version() == "1.1"):
            self.refused = (400, "An HTTP/1.1 request has exactly one Host header (RFC 9112, section 3.2).\n")
        self.in_head, self.head_bytes = False, 0
        if (expect and self.refused is None and not self.busy and not self.queue
                and self.transport is not None and self.parser.get_http_version() == "1.1"):
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        self.since = time.monotonic()  # the limit runs between two reads (nginx's client_body_timeout)
        if self.body_size > self.w.max_body:
            limit = self.w.max_body
            self.refused = self.refused or (413, f"The request body is larger than {limit} bytes.\n")
        elif self.refused is None:
            self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_head = True  # what comes next is the next request's head
        if self.refused is not None:
            return
        self.queue.append((self.parser.get_method(), self.url, self.parser.get_http_version(), self.headers,
                           b"".join(self.body), self.parser.should_keep_alive()))
        self.since = None
        self.receiving = False
        self._flow()
        if not self.busy:
            self._next()

    # -- answering --------------------------------------------------------------------------------------
    def _next(self) -> None:
        """Answer the requests waiting, in order: prepared ones here, the others in a thread."""
        while self.queue and not self.busy and not self.closed and not self.writing_paused:
            request = self.queue.popleft()
            self._flow()
            try:
                key = self.w.replay_key(request)
                if key is not None:
                    self._answered = (key, request)
                    hit = self.w.replays.get(key)
                    if hit is not None and hit[0] == self.w.epoch():  # type: ignore[misc]
                        self._replay(hit, request)
                        continue
                environ = self._environ(request)
                if self.w.ready(environ):
                    self._answer_here(environ, request, key)
                else:
                    self.busy = True
                    assert self.w.loop is not None
                    pending = self.w.asynchronous(environ) if self.w.asynchronous is not None else None
                    if pending is not None:
                        self.w.loop.create_task(self._answer_waiting(pending, environ, request))
                    else:
                        self.w.loop.create_task(self._answer_in_thread(environ, request))
            except Exception:  # noqa: BLE001 - the server's own failure: logged, the connection closed
                log.exception("error answering %r", request[1][:200])
                self.busy = False
                self._close()
                return
        if not self.busy and not self.queue and not self.closed:
            if self.refused is not None:
                self.refuse(*self.refused)
            elif self.eof:
                self._close()
            elif self.since is None:
                self.since = time.monotonic()

    def _environ(self, request: tuple) -> dict[str, Any]:
        method, url, version, headers, body, _ = request
        authority: bytes | None = None
        if url[:1] == b"/":
            path, _, query = url.partition(b"?")
        elif url == b"*":
            path, query = b"*", b""
        else:  # absolute form (RFC 9112 §3.2.2)
            try:
                parsed = httptools.parse_url(url)
                path, query = parsed.path or b"/", parsed.query or b""
                if parsed.host:  # RFC 9112 3.2.2: the target's authority replaces Host
                    authority = parsed.host + (b":%d" % parsed.port if parsed.port else b"")
            except httptools.HttpParserInvalidURLError:
                path, query = url, b""
        path, _, _ = path.partition(b"#")
        if b"%" in path:
            path = unquote_to_bytes(path)
        environ = self.w.base.copy()
        environ["REQUEST_METHOD"] = method.decode("latin-1")
        environ["PATH_INFO"] = path.decode("latin-1")
        environ["QUERY_STRING"] = query.decode("latin-1")
        environ["RAW_URI"] = url.decode("latin-1")
        environ["SERVER_PROTOCOL"] = "HTTP/1.1" if version == "1.1" else "HTTP/" + version
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = self.remote
        environ["wsgi.input"] = io.BytesIO(body)
        names = self.w.environ_name
        for name, value in headers:
            key = names(name)
            if key is None:
                continue
            text = value.decode("latin-1")
            if key in environ:
                text = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + text
            environ[key] = text
        if authority:
            environ["HTTP_HOST"] = authority.decode("latin-1")
        if body and "CONTENT_LENGTH" not in environ:  # a chunked body, read whole
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ

    def _replay(self, hit: tuple, request: tuple) -> None:
        """Answer as the app answered the same request before (same data, same headers)."""
        began = time.monotonic()
        _, started, body, logged, whole = hit
        if (whole is not None and request[5] and request[2] == "1.1" and not self.last and not self.w.stopping
                and not self.out and not self.closed and self.transport is not None):
            self._keep = True  # what _head decides for this request
            if whole[2] is None:  # a file: the head, held for the file's first bytes, then the file
                self.out.append(b"".join((whole[0], self.w.clock.date(), whole[1])))
                self._no_body = False
                self._flush_more()
                self.busy = True
                self._sending = (body, 0, request)
                self._send_file()
            else:
                self.transport.write(b"".join((whole[0], self.w.clock.date(), whole[1], whole[2])))
        else:
            self._send(started, body, request)
        if logged is not None:
            self.w.replay_log.replayed(self.remote[0], logged, began)  # type: ignore[union-attr]

    def _answer_here(self, environ: dict[str, Any], request: tuple, key: tuple | None = None) -> None:
        """A prepared answer: the app returns it at once, and the loop writes it."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return _no_write

        try:
            body = self.w.app(environ, start_response)
        except Exception:  # noqa: BLE001 - a failure of one request, logged; the connection goes on
            log.exception("error answering %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            self._error(request)
            return
        epoch = environ.get("tourkg.replayable")
        if key is not None and epoch is not None and started and isinstance(body, (list, FileBody)):
            self.w.keep_replay(key, epoch, started, body, environ)
        self._send(started, body, request)

    def _send(self, started: list[Any], body: Any, request: tuple) -> None:
        """Write what a prepared answer's app call returned (or returned before, when replayed)."""
        if isinstance(body, list):
            self._write(started, body, None, request)
            _close(body)
        elif isinstance(body, FileBody) and request[0] != b"HEAD":
            self._head(started, [], body, request)
            self._flush_more()
            self.busy = True
            self._sending = (body, 0, request)
            self._send_file()
        else:
            self._write(started, [], body, request)

    async def _answer_waiting(self, pending: Awaitable[Any], environ: dict[str, Any], request: tuple) -> None:
        """A request the app answers from the loop (it only waits for the engine): write its answer, or
        let a thread answer when the app gives ``None``."""
        try:
            answer = await pending
        except Exception:  # noqa: BLE001 - the app's own failure: logged, and a thread answers in full
            log.exception("error answering %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            answer = None
        if answer is None:
            await self._answer_in_thread(environ, request)
            return
        status, headers, body = answer
        try:
            self._write([status, headers], body, None, request)
        except Exception:  # noqa: BLE001 - as in _next: logged, the connection closed
            log.exception("error answering %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            self._close()
        self.busy = False
        self._next()

    async def _answer_in_thread(self, environ: dict[str, Any], request: tuple) -> None:
        """Any other request: the app runs in a thread; the loop writes what it returns, as it comes."""
        assert self.w.loop is not None
        loop, pool = self.w.loop, self.w.pool
        body: Any = None
        try:
            started, body, chunks, rest = await loop.run_in_executor(pool, _run, self.w.app, environ)
        except Exception:  # noqa: BLE001 - logged; the client gets a 500
            log.exception("error answering %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            self.busy = False
            self._error(request)
            self._next()
            return
        try:
            chunked = self._head(started, chunks, rest, request)
            head = environ["REQUEST_METHOD"] == "HEAD"
            self._body(chunks, chunked, head)
            while rest is not None and not self.closed:
                if self.writing_paused:
                    self.drained = loop.create_future()
                    await self.drained
                    continue
                chunks, more = await loop.run_in_executor(pool, _gather, rest)
                self._body(chunks, chunked, head)
                if not more:
                    rest = None
            if not self.closed:
                self._end(chunked, request)
        except Exception:  # noqa: BLE001 - the answer broke off: the client sees a short answer
            log.exception("error streaming %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            self._close()
        finally:
            if body is not None and not isinstance(body, list):
                await loop.run_in_executor(pool, _close, body)
            self.busy = False
        self._next()

    def _write(self, started: list[Any], chunks: list[bytes], rest: Iterator[bytes] | None,
               request: tuple) -> None:
        """Write an answer whose body is ``chunks``, then what the (non-blocking) iterator ``rest`` gives,
        as fast as the client reads it."""
        chunked = self._head(started, chunks, rest, request)
        head = request[0] == b"HEAD"
        self._body(chunks, chunked, head)
        if rest is None:
            self._end(chunked, request)
            return
        if head:
            _close(rest)
            self._end(chunked, request)
            return
        self.busy = True
        self.pump = rest
        self._pumped = (chunked, request)
        self._pump()

    def _send_file(self) -> None:
        """Send a prepared file with ``sendfile(2)``; when the socket is full, one block through the
        transport, which says when it can take more (:meth:`resume_writing`)."""
        body, offset, request = self._sending
        transport = self.transport
        assert transport is not None
        try:
            while offset < body.size and not self.closed:
                if self.writing_paused:
                    self._sending = (body, offset, request)
                    return
                sent = 0
                if not transport.get_write_buffer_size():
                    try:  # not contextlib.suppress: this runs for every file sent
                        sent = os.sendfile(self.fd, body.fd, offset, body.size - offset)
                    except BlockingIOError:
                        pass
                if not sent:  # the socket is full, or the transport holds bytes still: they go first
                    sent = len(data := os.pread(body.fd, min(body.block, body.size - offset), offset))
                    if not sent:
                        raise OSError(f"{body.file.name} is shorter than it was")
                    transport.write(data)
                offset += sent
        except OSError as exc:
            if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                log.debug("client went away during %r", request[1][:200])
            else:
                log.exception("error sending %r", request[1][:200])
            self._sending = None
            self._close()
            return
        self._sending = None
        if not self.closed:
            self._end(False, request)
        self.busy = False
        self._next()

    def _pump(self) -> None:
        rest = self.pump
        assert rest is not None
        chunked, request = self._pumped
        try:
            while not self.writing_paused and not self.closed:
                block = next(rest, None)
                if block is None:
                    self.pump = None
                    _close(rest)
                    self._end(chunked, request)
                    self.busy = False
                    self._next()
                    return
                self._body([block], chunked, False)
        except Exception:  # noqa: BLE001 - a prepared file that cannot be read: the answer breaks off
            log.exception("error sending %s", request[1])
            self.pump = None
            _close(rest)
            self._close()

    def _head(self, started: list[Any], chunks: list[bytes], rest: Any, request: tuple) -> bool:
        """Queue the status line and headers; returns whether the body is sent chunked."""
        if not started:
            raise RuntimeError("the app returned without calling start_response")
        status, headers = started[0], started[1]
        encoded, length = self.w.encoded(status, headers)
        code = int(status[:3])
        version, keep_alive = request[2], request[5]
        parts = [encoded, self.w.clock.date()]
        chunked = False
        if not length and code not in _NO_BODY and code >= 200:
            if rest is None:
                parts.append(b"Content-Length: %d\r\n" % sum(map(len, chunks)))
            elif request[0] == b"HEAD":
                pass
            elif version == "1.1":
                parts.append(b"Transfer-Encoding: chunked\r\n")
                chunked = True
            else:
                keep_alive = False  # HTTP/1.0: the end of the connection ends the body
        if self.w.stopping or not keep_alive or (self.last and not self.queue):
            keep_alive = False
            parts.append(b"Connection: close\r\n")
            self.queue.clear()
        elif version == "1.0":
            parts.append(b"Connection: keep-alive\r\n")
        self._keep = keep_alive
        parts.append(b"\r\n")
        self.out.append(b"".join(parts))
        self._no_body = request[0] == b"HEAD" or code in _NO_BODY or code < 200
        return chunked

    def _body(self, chunks: list[bytes], chunked: bool, head: bool) -> None:
        """Write what waits (the head) and ``chunks``, at once: one system call for a small answer."""
        out = self.out
        if not (head or self._no_body):
            for chunk in chunks:
                if chunk:
                    out += (b"%x\r\n" % len(chunk), chunk, b"\r\n") if chunked else (chunk,)
        self._flush()

    def _flush(self) -> None:
        out = self.out
        if not out:
            return
        self.out = []
        if self.closed or self.transport is None:
            return
        if len(out) == 1:
            self.transport.write(out[0])
        elif sum(map(len, out)) <= _JOINED:
            self.transport.write(b"".join(out))
        else:
            self.transport.writelines(out)

    def _flush_more(self) -> None:
        """Write the head of a file's answer with ``MSG_MORE``: the kernel holds it for the file's first
        bytes, so that they leave in full segments (nginx's ``tcp_nopush``), not a small one first."""
        out, self.out = b"".join(self.out), []
        if self.closed or self.transport is None:
            return
        if self.sock is not None and not self.transport.get_write_buffer_size():
            try:
                sent = self.sock.send(out, socket.MSG_MORE)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close()
                return
            out = out[sent:]
        if out:
            self.transport.write(out)

    def _end(self, chunked: bool, request: tuple) -> None:
        if chunked and not self._no_body:
            self.out.append(b"0\r\n\r\n")
        self._flush()
        if not self._keep:
            self._close()

    def _error(self, request: tuple) -> None:
        """500 for a request whose app failed before answering."""
        body = b"500 Internal Server Error\n\nThe server could not answer this request; it is logged.\n"
        self._head(["500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8"),
                                                  ("Content-Length", str(len(body)))]], [body], None, request)
        self._body([body], False, request[0] == b"HEAD")
        self._end(False, request)

    def refuse(self, code: int, message: str) -> None:
        """Answer a request that cannot be read (or a connection that cannot be served) and close."""
        if self.closed or self.transport is None:
            return
        reason = {400: "Bad Request", 413: "Content Too Large", 431: "Request Header Fields Too Large",
                  503: "Service Unavailable", 408: "Request Timeout"}[code]
        body = f"{code} {reason}\n\n{message}".encode()
        self.transport.write(b"HTTP/1.1 %d %b\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             b"Content-Length: %d\r\n%bConnection: close\r\n\r\n%b"
                             % (code, reason.encode(), len(body), self.w.clock.date(), body))
        if self.lingering or not self.transport.can_write_eof() or self.w.loop is None:
            self._close()
            return
        self.lingering = True  # what the client still sends is read and dropped, then the connection closes
        self.queue.clear()
        self.since = None
        self.transport.write_eof()
        self.w.loop.call_later(_LINGER, self._close)

    def timed_out(self) -> None:
        """Nothing (or not all of a request) came within :data:`KEEP_ALIVE` seconds."""
        if self.busy or self.queue:
            return
        if self.receiving or (self.in_head and self.head_bytes):  # a request begun and never finished
            self.refuse(408, f"The request did not arrive within {KEEP_ALIVE:g} seconds.\n")
        else:
            self._close()

    def _close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.since = None
            self.transport.close()

    def idle(self) -> bool:
        return not self.busy and not self.queue


def _no_write(data: bytes) -> None:
    raise RuntimeError("the write() callable of start_response is not supported; return the body")


def _close(body: Any) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def _run(app: _App, environ: dict[str, Any]) -> tuple[list[Any], Any, list[bytes], Iterator[bytes] | None]:
    """In a thread: run the app and gather the first part of its answer (all of it, when short)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None and started and started[2]:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers, False]
        return _no_write

    body = app(environ, start_response)
    if isinstance(body, list):
        return started, body, body, None
    try:
        rest = iter(body)
        chunks, more = _gather(rest)
    except BaseException:
        _close(body)
        raise
    return started, body, chunks, rest if more else None


def _gather(rest: Iterator[bytes]) -> tuple[list[bytes], bool]:
    """In a thread: the next blocks of a streamed answer, up to :data:`_BATCH` bytes; and whether more
    may follow."""
    chunks, size = [], 0
    for block in rest:
        chunks.append(block)
        size += len(block)
        if size >= _BATCH:
            return chunks, True
    return chunks, False


# -- processes --------------------------------------------------------------------------------------------
def listener(host: str, port: int) -> socket.socket:
    """A listening socket of this worker's own (``SO_REUSEPORT``: the kernel spreads the connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


def run_worker(app: _App, *, host: str, port: int, threads: int,
               ready: Callable[[dict[str, Any]], bool] | None = None, epoch: Callable[[], int] | None = None,
               replay_log: ReplayLog | None = None, sock: socket.socket | None = None,
               max_body: int = MAX_BODY) -> None:
    """Serve in this process until SIGINT or SIGTERM, then finish the requests begun and return."""
    import uvloop

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    worker = Worker(app, host=host, port=port, threads=threads, ready=ready, epoch=epoch,
                    replay_log=replay_log, max_body=max_body)
    worker.loop = loop
    sock = sock or listener(host, port)
    server = loop.run_until_complete(loop.create_server(lambda: Connection(worker), sock=sock,
                                                        backlog=BACKLOG))
    stop = loop.create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    loop.call_later(1.0, worker.sweep)
    try:
        loop.run_until_complete(stop)
        worker.stopping = True
        server.close()
        loop.run_until_complete(_finish(worker))
    finally:
        worker.pool.shutdown(wait=False, cancel_futures=True)
        loop.close()


async def _finish(worker: Worker) -> None:
    """Close idle connections; give the busy ones :data:`STOP_TIMEOUT` seconds to finish."""
    deadline = time.monotonic() + STOP_TIMEOUT
    while worker.connections and time.monotonic() < deadline:
        for connection in list(worker.connections):
            if connection.idle():
                connection._close()
        await asyncio.sleep(0.02)
    for connection in list(worker.connections):
        connection._close()
    await asyncio.sleep(0)


class Supervisor:
    """Forks the web workers, starts again one that dies, and stops them all on SIGINT or SIGTERM."""

    def __init__(self, workers: int, start: Callable[[], None]) -> None:
        """:param start: runs in each forked worker and serves until it is told to stop."""
        self.count, self.start = workers, start
        self.children: dict[int, float] = {}  # pid → started at
        self.stopping = False

    def _fork(self) -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            code = 0
            try:
                signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor reloads
                signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the supervisor's handler, until the
                signal.signal(signal.SIGINT, signal.default_int_handler)  # loop installs its own
                _more_files()
                self.start()
            except BaseException:  # noqa: BLE001 - said, then the worker exits (and is started again)
                log.exception("web worker %s failed", os.getpid())
                code = 1
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        self.children[pid] = time.monotonic()

    def run(self, started: Callable[[], None] | None = None) -> None:
        """Fork the workers, call ``started``, and watch them until SIGINT or SIGTERM."""
        def stop(*_: Any) -> None:
            self.stopping = True

        previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for _ in range(self.count):
                self._fork()
            if started is not None:
                started()
            while not self.stopping:
                self._reap(respawn=True)
                time.sleep(0.05)
        finally:
            self._stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _reap(self, *, respawn: bool) -> None:
        """Start again the workers that have exited. Only the workers are waited for, by their pids:
        other children (engines, the SHACL gate of a reload) belong to those who started them."""
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if not done:
                continue
            born = self.children.pop(pid)
            if respawn and not self.stopping:
                code = os.waitstatus_to_exitcode(status)
                log.warning("web worker %s exited (%s); starting another", pid, code)
                if time.monotonic() - born < 1.0:
                    time.sleep(1.0)  # failing at once: do not spin
                self._fork()

    def _stop(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT + 1.0
        while self.children and time.monotonic() < deadline:
            for pid in list(self.children):
                with contextlib.suppress(ChildProcessError):
                    done, _ = os.waitpid(pid, os.WNOHANG)
                    if done:
                        self.children.pop(pid, None)
                        continue
                if not _alive(pid):
                    self.children.pop(pid, None)
            time.sleep(0.02)
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        self.children.clear()


def _more_files() -> None:
    """Raise this process's limit of open files to what it may (a connection is a file, and a
    connection sending a dump one more): the usual soft limit, 1024, is below :data:`CONNECTIONS`."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * CONNECTIONS + 256 if hard == resource.RLIM_INFINITY else min(hard, 4 * CONNECTIONS + 256)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def serve_forever(app: _App, *, host: str, port: int, workers: int, threads: int,
                  ready: Callable[[dict[str, Any]], bool] | None = None,
                  epoch: Callable[[], int] | None = None, replay_log: ReplayLog | None = None,
                  in_worker: Callable[[], None] | None = None, finished: Callable[[], None] | None = None,
                  started: Callable[[], None] | None = None, max_body: int = MAX_BODY) -> None:
    """Serve ``app`` on ``host:port`` with ``workers`` processes until SIGINT or SIGTERM.

    :param in_worker: runs in each worker once forked, before it serves.
    :param finished: runs in each worker once it has stopped serving, before it exits.
    :param started: runs in the supervisor once the workers are forked.
    """
    def start() -> None:
        if in_worker is not None:
            in_worker()
        try:
            run_worker(app, host=host, port=port, threads=threads, ready=ready, epoch=epoch,
                       replay_log=replay_log, max_body=max_body)
        finally:
            if finished is not None:
                finished()

    # The port is held by the supervisor as well (bound, never listening: it takes no connection), so
    # that no other program takes it between two workers' restarts.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        holder.bind((host, port))
        Supervisor(workers, start).run(started)
    finally:
        holder.close()

