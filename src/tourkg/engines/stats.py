"""Counts for VoID, the service description and the landing page, computed by the engine in Rust
(aggregate queries), never by walking quads in Python.

Split in two: :func:`essentials` (graphs, sizes, class partition) are needed before the first request;
:func:`details` (property partition, distinct subjects and objects, triples per graph) take a second or
so on a million triples and run in parallel threads right after start-up. Both are kept with the
prepared dataset, so a restart computes nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyoxigraph as ox

_CLASSES = "SELECT ?k (COUNT(DISTINCT ?s) AS ?n) { ?s a ?k } GROUP BY ?k"
_PROPERTIES = "SELECT ?k (COUNT(*) AS ?n) { ?s ?k ?o } GROUP BY ?k"
_SUBJECTS = "SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s ?p ?o }"
_OBJECTS = "SELECT (COUNT(DISTINCT ?o) AS ?n) { ?s ?p ?o }"
_TRIPLES = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
_PER_GRAPH = "SELECT ?k (COUNT(*) AS ?n) { GRAPH ?k { ?s ?p ?o } } GROUP BY ?k"


def _partition(store: ox.Store, text: str, union: bool) -> dict[str, int]:
    return {row["k"].value: int(row["n"].value) for row in store.query(text, use_default_graph_as_union=union)
            if isinstance(row["k"], ox.NamedNode)}


def _count(store: ox.Store, text: str, union: bool) -> int:
    return int(next(iter(store.query(text, use_default_graph_as_union=union)))["n"].value)


def graph_sizes(store: ox.Store) -> dict[str, int]:
    """Quads per named graph."""
    return _partition(store, _PER_GRAPH, False)


def named_graphs(store: ox.Store) -> list[str]:
    """The named graphs, sorted."""
    return sorted(g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode))


def essentials(store: ox.Store, quads: int, merged: bool) -> dict[str, Any]:
    """Graphs, quad and triple counts and the class partition.

    :param quads: the quads in named graphs (the loader counted them).
    :param merged: the default graph holds the merge of the named graphs (some triple is in several);
        otherwise every triple is in one graph only and the union is exact.
    """
    union = not merged
    return {"graphs": named_graphs(store), "quads": quads,
            "triples": _count(store, _TRIPLES, False) if merged else quads,
            "classes": _partition(store, _CLASSES, union)}


DETAILS = ("properties", "subjects", "objects", "graph_sizes")


def details(store: ox.Store, merged: bool, known: dict[str, Any] | None = None,
            threads: int = 2) -> dict[str, Any]:
    """The property partition, distinct subjects and objects and triples per graph (those not already
    ``known``), in ``threads`` threads (a query releases the GIL, so they run on several cores)."""
    union = not merged
    jobs = {"properties": lambda: _partition(store, _PROPERTIES, union),
            "subjects": lambda: _count(store, _SUBJECTS, union),
            "objects": lambda: _count(store, _OBJECTS, union),
            "graph_sizes": lambda: graph_sizes(store)}
    jobs = {name: job for name, job in jobs.items() if name not in (known or {})}
    with ThreadPoolExecutor(threads) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def has_shared_triples(store: ox.Store, sizes: dict[str, int]) -> bool:
    """True when some triple is stated in more than one named graph.

    Oxigraph 0.5's union default graph then repeats it (once per graph), so the engine stores the merge
    instead. Only the graphs other than the largest are scanned: a shared triple is in at least one of
    them.
    """
    if len(sizes) < 2:
        return False
    largest = max(sizes, key=lambda g: sizes[g])
    others = " ".join(str(ox.NamedNode(g)) for g in sizes if g != largest)
    return bool(store.query(f"ASK {{ VALUES ?g {{ {others} }} GRAPH ?g {{ ?s ?p ?o }} "
                            "GRAPH ?h { ?s ?p ?o } FILTER(?g != ?h) }"))
