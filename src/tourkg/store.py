"""The store behind a narrow interface: user queries with limits, internal look-ups, export.

``LocalStore`` holds the dataset in an in-memory Oxigraph store. User queries (``query``) run in a pool
of worker processes (``workers.py``) so that the time limit really stops the work; the trusted, bounded
look-ups the pages need (``describe``, ``ask_exists``, ``select``) run in-process. The engine was chosen
by measurement (see ``bench/``): rdflib's SPARQL engine is two orders of magnitude slower and answers
``ASK { FILTER(false) }`` wrongly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Protocol

import pyoxigraph as ox
from rdflib import BNode, Dataset, Literal, URIRef
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.term import Node

from tourkg import formats, jsonld, workers
from tourkg.errors import (
    NotAcceptable,
    QuerySyntaxError,
    ResultTooLarge,
    TourkgError,
    readable_syntax_error,
)
from tourkg.formats import Format, Kind
from tourkg.namespaces import DCT, PROV, RDF, RDFS, SCHEMA, SKOS
from tourkg.pool import WorkerPool

log = logging.getLogger(__name__)

#: Properties read as a resource's human label, in order of preference: a name before a generic label,
#: so a person shows as "Nayib Bukele" rather than the article's "President Bukele".
LABEL_PROPERTIES = (SKOS.prefLabel, SCHEMA.name, RDFS.label, DCT.title, SCHEMA.headline)
_LABEL_IRIS = tuple(str(p) for p in LABEL_PROPERTIES)
_PROVENANCE_IRIS = (str(PROV.wasDerivedFrom), str(DCT.source), str(SCHEMA.url), str(SCHEMA.publisher))


@dataclass(frozen=True)
class QueryOutcome:
    """A query's serialized answer: ``form`` is ``select``, ``ask`` or ``graph``."""

    body: bytes
    format: Format
    form: str
    size: int


@dataclass(frozen=True)
class QueryFormats:
    """The format to use for each result kind (``None``: the client accepts none of that kind).

    ``boolean`` (ASK) is separate from ``results`` (SELECT) because CSV and TSV define no boolean answer:
    a client accepting only those can get SELECT results but no ASK answer.
    """

    results: Format | None
    graph: Format | None
    boolean: Format | None


@dataclass(frozen=True)
class Stats:
    """Counts for the dataset description (VoID) and the landing page."""

    triples: int
    quads: int
    graphs: tuple[str, ...]
    classes: dict[str, int] = field(default_factory=dict)
    properties: dict[str, int] = field(default_factory=dict)
    subjects: int = 0
    objects: int = 0

    @cached_property
    def graph_set(self) -> frozenset[str]:
        """The graph names, for membership tests on hot paths."""
        return frozenset(self.graphs)


class Store(Protocol):
    """What the publisher needs from a store; small so another engine can stand behind it."""

    def query(self, text: str, *, formats: QueryFormats, default_graphs: Sequence[str] | None = None,
              named_graphs: Sequence[str] | None = None, timeout: float | None = None,
              max_rows: int | None = None) -> QueryOutcome:
        """Run a user query under the time and size limits."""

    def select(self, text: str) -> list[dict[str, Node]]:
        """Run a trusted, bounded internal SELECT (union default graph)."""

    def ask_exists(self, iri: str) -> bool:
        """True when ``iri`` occurs in the data: as a subject, an object or a graph name."""

    def describe(self, iri: str) -> Dataset:
        """The resource's statements, incoming links, labels of linked resources, and provenance."""

    def stats(self) -> Stats:
        """Counts and partitions for the dataset description."""

    def export(self, fmt: Format) -> bytes:
        """The whole dataset in ``fmt``, byte-identical for the same data."""


# -- term conversion ----------------------------------------------------------------------------------
def to_rdflib(term: Any) -> Node:
    """Convert a pyoxigraph term to rdflib."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    if isinstance(term, ox.DefaultGraph):
        return DATASET_DEFAULT_GRAPH_ID
    raise TypeError(f"unsupported term {term!r}")


def to_oxigraph(term: Node) -> Any:
    """Convert an rdflib term to pyoxigraph."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"unsupported term {term!r}")


