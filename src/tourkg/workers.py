"""Query worker process: an in-memory Oxigraph copy of the dataset answering one query at a time.

Neither rdflib nor pyoxigraph can be interrupted mid-query from another thread, so a time limit that
really stops the work needs a process the parent can kill. The parent (``store.WorkerPool``) kills a
worker that overruns and starts a fresh one. This module imports only pyoxigraph so workers start fast.
"""

from __future__ import annotations

import os
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import pyoxigraph as ox

from tourkg import jsonld


class _LineLimitWriter:
    """A binary sink that counts lines and gives up past ``limit`` (bounds result size cheaply)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.lines, self.chunks, self.over = limit, 0, [], False

    def write(self, data: bytes) -> int:
        self.lines += data.count(b"\n")
        if self.lines > self.limit:
            self.over = True
            raise OverflowError("result too large")
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the chunks stay in memory."""

    def getvalue(self) -> bytes:
        return b"".join(self.chunks)


def _bounded(serialize: Any, limit: int) -> bytes | None:
    """Run ``serialize(writer)``; ``None`` when the output has more than ``limit`` lines."""
    sink = _LineLimitWriter(limit)
    try:
        serialize(sink)
    except Exception:
        if sink.over:
            return None
        raise
    return sink.getvalue()


def used_prefixes(ntriples: bytes, prefixes: dict[str, str] | None) -> dict[str, str] | None:
    """Only the prefixes whose namespace occurs in the output, so documents do not open with noise."""
    found = {p: ns for p, ns in (prefixes or {}).items() if ns.encode() in ntriples}
    return found or None


def _graphs(names: list[str] | None) -> list[ox.NamedNode] | None:
    return None if names is None else [ox.NamedNode(n) for n in names]


def execute(store: ox.Store, request: dict[str, Any]) -> tuple[str, Any, Any]:
    """Run one query request; returns ``(status, payload, detail)``, never raises."""
    try:
        result = store.query(
            request["query"],
            # The merge is stored as the default graph (see _store_merged_default_graph), so "union"
            # means the stored default graph, each triple once.
            use_default_graph_as_union=False,
            default_graph=_graphs(request.get("default_graphs")),
            named_graphs=_graphs(request.get("named_graphs")),
        )
        return _serialize(result, request)
    except SyntaxError as exc:
        return ("syntax", str(exc), None)
    except Exception as exc:  # the engine's evaluation errors (e.g. unsupported SERVICE)
        return ("error", f"{type(exc).__name__}: {exc}", None)


def _serialize(result: Any, request: dict[str, Any]) -> tuple[str, Any, Any]:
    limit = request["max_rows"]
    if isinstance(result, ox.QueryBoolean):
        fmt = request["boolean_format"]  # JSON or XML: CSV/TSV define no boolean
        if fmt is None:
            return ("not_acceptable", "boolean", None)
        return ("ok", result.serialize(format=getattr(ox.QueryResultsFormat, fmt)), ("ask", 1))
    if isinstance(result, ox.QuerySolutions):
        fmt = request["results_format"]
        if fmt is None:
            return ("not_acceptable", "results", None)
        tsv = _bounded(lambda out: result.serialize(out, ox.QueryResultsFormat.TSV), limit + 1)
        if tsv is None:
            return ("too_large", limit, None)
        rows = tsv.count(b"\n") - 1
        if fmt == "TSV":
            return ("ok", tsv, ("select", rows))
        parsed = ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV)
        return ("ok", parsed.serialize(format=getattr(ox.QueryResultsFormat, fmt)), ("select", rows))
    fmt = request["graph_format"]
    if fmt is None:
        return ("not_acceptable", "graph", None)
    nt = _bounded(lambda out: result.serialize(out, ox.RdfFormat.N_TRIPLES), limit)
    if nt is None:
        return ("too_large", limit, None)
    triples = list(ox.parse(nt, ox.RdfFormat.N_TRIPLES))
    target = getattr(ox.RdfFormat, fmt)
    if fmt in ("TRIG", "N_QUADS"):
        triples = [ox.Quad(t.subject, t.predicate, t.object) for t in triples]
    used = used_prefixes(nt, request.get("prefixes"))
    body = ox.serialize(triples, format=target, prefixes=used) or b""
    if fmt == "JSON_LD":  # compact IRIs with an inline context, never a remote one
        body = jsonld.with_context(body, used or {})
    return ("ok", body, ("graph", len(triples)))


def _store_merged_default_graph(store: ox.Store) -> None:
    """Store the RDF merge of all graphs as the default graph. Oxigraph 0.5's union default graph
    yields a triple once per graph that holds it (oxigraph/oxigraph#1919, fixed in 0.6), so a plain
    ``SELECT`` would repeat rows and ``COUNT`` would over-count; the merge holds each triple once."""
    triples = {(q.subject, q.predicate, q.object) for q in store}
    store.extend(ox.Quad(s, p, o, ox.DefaultGraph()) for s, p, o in triples)


def serve(incoming: Any, outgoing: Any) -> None:
    """Worker main loop: load the dataset sent first, then answer requests until the pipe closes."""
    store = ox.Store()
    store.bulk_load(incoming.recv_bytes(), format=ox.RdfFormat.N_QUADS)
    _store_merged_default_graph(store)
    outgoing.send(("ready", len(store), None))
    while True:
        try:
            request = incoming.recv()
        except (EOFError, OSError):
            return
        outgoing.send(execute(store, request))


def _die_with_parent(interval: float = 1.0) -> None:
    """Exit when the web worker that started this process is gone (it would have stopped the query at
    its time limit); a thread watches the parent pid, since a running query does not read the pipe.
    (Linux's PR_SET_PDEATHSIG would fire when the *thread* that spawned us ends, which in the pool is
    a short-lived thread.)"""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    """Entry point of ``python -m tourkg.workers``: requests on stdin, answers on stdout."""
    _die_with_parent()
    incoming = Connection(os.dup(0), writable=False)
    outgoing = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # a stray print must never corrupt the answer stream
    serve(incoming, outgoing)


if __name__ == "__main__":
    main()
