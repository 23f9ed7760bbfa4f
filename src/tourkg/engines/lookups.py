"""The trusted, bounded look-ups pages are built from, over an Oxigraph store (engine process side).

Every answer is bounded whatever the data: a hub resource with a hundred thousand incoming links costs
a few index reads and two aggregate queries, not a walk over its links in Python. Terms leave as
:func:`tourkg.engines.wire.encode` tuples. IRIs reach query texts only through ``str(NamedNode(iri))``, which
refuses anything that is not an IRI.

The default graph is never a source of statements here: tourkg puts every statement in a named graph,
and when the store holds a stored merge in its default graph (see ``engines.process``), those copies
must not be counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import islice
from typing import Any

import pyoxigraph as ox

from tourkg.engines.wire import LABEL_IRIS, PAGE_VALUES, encode, encode_quad

_PROVENANCE_IRIS = ("http://www.w3.org/ns/prov#wasDerivedFrom", "http://purl.org/dc/terms/source",
                    "https://schema.org/url", "https://schema.org/publisher")
_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
_LABELS = tuple(ox.NamedNode(p) for p in LABEL_IRIS)
_PROVENANCE = tuple(ox.NamedNode(p) for p in _PROVENANCE_IRIS)
#: Statements read directly before the per-property path (counts by SPARQL, first values by ORDER BY).
DIRECT_CAP = 2000
#: Longest paginated list whose sorted values ``neighbours`` keeps (about 100 bytes a value).
LIST_KEPT_MAX = 200_000
#: Most blank nodes followed from one resource (its concise bounded description).
BNODE_CAP = 200
Encoded = tuple


def _named(quads: Any) -> list[ox.Quad]:
    return [q for q in quads if not isinstance(q.graph_name, ox.DefaultGraph)]


def _pattern(store: ox.Store, node: ox.NamedNode, incoming: bool, predicate: Any = None,
             value: Any = None) -> Any:
    if incoming:
        return store.quads_for_pattern(value, predicate, node)
    return store.quads_for_pattern(node, predicate, value)


def _other(quad: ox.Quad, incoming: bool) -> Any:
    return quad.subject if incoming else quad.object


def _side(store: ox.Store, node: ox.NamedNode, incoming: bool,
          limit: int) -> tuple[list[ox.Quad], dict[tuple[str, str], int]]:
    """One direction of a resource's statements, at most ``limit`` distinct values per predicate, and
    the total of each predicate that was cut short."""
    direction = "in" if incoming else "out"
    named = (q for q in _pattern(store, node, incoming) if not isinstance(q.graph_name, ox.DefaultGraph))
    first = list(islice(named, DIRECT_CAP + 1))
    if len(first) <= DIRECT_CAP:
        by_predicate: dict[Any, dict[Any, list[ox.Quad]]] = defaultdict(lambda: defaultdict(list))
        for q in first:
            by_predicate[q.predicate][_other(q, incoming)].append(q)
        counts = {p: len(values) for p, values in by_predicate.items()}
    else:
        by_predicate, counts = {}, _predicate_counts(store, node, incoming)
    quads: list[ox.Quad] = []
    totals: dict[tuple[str, str], int] = {}
    for predicate, count in counts.items():
        if count <= limit and predicate in by_predicate:
            quads += [q for values in by_predicate[predicate].values() for q in values]
            continue
        if count <= limit:
            quads += _named(_pattern(store, node, incoming, predicate))
            continue
        totals[(direction, predicate.value)] = count
        for value in page_of_values(store, node, predicate, incoming, 0, limit):
            quads += _named(_pattern(store, node, incoming, predicate, value))
    return quads, totals


def _predicate_counts(store: ox.Store, node: ox.NamedNode, incoming: bool) -> dict[Any, int]:
    pattern = f"?x ?p {node}" if incoming else f"{node} ?p ?x"
    rows = store.query(f"SELECT ?p (COUNT(DISTINCT ?x) AS ?n) WHERE {{ GRAPH ?g {{ {pattern} }} }} "
                       "GROUP BY ?p")
    return {row["p"]: int(row["n"].value) for row in rows}


def page_of_values(store: ox.Store, node: ox.NamedNode, predicate: ox.NamedNode, incoming: bool,
                   offset: int, limit: int) -> list[Any]:
    """Distinct values of one property of ``node``, in SPARQL ``ORDER BY`` order (stable)."""
    pattern = f"?x {predicate} {node}" if incoming else f"{node} {predicate} ?x"
    rows = store.query(f"SELECT DISTINCT ?x WHERE {{ GRAPH ?g {{ {pattern} }} }} ORDER BY ?x "
                       f"LIMIT {int(limit)} OFFSET {int(offset)}")
    return [row["x"] for row in rows]


def describe(store: ox.Store, iri: str, limit: int = PAGE_VALUES) -> tuple[list[Encoded], dict]:
    """The bounded description of ``iri``: its statements both ways, the blank nodes it points to, labels
    and types of what it links to, and the provenance of the graphs involved."""
    node = ox.NamedNode(iri)
    own, totals = _side(store, node, False, limit)
    incoming, in_totals = _side(store, node, True, limit)
    totals.update(in_totals)
    own += _blank_closure(store, own)
    linked = {q.object for q in own if isinstance(q.object, ox.NamedNode)}
    linked |= {q.predicate for q in own + incoming} | {q.subject for q in incoming}
    extra = _label_quads(store, linked)
    extra += [q for x in linked for q in _named(store.quads_for_pattern(x, _RDF_TYPE, None))]
    extra += _provenance(store, {q.graph_name for q in own + incoming})
    return [encode_quad(q) for q in own + incoming + extra], totals


def _blank_closure(store: ox.Store, own: list[ox.Quad]) -> list[ox.Quad]:
    pending = [q.object for q in own if isinstance(q.object, ox.BlankNode)]
    seen: set[Any] = set()
    found: list[ox.Quad] = []
    while pending and len(seen) < BNODE_CAP:
        bnode = pending.pop()
        if bnode in seen:
            continue
        seen.add(bnode)
        more = _named(store.quads_for_pattern(bnode, None, None))
        found += more
        pending += [q.object for q in more if isinstance(q.object, ox.BlankNode)]
    return found


def _label_quads(store: ox.Store, nodes: Any) -> list[ox.Quad]:
    return [q for x in nodes for p in _LABELS for q in _named(store.quads_for_pattern(x, p, None))]


def _provenance(store: ox.Store, graphs: set[Any]) -> list[ox.Quad]:
    named = [g for g in graphs if isinstance(g, ox.NamedNode)]
    found = [q for g in named for p in _PROVENANCE for q in _named(store.quads_for_pattern(g, p, None))]
    sources = {q.object for q in found if isinstance(q.object, ox.NamedNode)}
    found += [q for s in sources for p in _LABELS + _PROVENANCE
              for q in _named(store.quads_for_pattern(s, p, None))]
    return found + _label_quads(store, named)


def labels(store: ox.Store, iris: list[str]) -> list[Encoded]:
    """The label statements of ``iris`` (those that are IRIs)."""
    nodes = []
    for iri in iris:
        try:
            nodes.append(ox.NamedNode(iri))
        except ValueError:
            continue
    return [encode_quad(q) for q in _label_quads(store, nodes)]


def neighbours(store: ox.Store, iri: str, predicate: str, incoming: bool, offset: int, limit: int,
               lists: dict[Any, list[Any]] | None = None) -> tuple[list[tuple[Encoded, Encoded]], int]:
    """One page of the values of a property of ``iri``, with the graphs stating each, and the total.

    ``lists`` keeps the sorted values of the last few lists asked for (the caller bounds how many):
    someone paging through a hub's links, a crawler or the static export, then pays one sort, not one
    per page. Lists longer than :data:`LIST_KEPT_MAX` are sorted per page instead (bounded memory)."""
    node, prop = ox.NamedNode(iri), ox.NamedNode(predicate)
    key = (iri, predicate, incoming)
    values = lists.get(key) if lists is not None else None
    if values is None:
        pattern = f"?x {prop} {node}" if incoming else f"{node} {prop} ?x"
        counted = store.query(f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ GRAPH ?g {{ {pattern} }} }}")
        total = int(next(iter(counted))["n"].value)
        if lists is not None and total <= LIST_KEPT_MAX:
            values = lists[key] = page_of_values(store, node, prop, incoming, 0, total)
    if values is not None:
        total, chosen = len(values), values[offset:offset + limit]
    else:
        chosen = page_of_values(store, node, prop, incoming, offset, limit)
    page = []
    for value in chosen:
        for q in _named(_pattern(store, node, incoming, prop, value)):
            page.append((encode(value), encode(q.graph_name)))
    return page, total


def subjects_under(store: ox.Store, prefix: str) -> list[str]:
    """Every IRI subject starting with ``prefix``, sorted as SPARQL ``ORDER BY`` sorts IRIs."""
    found = {q.subject.value for q in store.quads_for_pattern(None, None, None)
             if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(prefix)}
    return sorted(found)


def select(store: ox.Store, text: str, union: bool) -> list[dict[str, Encoded]]:
    """A trusted internal SELECT, rows as ``{variable: term}`` (unbound variables left out)."""
    solutions = store.query(text, use_default_graph_as_union=union)
    names = [v.value for v in solutions.variables]
    return [{n: encode(row[n]) for n in names if row[n] is not None} for row in solutions]


def ask_exists(store: ox.Store, iri: str, graphs: frozenset[str]) -> bool:
    """True when ``iri`` is a subject, an object or a graph name in the data (a stored merge in the
    default graph only repeats statements of named graphs, so any quad will do)."""
    try:
        node = ox.NamedNode(iri)
    except ValueError:
        return False
    return (iri in graphs or next(iter(store.quads_for_pattern(node, None, None)), None) is not None
            or next(iter(store.quads_for_pattern(None, None, node)), None) is not None)
