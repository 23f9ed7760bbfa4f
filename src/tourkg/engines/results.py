"""Evaluate one user query on an Oxigraph store and serialize its answer, bounded in size.

Used in the engine process. Imports only pyoxigraph and the standard library, so the engine process
starts fast and never holds rdflib.
"""

from __future__ import annotations

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


def execute(store: ox.Store, request: dict[str, Any], union: bool) -> tuple[str, Any, Any]:
    """Run one query request; returns ``(status, payload, detail)``, never raises.

    :param union: evaluate the default graph as the union of the named graphs (exact when no triple is in
        two graphs); otherwise the store's default graph already holds their merge.
    """
    try:
        result = store.query(
            request["query"],
            # The union replaces the query's own dataset in pyoxigraph: never with FROM / FROM NAMED.
            use_default_graph_as_union=union and request.get("default_graphs") is None
            and not request.get("has_from"),
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
    return ("ok", *graph_body(nt, fmt, request.get("prefixes")))


def graph_body(nt: bytes, fmt: str, prefixes: dict[str, str] | None) -> tuple[bytes, tuple[str, int]]:
    """N-Triples re-serialized in the engine format ``fmt`` with the prefixes it uses (JSON-LD with an
    inline context, never a remote one); also used for the answers of a remote engine."""
    triples = list(ox.parse(nt, ox.RdfFormat.N_TRIPLES))
    target = getattr(ox.RdfFormat, fmt)
    items: list[Any] = triples
    if fmt in ("TRIG", "N_QUADS"):
        items = [ox.Quad(t.subject, t.predicate, t.object) for t in triples]
    used = used_prefixes(nt, prefixes)
    body = ox.serialize(items, format=target, prefixes=used) or b""
    if fmt == "JSON_LD":
        body = jsonld.with_context(body, used or {})
    return body, ("graph", len(triples))
