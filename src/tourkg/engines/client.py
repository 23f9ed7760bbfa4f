"""The web workers' side of the engine process: :class:`EngineProcess` starts, watches and restarts it
(in the supervisor); :class:`EngineStore` is the ``Store`` every web worker uses to talk to it.

A request cut short because the engine stopped for *another* query's overrun is retried on the new
engine within its own time budget; a query that overran itself gets 503 ``QueryTimeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any

from rdflib.term import Node

from tourkg import formats
from tourkg.engines import spawn
from tourkg.engines.allocator import SYSTEM
from tourkg.engines.link import Link, LinkCut, LinkTimeout
from tourkg.errors import (
    DataError,
    EngineUnavailable,
    NotAcceptable,
    Overloaded,
    QuerySyntaxError,
    QueryTimeout,
    ResultTooLarge,
    StartupError,
    TooManyRequests,
    TourkgError,
    readable_syntax_error,
)
from tourkg.formats import Format
from tourkg.prepare import Prepared
from tourkg.search import Hit, SearchIndex
from tourkg.store import Description, Dump, Quads, QueryFormats, QueryOutcome, Stats, decode, decode_quads

log = logging.getLogger(__name__)

#: How long a look-up may wait for the engine (which may be restarting, and on a first start of a large
#: dataset may still be loading) before the request gets 503.
LOOKUP_WAIT = 60.0
#: Extra time a query's answer may take past its limit before the engine is presumed stuck.
GRACE = 2.0
#: Descriptions kept per web worker (see ``EngineStore.describe``).
DESCRIBED = 64


class EngineProcess:
    """The engine process of a prepared dataset: started at once, restarted when it stops."""

    def __init__(self, prepared: Prepared, mode: str = "memory", disk_dir: str | None = None,
                 spare: subprocess.Popen | None = None, defer_rest: bool = False) -> None:
        """``spare``: an engine started beforehand (:func:`spawn.spawn`), given this plan first.
        ``defer_rest``: the engine renders the other dumps and the snapshot only once told that the server
        answers (:meth:`EngineStore.serving`), so that a first start's CPU goes to the start."""
        self.prepared = prepared
        self.address = str(Path(tempfile.mkdtemp(prefix="tourkg-")) / "engine.sock")
        self.authkey = os.urandom(16)
        self.plan = {
            "key": prepared.key, "prepared": str(prepared.folder), "mode": mode, "disk_dir": disk_dir,
            "socket": self.address, "authkey": self.authkey.hex(), "inputs": list(prepared.inputs),
            "prefixes": prepared.prefixes, "progress": sys.stderr.isatty(),
            "rewrite": [prepared.settings.data_base_uri, prepared.settings.base_uri],
            "admission": admission_limits(prepared.settings), "defer_rest": defer_rest,
        }
        self.meta: dict[str, Any] = {}
        self.restarts = 0
        self._stopping = False
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._start(spare)

    def _start(self, spare: subprocess.Popen | None = None) -> None:
        if spare is not None and spare.poll() is None:
            process = spare
        else:
            try:
                process = spawn.spawn(self.prepared.settings.engine_allocator)
            except StartupError as exc:
                if self.restarts == 0:  # at start: the operator is told and fixes it
                    raise
                log.error("%s Restarting the engine with the C library's allocator.", exc.message)
                process = spawn.spawn(SYSTEM)
        assert process.stdin is not None
        process.stdin.write((json.dumps(self.plan) + "\n").encode())
        process.stdin.close()
        self._process = process

    def wait_ready(self) -> dict[str, Any]:
        """Wait until the engine serves; its metadata (graphs, counts).

        :raises DataError: an input file does not load (the message names file, line and column).
        :raises StartupError: the engine stopped without saying why.
        """
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            if event["event"] == "ready":
                self.meta = event["meta"]
                return self.meta
            if event["event"] == "error":
                process.wait()
                raise DataError(event["message"])
        status = process.wait()
        raise StartupError(f"The engine process stopped while starting (exit status {status}).", 2)

    def supervise(self) -> None:
        """Keep an engine running until :meth:`stop`: a thread that restarts it whenever it exits."""
        threading.Thread(target=self._watch, name="engine-watch", daemon=True).start()

    def _watch(self) -> None:
        while True:
            process = self._process
            assert process is not None and process.stdout is not None
            for _line in process.stdout:  # later events ("prepared") only say what was done
                pass
            status = process.wait()
            process.stdout.close()  # each restart would otherwise leave the old engine's pipe open
            with self._lock:
                if self._stopping:
                    return
                self.restarts += 1
                log.warning("engine process exited (status %s); starting a new one", status)
                self.plan["defer_rest"] = False  # serving already: nobody would say so again
                self._start()
            try:
                self.wait_ready()
            except (DataError, StartupError) as exc:
                log.error("the engine could not restart: %s", exc)
                time.sleep(1.0)  # no busy loop when something is broken for good

    def stop(self) -> None:
        """Stop the engine for good (the server is stopping)."""
        with self._lock:
            self._stopping = True
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        Path(self.address).unlink(missing_ok=True)
        Path(self.address + ".lock").unlink(missing_ok=True)
        try:
            Path(self.address).parent.rmdir()
        except OSError:
            pass

    def store(self, settings: Any) -> EngineStore:
        """A ``Store`` speaking to this engine (safe to use after the web server forks)."""
        return EngineStore(self.address, self.authkey, self.meta, self.prepared.prefixes,
                           settings.query_timeout, settings.max_result_rows, settings.query_queue_wait)