# -- the local store ----------------------------------------------------------------------------------
class LocalStore:
    """The dataset in memory (Oxigraph), with worker processes for user queries."""

    def __init__(self, quads: Iterable[ox.Quad], *, prefixes: dict[str, str] | None = None,
                 query_workers: int = 2, max_query_workers: int = 6, query_timeout: float = 10.0,
                 max_rows: int = 10_000) -> None:
        self._store = ox.Store()
        self._store.extend(quads)
        self.prefixes = dict(prefixes or {})
        self.query_workers, self.max_query_workers = query_workers, max_query_workers
        self.query_timeout, self.max_rows = query_timeout, max_rows
        self._pool: WorkerPool | None = None
        self._pool_lock = threading.Lock()
        self._describe = lru_cache(maxsize=8192)(lambda iri: _describe(self._store, iri))
        self._stats: Stats | None = None
        self._stats_lock = threading.Lock()

    # user queries -------------------------------------------------------------------------------------
    def start_workers(self) -> WorkerPool:
        """Start the query workers now (called after the web server forks; otherwise on first query)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = WorkerPool(self._nquads, self.query_workers, self.max_query_workers)
            return self._pool

    @cached_property
    def _nquads(self) -> bytes:
        return self._store.dump(format=ox.RdfFormat.N_QUADS)

    def close(self) -> None:
        """Stop the query workers."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def query(self, text: str, *, formats: QueryFormats, default_graphs: Sequence[str] | None = None,
              named_graphs: Sequence[str] | None = None, timeout: float | None = None,
              max_rows: int | None = None) -> QueryOutcome:
        """Run a user query in a worker process under the time limit and the result-size limit.

        Without ``default_graphs``/``named_graphs`` the query's own FROM / FROM NAMED apply, and without
        those the default graph is the merge of every graph (the worker stores it, see ``workers.py``)."""
        protocol_dataset = default_graphs is not None or named_graphs is not None
        request = {
            "query": text,
            "default_graphs": list(default_graphs) if protocol_dataset else None,
            "named_graphs": list(named_graphs or []) if protocol_dataset else None,
            "results_format": formats.results.engine if formats.results else None,
            "boolean_format": formats.boolean.engine if formats.boolean else None,
            "graph_format": formats.graph.engine if formats.graph else None,
            "max_rows": self.max_rows if max_rows is None else max_rows,
            "prefixes": self.prefixes,
        }
        limit = self.query_timeout if timeout is None else timeout
        status, payload, detail = self.start_workers().run(request, limit)
        return _outcome(status, payload, detail, formats, text)

    # internal look-ups --------------------------------------------------------------------------------
    def select(self, text: str) -> list[dict[str, Node]]:
        """Run a trusted internal SELECT over the union of all graphs."""
        solutions = self._store.query(text, use_default_graph_as_union=True)
        names = [v.value for v in solutions.variables]
        return [{n: to_rdflib(row[n]) for n in names if row[n] is not None} for row in solutions]

    def ask_exists(self, iri: str) -> bool:
        """True when ``iri`` occurs in the data: as a subject, an object or a graph name."""
        node = ox.NamedNode(iri)
        return (next(iter(self._store.quads_for_pattern(node, None, None)), None) is not None
                or next(iter(self._store.quads_for_pattern(None, None, node)), None) is not None
                or iri in self.stats().graph_set)

    def describe(self, iri: str) -> Dataset:
        """See :meth:`Store.describe`; cached, since the data never changes while serving."""
        return self._describe(iri)

    def stats(self) -> Stats:
        """Counts and class/property partitions, computed once (the data never changes)."""
        with self._stats_lock:
            if self._stats is None:
                self._stats = self._compute_stats()
            return self._stats

    def _compute_stats(self) -> Stats:
        graphs = tuple(sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode)))
        distinct = {(q.subject, q.predicate, q.object) for q in self._store}
        return Stats(
            triples=len(distinct), quads=len(self._store), graphs=graphs,
            classes=self._partition("SELECT ?k (COUNT(DISTINCT ?s) AS ?n) { ?s a ?k } GROUP BY ?k"),
            properties=self._partition("SELECT ?k (COUNT(*) AS ?n) { SELECT DISTINCT ?s ?k ?o "
                                       "{ ?s ?k ?o } } GROUP BY ?k"),
            subjects=len({t[0] for t in distinct}), objects=len({t[2] for t in distinct}),
        )

    def _partition(self, text: str) -> dict[str, int]:
        return {str(r["k"]): int(r["n"]) for r in self.select(text)}

    def export(self, fmt: Format) -> bytes:
        """The whole dataset in ``fmt``: canonical blank-node labels and sorted statements, so the bytes
        are the same for the same data (RDF Dataset Canonicalization, RDFC-1.0)."""
        return _export(self._store, fmt, tuple(sorted(self.prefixes.items())))


