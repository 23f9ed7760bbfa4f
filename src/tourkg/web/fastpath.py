"""The hot path: answer repeated GET and HEAD requests from prepared responses before Flask routes.

The data does not change while serving, so a resource document, a page, a 303 or a dump is the same
bytes for the same request. The first request goes through Flask, whose view marks the response as
preparable (:data:`CACHEABLE`, or :data:`FILE` for a dump on disk); later requests with the same key
(path, query string, and every header a view reads: ``Accept``, ``Accept-Language``, whether gzip is
accepted, ``Host``, forwarded headers behind a trusted proxy) are answered here in microseconds, with
conditional requests (``If-None-Match``, ``If-Modified-Since``: 304) and ``HEAD``. Dumps are sent from
their file in blocks, never read into memory whole. Range requests and the rarer preconditions
(``If-Match``, ``If-Unmodified-Since``) go to Flask, which implements them in full.

Model: Datasette's ``asgi_send_file`` and conditional responses; measured (docs/benchmarks.md): a WSGI
callable returning prepared bytes answered about 50,000 requests/s under granian, Flask's routing about
12,000; tourkg's server (``web/httpd.py``) answers what :meth:`FastPath.ready` finds in its event loop.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.http import is_resource_modified, parse_date, unquote_etag

from tourkg.web import query_path
from tourkg.web.accesslog import CONTENT_LENGTH

#: Header a view sets on a response that may be replayed for the same request key (removed before
#: sending).
CACHEABLE = "X-Tourkg-Prepared"
#: Header a view sets to have the body sent from this file instead (removed before sending).
FILE = "X-Tourkg-File"
#: Headers a 304 repeats (RFC 9110 §15.4.5), with the CORS headers every response carries.
_NOT_MODIFIED_KEEP = frozenset({"etag", "last-modified", "vary", "cache-control", "content-location",
                                "expires", "access-control-allow-origin", "access-control-expose-headers"})
#: Requests with these go to Flask, which implements them (Range → 206, preconditions → 412).
_TO_FLASK = ("HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE")
#: Longest URL (path and query string) accepted: about 8 KB, as most servers and proxies cap the request
#: line; past it 414. Longer SPARQL queries are POSTed, which SPARQL 1.1 Protocol §2.1 lets clients choose.
MAX_URL = 8190
_TOO_LONG = (b"414 URI Too Long\n\nThe request URL is longer than 8190 characters. Send long SPARQL queries "
             b"by "
             b"POST (SPARQL 1.1 Protocol \xc2\xa72.1: form body or application/sparql-query).\n")
_BLOCK = 128 << 10  # read by offset when a file is not sent with sendfile
#: Files larger than this are sent from the file (with ``sendfile`` by a server offering
#: ``wsgi.file_wrapper``, as tourkg's does), smaller ones from memory with their headers in one write.
SMALL_FILE = 16 << 10
#: Where :meth:`FastPath.ready` leaves the prepared answer it found, for the call that follows.
PREPARED = "tourkg.prepared"
#: Set by :meth:`FastPath.ready` when the answer is the same for every request with the same headers
#: for as long as the data does not change (not an answer of a remote engine, which expires).
REPLAYABLE = "tourkg.replayable"
_FORWARDED = ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PORT",
              "HTTP_X_FORWARDED_PREFIX", "HTTP_X_FORWARDED_FOR")


@dataclass
class Prepared:
    """A replayable response: status, headers and either bytes or a file."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes | None
    path: str | None
    etag: str | None
    last_modified: datetime | None
    not_modified: list[tuple[str, str]]
    born: float = 0.0
    etag_header: str | None = None  # the ETag header as sent: a client echoing it back gets its 304 at once
    length: str | None = None  # the Content-Length header as sent
    file: Any = None  # the file at ``path``, open while the answer is kept (closed with its last user)

    @property
    def size(self) -> int:
        return len(self.body) if self.body is not None else 0


def _gzip_accepted(header: str | None) -> bool:
    """Whether ``Accept-Encoding`` accepts gzip (q > 0), as ``request.accept_encodings`` reads it."""
    if not header:
        return False
    from werkzeug.datastructures import Accept
    from werkzeug.http import parse_accept_header

    return parse_accept_header(header, Accept)["gzip"] > 0