def admission_limits(settings: Any) -> dict[str, Any]:
    """The query admission settings (see ``engines.admission``)."""
    return {"slots": settings.query_slots or os.cpu_count() or 2, "queue": settings.query_queue,
            "max_wait": settings.query_queue_wait, "per_client": settings.client_queries}


class EngineStore:
    """The ``Store`` on the engine process: a few Unix-socket connections per web worker."""

    def __init__(self, address: str, authkey: bytes, meta: dict[str, Any], prefixes: dict[str, str],
                 query_timeout: float, max_rows: int, queue_wait: float = 0.0) -> None:
        self.address, self.authkey = address, authkey
        self.queue_wait = queue_wait
        self.prefixes = dict(prefixes)
        self.query_timeout, self.max_rows = query_timeout, max_rows
        self._graphs = tuple(meta.get("graphs", ()))
        self._stats: Stats | None = None
        self._idle: list[Connection] = []
        #: Connections driven by the web worker's event loop (``aquery``), and that loop.
        self._links: list[Link] = []
        self._links_loop: asyncio.AbstractEventLoop | None = None
        self._kept: dict[str, dict[Any, Any]] = {kind: {} for kind in ("select", "exists", "describe",
                                                                        "labels")}
        self._pid = os.getpid()
        self._lock = threading.Lock()
        # A process forked while another thread holds the lock (the supervisor forks and respawns web workers
        # while the supervisor's reload or start-up threads use this store) would inherit it held and
        # wait for ever: the child starts with a lock and a pool of its own.
        os.register_at_fork(after_in_child=_forked(weakref.ref(self)))

    # -- connections ---------------------------------------------------------------------------------
    def _checkout(self, deadline: float) -> Connection:
        """A kept connection that is still open, else a new one (waiting for the engine until
        ``deadline``). A kept connection with something to read is one the engine closed (it stopped):
        the engine never speaks unasked."""
        while True:
            with self._lock:  # a forked child has a pool of its own (see _forked)
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            try:
                if not conn.poll(0):
                    return conn
            except (OSError, EOFError):
                pass
            conn.close()
        return self._connect(deadline)

    def _connect(self, deadline: float) -> Connection:
        """A new connection, waiting for the engine (which may be restarting) until ``deadline``."""
        while True:
            try:
                return connect(self.address, self.authkey, max(0.2, min(2.0, deadline - time.monotonic())))
            except (OSError, EOFError):
                if time.monotonic() >= deadline:
                    raise EngineUnavailable("The query engine is not answering (it may be restarting after "
                                            "a query overran its time limit); try again in a few seconds."
                                            ) from None
                time.sleep(0.05)

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _checkin(self, conn: Connection) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < 64:
                self._idle.append(conn)
                return
        conn.close()

    def _call(self, op: str, *args: Any, wait: float = LOOKUP_WAIT, retry: bool = True) -> Any:
        """Send one request; retried on a new engine if this one stops before answering (unless not
        ``retry``: then :class:`_Cut` says so, and the caller decides)."""
        deadline = time.monotonic() + wait
        while True:
            conn = self._checkout(deadline)
            try:
                conn.send((op, args))
                if not conn.poll(max(0.0, deadline - time.monotonic()) + GRACE):
                    conn.close()
                    raise EngineUnavailable(f"The query engine did not answer within {wait:g} s; try again.")
                answer = conn.recv()
            except (EOFError, OSError):
                conn.close()
                self._drop_idle()  # the engine stopped: every kept connection to it is dead too
                if not retry:
                    raise _Cut() from None
                if time.monotonic() >= deadline:
                    raise EngineUnavailable("The query engine stopped while answering and did not come back "
                                            "in time; try again in a few seconds.") from None
                continue
            self._checkin(conn)
            return _answered(answer)

    # -- user queries --------------------------------------------------------------------------------
    def query(self, text: str, *, formats: QueryFormats, default_graphs: list[str] | None = None,
              named_graphs: list[str] | None = None, timeout: float | None = None,
              max_rows: int | None = None, client: str | None = None) -> QueryOutcome:
        """Run a user query in the engine under the time limit (enforced there by stopping the process);
        it may first wait up to ``queue_wait`` for a query slot there."""
        limit, request = self._query_request(text, formats, default_graphs, named_graphs, timeout, max_rows,
                                             client)
        attempts = _Attempts(limit)
        for budget in attempts:  # of running time: the wait for a slot does not count against it
            try:
                status, payload, detail = self._call("query", request, budget, wait=budget + self.queue_wait,
                                                     retry=False)
            except _Cut:
                attempts.cut()
                continue
            return outcome(status, payload, detail, formats, text)
        raise timeout_error(limit)

    async def aquery(self, text: str, *, formats: QueryFormats, client: str | None = None,
                     has_from: bool | None = None) -> QueryOutcome:
        """:meth:`query` from the web worker's event loop, with no thread waiting for the engine
        (``engines.link``): the same request, limits and retry, over the default dataset. ``has_from``:
        known from the caller's scan of the query (see :func:`query_request`)."""
        limit, request = self._query_request(text, formats, None, None, None, None, client, has_from)
        attempts = _Attempts(limit)
        for budget in attempts:
            try:
                status, payload, detail = await self._acall(("query", (request, budget)),
                                                            budget + self.queue_wait)
            except LinkCut:
                attempts.cut()
                continue
            return outcome(status, payload, detail, formats, text)
        raise timeout_error(limit)

    def _query_request(self, text: str, formats: QueryFormats, default_graphs: list[str] | None,
                       named_graphs: list[str] | None, timeout: float | None, max_rows: int | None,
                       client: str | None, has_from: bool | None = None) -> tuple[float, dict[str, Any]]:
        limit = self.query_timeout if timeout is None else timeout
        request = query_request(text, formats, default_graphs, named_graphs,
                                self.max_rows if max_rows is None else max_rows, self.prefixes, has_from)
        request["client"] = client
        return limit, request

    async def _acall(self, message: tuple, wait: float) -> Any:
        """:meth:`_call` on a connection driven by the running event loop."""
        deadline = time.monotonic() + wait
        link = await self._alink(deadline)
        try:
            answer = await link.request(message, max(0.0, deadline - time.monotonic()) + GRACE)
        except LinkTimeout:
            raise EngineUnavailable(f"The query engine did not answer within {wait:g} s; try again."
                                    ) from None
        except LinkCut:
            self._close_links()  # the engine stopped: every kept connection to it is dead too
            raise
        except BaseException:  # cancelled: the answer may still come, on a connection no one reads
            link.close()
            raise
        if len(self._links) < 64 and self._pid == os.getpid():
            self._links.append(link)
        else:
            link.close()
        return _answered(answer)

    async def _alink(self, deadline: float) -> Link:
        """A kept loop connection, else a new one (made in a thread: it may wait for the engine)."""
        loop = asyncio.get_running_loop()
        if self._links_loop is not loop:
            self._close_links()
            self._links_loop = loop
        while self._links:
            link = self._links.pop()
            if not link.lost:
                return link
        conn = await loop.run_in_executor(None, self._connect, deadline)
        return await Link.open(conn)

    def _close_links(self) -> None:
        links, self._links = self._links, []
        for link in links:
            with contextlib.suppress(RuntimeError):  # its loop is closed (then so is the connection)
                link.close()

    # -- look-ups ------------------------------------------------------------------------------------
    def _recent(self, kind: str, key: Any, compute: Callable[[], Any]) -> Any:
        """The engine's answer for ``key``, the last :data:`DESCRIBED` of each ``kind`` kept: a page in
        each language and each data format of one resource ask the same in a row, and decoding costs
        more than asking. The data does not change under a store (a reload brings a new one)."""
        table = self._kept[kind]
        with self._lock:
            if key in table:
                return table[key]
        found = compute()
        with self._lock:
            table[key] = found
            while len(table) > DESCRIBED:
                table.pop(next(iter(table)))
        return found

    def select(self, text: str) -> list[dict[str, Node]]:
        """A trusted internal SELECT over the union of all graphs."""
        rows = self._recent("select", text, lambda: [{k: decode(v) for k, v in row.items()}
                                                      for row in self._call("select", text)])
        return [dict(row) for row in rows]

    def ask_exists(self, iri: str) -> bool:
        """True when ``iri`` is a subject, an object or a graph name."""
        return self._recent("exists", iri, lambda: bool(self._call("ask_exists", iri)))

    def describe(self, iri: str) -> Description:
        """The bounded description of ``iri``."""
        def fetch() -> Description:
            quads, totals = self._call("describe", iri)
            return Description(decode_quads(quads), dict(totals))
        return self._recent("describe", iri, fetch)

    def labels(self, iris: list[str]) -> Quads:
        """The label statements of ``iris``."""
        return self._recent("labels", tuple(iris), lambda: decode_quads(self._call("labels", list(iris))))

    def neighbours(self, iri: str, predicate: str, incoming: bool, offset: int,
                   limit: int) -> tuple[list[tuple[Node, Node]], int]:
        """One page of a property's values (see ``Store.neighbours``)."""
        page, total = self._call("neighbours", iri, predicate, incoming, offset, limit)
        return [(decode(v), decode(g)) for v, g in page], total

    def search(self, query: str, type_: str | None = None, limit: int = 20) -> list[Hit]:
        """Label search, answered by the engine from its index."""
        return [Hit(iri, label, lang, tuple(types), rank)
                for iri, label, lang, types, rank in self._call("search", query, type_, limit)]

    def subjects_under(self, prefix: str) -> list[str]:
        """Every IRI subject under ``prefix``, sorted (the sitemap's pages)."""
        return self._call("subjects_under", prefix, wait=600.0)

    def search_index(self) -> SearchIndex:
        """The whole label search index (for the static export)."""
        return SearchIndex.from_json(self._call("search_entries", wait=600.0))

    def graphs(self) -> tuple[str, ...]:
        """The named graphs (known since start-up: no round trip)."""
        return self._graphs

    def stats(self) -> Stats:
        """Counts and partitions (computed once by the engine, right after start-up)."""
        if self._stats is None:
            found = self._call("stats")
            self._stats = Stats(triples=found["triples"], quads=found["quads"], graphs=tuple(found["graphs"]),
                                classes=found["classes"] or {}, properties=found["properties"] or {},
                                subjects=found["subjects"] or 0, objects=found["objects"] or 0,
                                graph_sizes=found["graph_sizes"] or {})
        return self._stats

    def dump(self, fmt: Format, gzipped: bool = False) -> Dump:
        """The dump file (rendered by the engine on first need, then kept)."""
        path, etag, size = self._call("dump", fmt.extension, gzipped, wait=600.0)
        return Dump(Path(path), etag, size)

    def serving(self) -> None:
        """Tell the engine that the server answers: it may render the rest (plan ``defer_rest``). On a
        connection of its own, outside the pool: the supervisor says it while it forks workers."""
        conn = connect(self.address, self.authkey, 2.0)
        try:
            conn.send(("serving", ()))
            if conn.poll(LOOKUP_WAIT):
                conn.recv()
        finally:
            conn.close()

    def status(self, wait: float = LOOKUP_WAIT) -> dict[str, Any]:
        """The engine's state: which copy it serves from, whether background preparation is done, and
        its queries running and waiting."""
        return self._call("status", wait=wait)

    def close(self) -> None:
        """Close this process's connections (those of the event loop on the loop's thread)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        loop = self._links_loop
        if loop is not None and self._links:
            with contextlib.suppress(RuntimeError):  # the loop is closed: so are its connections
                loop.call_soon_threadsafe(self._close_links)


def _forked(ref: weakref.ref[EngineStore]) -> Callable[[], None]:
    def reset() -> None:
        store = ref()
        if store is not None:
            store._lock, store._idle, store._pid = threading.Lock(), [], os.getpid()
            store._links, store._links_loop = [], None  # the parent's loop does not run here
    return reset


def connect(address: str, authkey: bytes, timeout: float) -> Connection:
    """A connection to the engine, as ``multiprocessing.connection.Client`` makes one, but never waiting
    more than ``timeout`` for the engine to take it: a stopped or stuck engine (the kernel still queues
    the connection) must give 503, not hang a web thread.

    :raises OSError: no engine listening, or it did not greet within ``timeout``.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.settimeout(None)
        conn = Connection(sock.detach())
    finally:
        sock.close()
    try:
        if not conn.poll(timeout):  # the engine speaks first (its challenge) once it has accepted
            raise OSError("the engine did not take the connection in time")
        answer_challenge(conn, authkey)
        deliver_challenge(conn, authkey)
    except BaseException:
        conn.close()
        raise
    return conn