#: What a 406 says for each result kind the client accepts no format of.
_NOT_ACCEPTABLE = {
    "results": ("This query returns solutions (SELECT), in none of the formats you accept.", formats.RESULTS),
    "boolean": ("This query returns a boolean (ASK); ASK results exist in SPARQL JSON and SPARQL XML only "
                "(the CSV/TSV results format defines no boolean).", formats.BOOLEAN_RESULTS),
    "graph": ("This query returns a graph (CONSTRUCT/DESCRIBE), in none of the formats you accept.",
              formats.RDF),
}


def _outcome(status: str, payload: Any, detail: Any, chosen: QueryFormats, text: str) -> QueryOutcome:
    if status == "ok":
        form, size = detail
        fmt = {"graph": chosen.graph, "ask": chosen.boolean}.get(form, chosen.results)
        assert fmt is not None
        return QueryOutcome(payload, fmt, form, size)
    if status == "syntax":
        raise QuerySyntaxError(readable_syntax_error(text, payload))
    if status == "too_large":
        raise ResultTooLarge(f"The result has more than {payload} rows or triples (setting max_result_rows). "
                             "Add a LIMIT or narrow the query.")
    if status == "not_acceptable":
        message, offers = _NOT_ACCEPTABLE[payload]
        raise NotAcceptable(message, [f.media_type for f in offers])
    raise TourkgError(f"The query could not be evaluated: {payload}")


def _quads(store: ox.Store, s: Any = None, p: Any = None, o: Any = None) -> list[ox.Quad]:
    return list(store.quads_for_pattern(s, p, o))


def _describe(store: ox.Store, iri: str) -> Dataset:
    node = ox.NamedNode(iri)
    own = _quads(store, node)
    pending = [q.object for q in own if isinstance(q.object, ox.BlankNode)]
    seen: set[Any] = set()
    while pending:  # concise bounded description: follow blank nodes
        bnode = pending.pop()
        if bnode in seen:
            continue
        seen.add(bnode)
        more = _quads(store, bnode)
        own += more
        pending += [q.object for q in more if isinstance(q.object, ox.BlankNode)]
    incoming = _quads(store, None, None, node)
    linked = {q.object for q in own if isinstance(q.object, ox.NamedNode)}
    linked |= {q.predicate for q in own + incoming} | {q.subject for q in incoming}
    labels = [q for x in linked for p in _LABEL_IRIS for q in _quads(store, x, ox.NamedNode(p))]
    graphs = {q.graph_name for q in own + incoming if isinstance(q.graph_name, ox.NamedNode)}
    provenance = [q for g in graphs for p in _PROVENANCE_IRIS for q in _quads(store, g, ox.NamedNode(p))]
    sources = {q.object for q in provenance if isinstance(q.object, ox.NamedNode)}
    provenance += [q for s in sources for p in _LABEL_IRIS + _PROVENANCE_IRIS
                   for q in _quads(store, s, ox.NamedNode(p))]
    provenance += [q for g in graphs for p in _LABEL_IRIS for q in _quads(store, g, ox.NamedNode(p))]
    types = [q for x in linked for q in _quads(store, x, ox.NamedNode(str(RDF.type)))]
    result = Dataset()
    for q in own + incoming + labels + provenance + types:
        result.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object),
                    to_rdflib(q.graph_name)))
    return result


def _export(store: ox.Store, fmt: Format, prefixes: tuple[tuple[str, str], ...]) -> bytes:
    dataset = ox.Dataset(store)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    used = workers.used_prefixes(store.dump(format=ox.RdfFormat.N_QUADS), dict(prefixes))
    if fmt.kind is Kind.DATASET:  # graph first, so each graph is one block in TriG
        items: list[Any] = sorted(dataset, key=lambda q: (str(q.graph_name), str(q.subject),
                                                          str(q.predicate), str(q.object)))
    else:
        items = sorted({ox.Triple(q.subject, q.predicate, q.object) for q in dataset}, key=str)
    target = getattr(ox.RdfFormat, fmt.engine or "")
    body = ox.serialize(items, format=target, prefixes=used) or b""
    return jsonld.with_context(body, used or {}) if fmt.name == "jsonld" else body
