"""The single registry of media types: conneg offers, file extensions, ``format=`` names, dumps,
``query --format`` and the service description's ``sd:resultFormat`` all derive from it.

Modelled on Oxigraph's ``RdfFormat``/``QueryResultsFormat``: each format knows its media types,
extension, short names, W3C format IRI and the engine's serializer name.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Kind(enum.Enum):
    """What a format can carry."""

    RESULTS = "results"  # SELECT / ASK results
    GRAPH = "graph"  # triples (CONSTRUCT / DESCRIBE, resource descriptions)
    DATASET = "dataset"  # quads (named graphs)
    PAGE = "page"  # HTML for people
    DATA = "data"  # plain JSON for scripts (search results)


@dataclass(frozen=True)
class Format:
    """One serialization format."""

    name: str
    label: str
    media_types: tuple[str, ...]
    extension: str
    kind: Kind
    aliases: tuple[str, ...] = ()
    engine: str | None = None  # pyoxigraph RdfFormat / QueryResultsFormat attribute name
    rdflib: str | None = None  # rdflib plugin name
    iri: str | None = None  # W3C Unique URI for the format (http://www.w3.org/ns/formats/)

    @property
    def media_type(self) -> str:
        """The canonical media type (the first one)."""
        return self.media_types[0]

    @property
    def content_type(self) -> str:
        """``Content-Type`` header value, with charset for the textual formats."""
        return f"{self.media_type}; charset=utf-8"

    @property
    def names(self) -> tuple[str, ...]:
        """Every name ``format=`` accepts for this format."""
        return (self.name, self.extension, *self.aliases, *self.media_types)


_W3C = "http://www.w3.org/ns/formats/"

# Order matters: within a kind, the first format is the server's preference on ties.
REGISTRY: tuple[Format, ...] = (
    Format("json", "SPARQL JSON", ("application/sparql-results+json", "application/json"), "srj",
           Kind.RESULTS, ("json",), "JSON", "json", _W3C + "SPARQL_Results_JSON"),
    Format("xml", "SPARQL XML", ("application/sparql-results+xml", "application/xml", "text/xml"), "srx",
           Kind.RESULTS, ("xml",), "XML",
           "xml", _W3C + "SPARQL_Results_XML"),
    Format("csv", "CSV", ("text/csv",), "csv", Kind.RESULTS, (), "CSV", "csv", _W3C + "SPARQL_Results_CSV"),
    Format("tsv", "TSV", ("text/tab-separated-values",), "tsv", Kind.RESULTS, (), "TSV", "tsv",
           _W3C + "SPARQL_Results_TSV"),
    Format("turtle", "Turtle", ("text/turtle", "application/x-turtle"), "ttl", Kind.GRAPH, ("ttl",),
           "TURTLE", "turtle", _W3C + "Turtle"),
    Format("ntriples", "N-Triples", ("application/n-triples",), "nt", Kind.GRAPH, ("nt", "n-triples"),
           "N_TRIPLES", "nt11", _W3C + "N-Triples"),
    Format("jsonld", "JSON-LD", ("application/ld+json", "application/json"), "jsonld", Kind.GRAPH,
           ("json-ld",), "JSON_LD", "json-ld", _W3C + "JSON-LD"),
    Format("rdfxml", "RDF/XML", ("application/rdf+xml", "application/xml", "text/xml"), "rdf", Kind.GRAPH,
           ("rdf", "rdf+xml", "xml"),
           "RDF_XML", "xml", _W3C + "RDF_XML"),
    Format("trig", "TriG", ("application/trig",), "trig", Kind.DATASET, (), "TRIG", "trig", _W3C + "TriG"),
    Format("nquads", "N-Quads", ("application/n-quads",), "nq", Kind.DATASET, ("nq", "n-quads"), "N_QUADS",
           "nquads", _W3C + "N-Quads"),
    Format("html", "HTML", ("text/html", "application/xhtml+xml"), "html", Kind.PAGE),
    Format("data-json", "JSON", ("application/json",), "json", Kind.DATA),
)

BY_NAME = {f.name: f for f in REGISTRY}


def of_kind(*kinds: Kind) -> tuple[Format, ...]:
    """The formats of the given kinds, in preference order."""
    return tuple(f for f in REGISTRY if f.kind in kinds)


def media_types(formats: Iterable[Format]) -> list[str]:
    """All media types of ``formats`` in preference order (the conneg offers)."""
    return [mt for f in formats for mt in f.media_types]


def by_media_type(media_type: str, formats: Iterable[Format] = REGISTRY) -> Format | None:
    """The format among ``formats`` that has ``media_type`` (parameters ignored)."""
    bare = media_type.split(";")[0].strip().lower()
    return next((f for f in formats if bare in f.media_types), None)


def by_name(name: str, formats: Iterable[Format] = REGISTRY) -> Format | None:
    """The format among ``formats`` called ``name`` (a short name, an extension or a media type)."""
    key = name.strip().lower()
    candidates = tuple(formats)
    return next((f for f in candidates if key in f.names), None) or by_media_type(key, candidates)


def by_extension(extension: str, formats: Iterable[Format] = REGISTRY) -> Format | None:
    """The format for a file extension such as ``ttl`` (also ``.ttl``)."""
    key = extension.lstrip(".").lower()
    aliases = {"owl": "rdfxml", "xml": "rdfxml", "n3": "turtle", "json": "jsonld"}
    fmt = next((f for f in formats if f.extension == key and f.kind is not Kind.DATA), None)
    return fmt or BY_NAME.get(aliases.get(key, ""))


RESULTS = of_kind(Kind.RESULTS)
GRAPHS = of_kind(Kind.GRAPH)
RDF = of_kind(Kind.GRAPH, Kind.DATASET)
HTML = BY_NAME["html"]
#: Search results for scripts and autocomplete.
DATA_JSON = BY_NAME["data-json"]
#: The result formats that define a boolean (ASK) answer: SPARQL JSON §3.2.2 and SPARQL XML §2.3.2. The
#: W3C CSV/TSV results format (https://www.w3.org/TR/sparql11-results-csv-tsv/) has none, and a bare
#: ``true`` is rejected by conforming parsers (rdflib's TSV parser among them).
BOOLEAN_RESULTS = tuple(f for f in RESULTS if f.name in ("json", "xml"))