def _answered(answer: tuple) -> Any:
    """What an engine's answer ``("ok", value)`` gives, or the error it reports."""
    if answer[0] == "ok":
        return answer[1]
    kind, message = answer[1], answer[2]
    if kind == "value":
        raise ValueError(message)
    raise TourkgError(f"The engine could not answer: {message}")


class _Attempts:
    """The running-time budgets a user query is sent to the engine with: its time limit; then, when the
    engine stopped for another query's overrun, once more with what is left of it; none more when it
    stopped at this query's own overrun."""

    def __init__(self, limit: float) -> None:
        self.limit, self.budget = limit, limit
        self.started = self.sent = time.monotonic()
        self.tries, self.overran = 0, False

    def __iter__(self) -> Iterator[float]:
        while not self.overran:
            self.tries += 1
            self.sent = time.monotonic()
            yield self.budget

    def cut(self) -> None:
        """The engine stopped before answering the query sent last."""
        if time.monotonic() - self.sent >= self.budget:
            self.overran = True  # the engine stopped at this query's own overrun: a timeout
        elif self.tries > 1:  # cut twice: the query itself may be what stops the engine; not a third time
            raise EngineUnavailable("The query engine stopped twice while answering this query; it may be "
                                    "what stops it. Narrow it down, or try again.")
        else:
            self.budget = max(0.5, self.limit - (time.monotonic() - self.started))


