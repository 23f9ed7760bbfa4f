"""Bytes for RDF documents that must be identical in every process (for one ETag across web workers):
canonical blank nodes, sorted statements, only the prefixes in use, JSON-LD with an inline context."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pyoxigraph as ox
from rdflib import BNode
from rdflib.term import Node

from tourkg import formats, jsonld
from tourkg.store import Store, to_oxigraph


def description_triples(store: Store, iri: str) -> list[tuple[Node, Node, Node]]:
    """The RDF description served at ``/data``: own statements, incoming links, labels and types of
    linked resources and the provenance of their graphs, as distinct triples."""
    return sorted({(s, p, o) for s, p, o, _g in store.describe(iri).quads()}, key=str)


def serialize_graph(triples: Iterable[tuple[Node, Node, Node]], fmt: formats.Format,
                    prefixes: dict[str, str]) -> bytes:
    """Serialize triples to the same bytes in every process: blank nodes canonicalized (RDFC-1.0),
    statements sorted, only the prefixes in use. Several web workers then agree on each ETag."""
    return serialize_canonical(canonical(triples), fmt, prefixes)


def canonical(triples: Iterable[tuple[Node, Node, Node]]) -> list[ox.Triple]:
    """The triples with canonical blank nodes (RDFC-1.0), sorted: what :func:`serialize_canonical`
    writes in any format (computed once for all the formats of one document)."""
    dataset = ox.Dataset(ox.Quad(*(to_oxigraph(t) for t in triple)) for triple in triples)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return sorted({ox.Triple(q.subject, q.predicate, q.object) for q in dataset}, key=str)


def serialize_canonical(items: list[ox.Triple], fmt: formats.Format, prefixes: dict[str, str]) -> bytes:
    """Canonical triples (:func:`canonical`) in ``fmt``, with only the prefixes they use."""
    text = "\n".join(str(t) for t in items)
    used = {p: ns for p, ns in sorted(prefixes.items()) if f"<{ns}" in text}
    statements: list = items
    if fmt.kind is formats.Kind.DATASET:  # TriG, N-Quads: the triples in the default graph
        statements = [ox.Quad(t.subject, t.predicate, t.object) for t in items]
    body = ox.serialize(statements, format=getattr(ox.RdfFormat, fmt.engine or ""), prefixes=used) or b""
    return jsonld.with_context(body, used) if fmt.name == "jsonld" else body


def stable_bnode(*parts: object) -> BNode:
    """A blank node whose label depends only on ``parts``: descriptions built in different processes
    (every web worker, an export) serialize to the same bytes, so their ETags agree."""
    return BNode("b" + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16])
