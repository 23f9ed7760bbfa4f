"""The query hot path: ``GET /sparql?query=…`` answered without Flask's routing.

A query's answer is never kept (the fast path replays only what a view marked preparable), so every
query request goes through the web worker's Python. Behind a busy engine that Python runs on cores the
engine's query threads share, and its cost counts: measured on 100k triples under 8 connections of
``COUNT(*)``, the web workers used about 1.1 ms of CPU per request beside the engine's 15 ms, CPU the
engine does not get on two cores (README, Performance). Here the same protocol rules run
(``tourkg.sparql``, ``web.conneg``: the same functions the view calls) without the request object,
the routing, the blueprint's view and the after-request hooks.

With the engine process as the store, such a query does not take a thread of the web worker either:
:func:`answer_async` sends it from the server's event loop over a connection the loop drives
(``engines.link``) and the loop writes the answer when it comes. Measured on 100k triples, 8
connections of ``COUNT(*)``, paired rounds against Oxigraph server: the web workers' CPU a query went
from 1.23 to 0.82 ms, and the throughput from 0.88x to 0.97x Oxigraph's (the remote engine, which has
no ``aquery``, still answers in a thread).

Only the plainest requests are taken, from a client that does not want the query page, and that pass
every check: a GET whose query string is exactly one ``query`` parameter, or a POST with no query
string whose body, of a declared length of at most :data:`MAX_BODY`, is exactly one ``query`` form field or
an ``application/sparql-query`` (YASGUI and notebooks POST; SPARQL 1.1 Protocol §2.1.2-3).
Everything else, including every refusal, goes to Flask, which answers it in full. A refusal that
comes from running the query (a syntax error found by the engine, the time limit, a busy engine) is
handed to the view in the WSGI environ (:data:`QUERY_ERROR`) and raised there, so its response is
Flask's own and the query never runs twice.
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.http import parse_list_header
from werkzeug.wsgi import get_content_length

from tourkg import sparql
from tourkg.errors import TourkgError
from tourkg.web import CORS_HEADERS, ENVIRON_KEY
from tourkg.web.accesslog import QUERY_SECONDS
from tourkg.web.conneg import choose_query_formats, wants_page

#: Longest POST body read here; longer ones go to Flask (which refuses past ``MAX_CONTENT_LENGTH``, at
#: least 1 MB): a body is read whole before anything is decided.
MAX_BODY = 64 << 10
#: WSGI environ key of an exception the query hot path met while running a query: the view raises it.
QUERY_ERROR = "tourkg.query_error"
#: An answer: status, headers, body.
Answer = tuple[str, list[tuple[str, str]], list[bytes]]
#: The headers the Flask view and the app's after-request hook add to every query answer, in their order.
_HEADERS = (("Vary", "Accept"), *CORS_HEADERS.items(), ("X-Content-Type-Options", "nosniff"))


def client_address(environ: dict[str, Any], hops: int) -> str | None:
    """The client's address as Flask's ``request.remote_addr`` gives it behind ``ProxyFix(x_for=hops)``:
    the ``hops``-th address from the right of ``X-Forwarded-For`` when there are that many (and it is
    not empty)."""
    if hops:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            values = parse_list_header(forwarded)
            if len(values) >= hops and values[-hops]:
                return values[-hops]
    return environ.get("REMOTE_ADDR")


def query_text(environ: dict[str, Any]) -> str | None:
    """The query of a plain query request (see the module docstring), as the view reads it; ``None``
    for any other request. A POST body read here is put back, for Flask to read when it answers."""
    if environ.get("PATH_INFO") != "/sparql":
        return None
    method = environ.get("REQUEST_METHOD")
    if method == "GET":
        return _lone_query(environ.get("QUERY_STRING", ""), "URL")
    if method != "POST" or environ.get("QUERY_STRING"):
        return None
    media_type = sparql.media_type(environ.get("CONTENT_TYPE"))
    if media_type not in (sparql.FORM_URLENCODED, sparql.SPARQL_QUERY):
        return None
    length = get_content_length(environ)  # as werkzeug reads it; None when chunked or broken
    if length is None or length > MAX_BODY or "HTTP_TRANSFER_ENCODING" in environ:
        return None
    try:
        body = environ["wsgi.input"].read(length)
    except OSError:  # the client went away (a stream may give a short read instead)
        environ["wsgi.input"] = io.BytesIO(b"")
        return None
    environ["wsgi.input"] = io.BytesIO(body)  # Flask reads the same bytes if it answers
    if len(body) != length:
        return None
    if media_type == sparql.SPARQL_QUERY:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return _lone_query(body.decode("latin-1"), "form body") if body.isascii() else None


def _lone_query(raw: str, what: str) -> str | None:
    """The value of ``raw`` (URL-encoded, ASCII) when it is exactly one ``query`` parameter and decodes
    to UTF-8."""
    if not raw.startswith("query=") or not raw.isascii():
        return None
    pairs = parse_qsl(raw, keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != "query":
        return None
    try:
        sparql.check_urlencoded_utf8(raw.encode("ascii"), what)
    except TourkgError:
        return None
    return pairs[0][1]


def _checked(environ: dict[str, Any]) -> tuple[Any, sparql.QueryRequest, Any, str | None] | None:
    """The publisher, the checked query, the formats chosen and the client of a plain query request that
    passes every check; ``None`` to let Flask answer it (refusals included)."""
    text = query_text(environ)
    publisher = environ.get(ENVIRON_KEY)
    if text is None or publisher is None:
        return None
    accept = environ.get("HTTP_ACCEPT")
    try:
        if wants_page(accept, None):
            return None
        request = sparql.check_query(sparql.QueryRequest(text), publisher.settings.max_query_length)
        chosen = choose_query_formats(accept, None)
    except TourkgError:
        return None  # refused before running: Flask refuses it again, the same way
    client = client_address(environ, publisher.settings.proxy_hops)
    if client:
        environ["REMOTE_ADDR"] = client  # as ProxyFix sets it: the access log names this client too
    return publisher, request, chosen, client


def _answered(outcome: Any) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    body = outcome.body
    return "200 OK", [("Content-Type", outcome.format.content_type), ("Content-Length", str(len(body))),
                      *_HEADERS], [body]


def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
    """Answer a plain query request with the data of this request's publisher (``environ``'s), or
    ``None`` to let Flask answer it (see the module docstring)."""
    checked = _checked(environ)
    if checked is None:
        return None
    publisher, request, chosen, client = checked
    started = time.monotonic()
    try:
        outcome = sparql.run_query(publisher.store, request, chosen, client=client)
    except Exception as exc:  # noqa: BLE001 - the view raises it, and Flask's handlers answer
        environ[QUERY_ERROR] = exc
        return None
    finally:
        environ[QUERY_SECONDS] = time.monotonic() - started
    status, headers, body = _answered(outcome)
    start_response(status, headers)
    return body


def answer_async(environ: dict[str, Any]) -> Awaitable[Answer | None] | None:
    """For the server's event loop: the answer of a plain query request, when the store can run it
    without a thread (the engine process's, ``EngineStore.aquery``); ``None`` when it cannot or the
    request is not plain. The awaitable gives ``(status, headers, body)``, or ``None`` after a failure,
    left in the environ (:data:`QUERY_ERROR`) for Flask to answer, as :func:`answer` does.

    Only the default dataset is asked this way: a plain request names no graph, and the engine process
    holds every graph (the remote engine, which must be told them, has no ``aquery``)."""
    publisher = environ.get(ENVIRON_KEY)
    if publisher is None or getattr(publisher.store, "aquery", None) is None:
        return None
    checked = _checked(environ)
    if checked is None:
        return None
    return _run(environ, *checked)


async def _run(environ: dict[str, Any], publisher: Any, request: sparql.QueryRequest, chosen: Any,
               client: str | None) -> Answer | None:
    started = time.monotonic()
    try:
        outcome = await publisher.store.aquery(request.query, formats=chosen, client=client,
                                               has_from=request.info.has_from)
    except Exception as exc:  # noqa: BLE001 - the view raises it, and Flask's handlers answer
        environ[QUERY_ERROR] = exc
        return None
    finally:
        environ[QUERY_SECONDS] = time.monotonic() - started
    return _answered(outcome)