class _Cut(Exception):
    """The engine stopped before answering (it is restarting)."""


def query_request(text: str, chosen: QueryFormats, default_graphs: list[str] | None,
                  named_graphs: list[str] | None, max_rows: int, prefixes: dict[str, str],
                  has_from: bool | None = None) -> dict[str, Any]:
    """A user query as the engine (and the remote forwarder) takes it. ``has_from``: whether the query
    has a FROM clause, when the caller has scanned it already (``sparql.check_query``)."""
    if has_from is None:
        from tourkg.sparql import scan

        has_from = scan(text).has_from
    protocol_dataset = default_graphs is not None or named_graphs is not None
    return {
        "query": text,
        "has_from": has_from,
        "default_graphs": list(default_graphs or []) if protocol_dataset else None,
        "named_graphs": list(named_graphs or []) if protocol_dataset else None,
        "results_format": chosen.results.engine if chosen.results else None,
        "boolean_format": chosen.boolean.engine if chosen.boolean else None,
        "graph_format": chosen.graph.engine if chosen.graph else None,
        "max_rows": max_rows, "prefixes": prefixes,
    }


def timeout_error(limit: float) -> QueryTimeout:
    """The error for a query stopped at its time limit."""
    return QueryTimeout(f"The query ran longer than the time limit of {limit:g} s (setting query_timeout) "
                        "and was stopped. Narrow it down, e.g. with LIMIT or more specific patterns.")