class FastPath:
    """WSGI middleware in front of the Flask app (see the module docstring)."""

    def __init__(self, app: Callable[..., Any], *, forwarded: bool = False, max_bytes: int = 64 << 20,
                 max_entry: int = 1 << 20, ttl: float | None = None) -> None:
        """:param ttl: seconds an answer is replayed (``None``: for good; a remote engine's data may
        change under tourkg, so its answers expire)."""
        self.app = app
        self.ttl = ttl
        self.forwarded = forwarded
        self.max_bytes, self.max_entry = max_bytes, max_entry
        self._entries: dict[tuple, Prepared] = {}
        self._bytes = 0
        self._gzip: dict[str | None, bool] = {}
        self._files: dict[str, Any] = {}  # the dumps' files, open (a dozen per dataset)
        self._lock = threading.Lock()

    def key(self, environ: dict[str, Any]) -> tuple:
        """Everything the views read from a GET request."""
        encoding = environ.get("HTTP_ACCEPT_ENCODING")
        gzip_ok = self._gzip.get(encoding)
        if gzip_ok is None:
            gzip_ok = _gzip_accepted(encoding)
            if len(self._gzip) < 1024:
                self._gzip[encoding] = gzip_ok
        key = (environ.get("PATH_INFO"), environ.get("QUERY_STRING"), environ.get("HTTP_ACCEPT"),
               environ.get("HTTP_ACCEPT_LANGUAGE"), gzip_ok, environ.get("HTTP_HOST"),
               environ.get("wsgi.url_scheme"))
        if self.forwarded:
            key += tuple(environ.get(name) for name in _FORWARDED)
        return key

    def ready(self, environ: dict[str, Any]) -> bool:
        """Whether this request is answered from a prepared answer, with no waiting: the server's event
        loop then calls the app in its own thread (``web/httpd.py``). The answer found is left in the
        environ, so that the call answers with it even if it is replaced meanwhile."""
        if len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) > MAX_URL:
            return True
        method = environ.get("REQUEST_METHOD")
        if (method != "GET" and method != "HEAD") or environ.get("PATH_INFO") == "/sparql":
            return False
        if any(h in environ for h in _TO_FLASK):
            return False
        entry = self._entries.get(self.key(environ))
        if entry is None or (self.ttl is not None and time.monotonic() - entry.born > self.ttl):
            return False
        environ[PREPARED] = entry
        if self.ttl is None:
            environ[REPLAYABLE] = True
        return True

    def asynchronous(self, environ: dict[str, Any]) -> Awaitable[query_path.Answer | None] | None:
        """The answer of a plain query request from the server's event loop, without a thread, when the
        store can (``query_path.answer_async``); ``None``: the request is answered by a thread."""
        if environ.get("PATH_INFO") != "/sparql" or any(h in environ for h in _TO_FLASK):
            return None
        if len(environ["PATH_INFO"]) + len(environ.get("QUERY_STRING", "")) > MAX_URL:
            return None
        return query_path.answer_async(environ)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        entry = environ.pop(PREPARED, None)
        if entry is not None:
            return self._respond(entry, environ, start_response, environ.get("REQUEST_METHOD") == "HEAD")
        if len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) > MAX_URL:
            start_response("414 URI Too Long", [("Content-Type", "text/plain; charset=utf-8"),
                                                ("Access-Control-Allow-Origin", "*")])
            return [_TOO_LONG]
        method = environ.get("REQUEST_METHOD")
        to_flask = any(h in environ for h in _TO_FLASK)
        if environ.get("PATH_INFO") == "/sparql" and not to_flask:  # a query: answered here when plain
            answered = query_path.answer(environ, start_response)
            if answered is not None:
                return answered
        if (method != "GET" and method != "HEAD") or to_flask:
            return self._pass(environ, start_response)
        key = self.key(environ)
        entry = self._entries.get(key)
        if entry is not None and self.ttl is not None and time.monotonic() - entry.born > self.ttl:
            entry = None
        if entry is not None:
            return self._respond(entry, environ, start_response, method == "HEAD")
        if method == "HEAD" or "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
            return self._pass(environ, start_response)  # Flask answers those in full; a later GET fills
        return self._fill(environ, start_response, key)

    def _pass(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Flask answers; the internal headers never leave the server."""
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k not in (CACHEABLE, FILE)]
            return start_response(status, kept, exc_info)
        return self.app(environ, start)

    def _fill(self, environ: dict[str, Any], start_response: Callable[..., Any],
              key: tuple) -> Iterable[bytes]:
        """Flask answers a plain GET; when the view marked the answer preparable it is kept for the next
        requests with the same key, otherwise it goes out as it came (a query's answer is never kept)."""
        captured: dict[str, Any] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = self.app(environ, start)
        headers = captured.get("headers", [])
        names = {k for k, _ in headers}
        if CACHEABLE not in names and FILE not in names:
            start_response(captured["status"], headers)
            return body
        try:
            path = next((v for k, v in headers if k == FILE), None)
            if path is not None and os.path.getsize(path) <= SMALL_FILE:
                with open(path, "rb") as handle:  # a small file is sent as bytes, like any other answer
                    data, path = handle.read(), None
            else:
                data = None if path else b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        entry = _prepared(captured["status"], headers, data, path)
        if path is not None and "wsgi.file_wrapper" in environ:
            entry.file = self._open(path)
        entry.born = time.monotonic()
        if entry.size <= self.max_entry:
            self._store(key, entry)
        return self._respond(entry, environ, start_response, False)

    def _open(self, path: str) -> Any:
        """The file at ``path``, opened once for all the answers sending it (by offset: they share it)."""
        with self._lock:
            file = self._files.get(path)
            if file is None:
                file = self._files[path] = open(path, "rb")  # noqa: SIM115 - open while this path is served
            return file

    def _store(self, key: tuple, entry: Prepared) -> None:
        with self._lock:
            if key in self._entries:
                self._bytes -= self._entries.pop(key).size  # an expired answer is replaced
            self._entries[key] = entry
            self._bytes += entry.size
            while (self._bytes > self.max_bytes or len(self._entries) > 65536) and self._entries:
                oldest = next(iter(self._entries))  # first in, first out: cheap, and a refill is cheap too
                self._bytes -= self._entries.pop(oldest).size

    def _respond(self, entry: Prepared, environ: dict[str, Any], start_response: Callable[..., Any],
                 head: bool) -> Iterable[bytes]:
        echoed = environ.get("HTTP_IF_NONE_MATCH")
        if echoed is not None and echoed == entry.etag_header:  # the usual revalidation, without parsing
            start_response("304 Not Modified", entry.not_modified)
            return [b""]
        conditional = echoed is not None or "HTTP_IF_MODIFIED_SINCE" in environ
        if entry.etag is not None and conditional:
            if not is_resource_modified(environ, etag=entry.etag, last_modified=entry.last_modified):
                start_response("304 Not Modified", entry.not_modified)
                return [b""]
        environ[CONTENT_LENGTH] = entry.length  # for the access log
        start_response(entry.status, entry.headers)
        if head:
            return [b""]
        if entry.path is not None:
            wrapper = environ.get("wsgi.file_wrapper")
            if wrapper is not None and entry.file is not None:
                return wrapper(entry.file, _BLOCK)  # sent with sendfile(2) by tourkg's server
            return _blocks(entry.path)
        return [entry.body]  # type: ignore[list-item]


def _prepared(status: str, headers: list[tuple[str, str]], body: bytes | None, path: str | None) -> Prepared:
    kept = [(k, v) for k, v in headers if k not in (CACHEABLE, FILE)]
    lower = {k.lower(): v for k, v in kept}
    etag = unquote_etag(lower["etag"])[0] if "etag" in lower else None
    modified = parse_date(lower["last-modified"]) if "last-modified" in lower else None
    not_modified = [(k, v) for k, v in kept if k.lower() in _NOT_MODIFIED_KEEP]
    return Prepared(status, kept, body, path, etag, modified, not_modified, etag_header=lower.get("etag"),
                    length=lower.get("content-length"))


def _blocks(path: str) -> Iterator[bytes]:
    with open(path, "rb", buffering=0) as handle:
        while block := handle.read(_BLOCK):
            yield block
