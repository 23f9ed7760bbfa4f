"""The SPARQL 1.1 Service Description of ``/sparql`` (https://www.w3.org/TR/sparql11-service-description/).

Built as an rdflib graph from the format registry, the settings and the store's statistics, so what it
claims is what the endpoint does. ``sd:endpoint`` is the URL the client used, so the description is
right on whatever host and port the server runs. The limits are stated with standard schema.org terms
(``schema:additionalProperty`` → ``schema:PropertyValue``) rather than a private vocabulary.
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

from tourkg import formats
from tourkg.config import Settings
from tourkg.formats import Format
from tourkg.namespaces import RDF, RDFS, SCHEMA, SD, VOID, prefixes
from tourkg.serialize import serialize_graph, stable_bnode
from tourkg.store import Store

_SIMPLE_ENTAILMENT = URIRef("http://www.w3.org/ns/entailment/Simple")


def _limit(graph: Graph, service: BNode, setting: str, value: float | int, text: str, unit: str = "") -> None:
    node = stable_bnode("limit", setting)
    graph.add((service, SCHEMA.additionalProperty, node))
    graph.add((node, RDF.type, SCHEMA.PropertyValue))
    graph.add((node, SCHEMA.propertyID, Literal(setting)))
    graph.add((node, SCHEMA.name, Literal(text, lang="en")))
    datatype = XSD.decimal if isinstance(value, float) else XSD.integer
    graph.add((node, SCHEMA.value, Literal(str(value), datatype=datatype)))
    if unit:
        graph.add((node, SCHEMA.unitCode, Literal(unit)))  # UN/CEFACT common code


def _dataset(graph: Graph, store: Store) -> BNode:
    """``sd:defaultDataset``: the union default graph and every named graph, with VoID triple counts."""
    dataset, default = stable_bnode("dataset"), stable_bnode("default-graph")
    stats = store.stats()
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, RDF.type, VOID.Dataset))
    graph.add((dataset, VOID.triples, Literal(stats.triples)))
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((default, RDF.type, SD.Graph))
    graph.add((default, VOID.triples, Literal(stats.triples)))
    counts = stats.graph_sizes
    for name in stats.graphs:
        named, inner = stable_bnode("named-graph", name), stable_bnode("graph", name)
        graph.add((dataset, SD.namedGraph, named))
        graph.add((named, RDF.type, SD.NamedGraph))
        graph.add((named, SD.name, URIRef(name)))
        graph.add((named, SD.graph, inner))
        graph.add((inner, RDF.type, SD.Graph))
        graph.add((inner, VOID.triples, Literal(counts.get(name, 0))))
    return dataset


def describe_service(endpoint: str, settings: Settings, store: Store) -> Graph:
    """The service description graph for the endpoint at ``endpoint``."""
    graph = Graph()
    for prefix, namespace in prefixes(settings.base_uri).items():
        graph.bind(prefix, namespace)
    service = stable_bnode("service")
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, URIRef(endpoint)))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.feature, SD.UnionDefaultGraph))
    graph.add((service, SD.defaultEntailmentRegime, _SIMPLE_ENTAILMENT))
    for fmt in formats.RESULTS + formats.RDF:
        graph.add((service, SD.resultFormat, URIRef(fmt.iri or "")))
    graph.add((service, SD.defaultDataset, _dataset(graph, store)))
    graph.add((service, RDFS.comment, Literal(
        "Read-only SPARQL 1.1 Query endpoint. The default graph is the union of all named graphs. "
        "SPARQL Update and SERVICE (federation) are refused with 403. A graph named by default-graph-uri, "
        "named-graph-uri, FROM or FROM NAMED that the dataset does not hold is an empty graph: graphs are "
        "never fetched from the Web. Limits: "
        f"{settings.query_timeout:g} s per query (503 past it), {settings.max_result_rows} result rows or "
        f"triples and {settings.max_query_length} query characters (413 past them). A GET URL is limited to "
        "8 KB (414 past it): send longer queries by POST (SPARQL 1.1 Protocol §2.1).", lang="en")))
    # The 8 KB is web.fastpath.MAX_URL, the usual request-line cap of servers and proxies (not a setting:
    # a proxy in front would cap it anyway).
    _limit(graph, service, "query_timeout", float(settings.query_timeout), "Query time limit", "SEC")
    _limit(graph, service, "max_result_rows", settings.max_result_rows, "Most result rows or triples")
    _limit(graph, service, "max_query_length", settings.max_query_length, "Most characters in a query")
    return graph


def serialize_description(graph: Graph, fmt: Format, prefixes_: dict[str, str] | None = None) -> bytes:
    """The description in ``fmt``: the same bytes in every process (JSON-LD with its context inline,
    never a remote one)."""
    bound = prefixes_ if prefixes_ is not None else {p: str(ns) for p, ns in graph.namespaces()}
    return serialize_graph(graph, fmt, bound)