#: What a 406 says for each result kind the client accepts no format of.
_NOT_ACCEPTABLE = {
    "results": ("This query returns solutions (SELECT), in none of the formats you accept.", formats.RESULTS),
    "boolean": ("This query returns a boolean (ASK); ASK results exist in SPARQL JSON and SPARQL XML only "
                "(the CSV/TSV results format defines no boolean).", formats.BOOLEAN_RESULTS),
    "graph": ("This query returns a graph (CONSTRUCT/DESCRIBE), in none of the formats you accept.",
              formats.RDF),
}


def outcome(status: str, payload: Any, detail: Any, chosen: QueryFormats, text: str) -> QueryOutcome:
    """Turn an engine answer ``(status, payload, detail)`` into the outcome or the error it means."""
    if status == "ok":
        form, size = detail
        fmt = {"graph": chosen.graph, "ask": chosen.boolean}.get(form, chosen.results)
        assert fmt is not None
        return QueryOutcome(payload, fmt, form, size)
    if status == "syntax":
        raise QuerySyntaxError(readable_syntax_error(text, payload))
    if status == "refused":
        kind, retry_after, message = payload
        raise (TooManyRequests if kind == "client" else Overloaded)(message, retry_after)
    if status == "too_large":
        raise ResultTooLarge(f"The result has more than {payload} rows or triples (setting max_result_rows). "
                             "Add a LIMIT or narrow the query.")
    if status == "not_acceptable":
        message, offers = _NOT_ACCEPTABLE[payload]
        raise NotAcceptable(message, [f.media_type for f in offers])
    raise TourkgError(f"The query could not be evaluated: {payload}")
