"""The store behind a narrow interface: user queries with limits, bounded internal look-ups, dumps.

Three engines stand behind it (``tourkg.engines``): ``memory`` and ``oxigraph:DIR`` run Oxigraph in one
engine process per server, shared by every web worker; ``sparql:URL`` forwards to any SPARQL 1.1
endpoint and holds no data. The web layer and the domain code only see :class:`Store`.

Terms cross the process boundary as small tuples (:func:`encode`/:func:`decode`) rather than rdflib or
pyoxigraph objects: cheap to pickle, and the engine process never imports rdflib.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from rdflib import BNode, Literal, URIRef
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.term import Node

from tourkg.engines.wire import LABEL_IRIS, PAGE_VALUES, encode  # noqa: F401 (re-exported)
from tourkg.formats import Format
from tourkg.namespaces import DCT, RDFS, SCHEMA, SKOS
from tourkg.search import Hit, SearchIndex

LABEL_PROPERTIES = (SKOS.prefLabel, SCHEMA.name, RDFS.label, DCT.title, SCHEMA.headline)
assert tuple(str(p) for p in LABEL_PROPERTIES) == LABEL_IRIS


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
    """Counts for the dataset description (VoID), the service description and the landing page."""

    triples: int
    quads: int
    graphs: tuple[str, ...]
    classes: dict[str, int] = field(default_factory=dict)
    properties: dict[str, int] = field(default_factory=dict)
    subjects: int = 0
    objects: int = 0
    graph_sizes: dict[str, int] = field(default_factory=dict)

    @cached_property
    def graph_set(self) -> frozenset[str]:
        """The graph names, for membership tests on hot paths."""
        return frozenset(self.graphs)


@dataclass(frozen=True)
class Description:
    """What the store knows about one IRI, bounded: its statements (at most :data:`PAGE_VALUES` values
    per property and direction), the labels and types of what they link to and the provenance of their
    graphs; ``totals`` counts every value of each ``(direction, predicate)`` that was cut short."""

    dataset: Quads
    totals: dict[tuple[str, str], int] = field(default_factory=dict)

    def quads(self) -> Any:
        """The description's quads (rdflib terms)."""
        return self.dataset.quads()


@dataclass(frozen=True)
class Dump:
    """A prepared dump file: ``path`` holds the bytes, ``etag`` their hash."""

    path: Path
    etag: str
    size: int


class Store(Protocol):
    """What the publisher needs from a store; small so another engine can stand behind it."""

    def query(self, text: str, *, formats: QueryFormats, default_graphs: list[str] | None = None,
              named_graphs: list[str] | None = None, timeout: float | None = None,
              max_rows: int | None = None, client: str | None = None) -> QueryOutcome:
        """Run a user query under the time and size limits, admitted as ``engines.admission`` says
        (``client``: who asks, for the per-client limit)."""

    def select(self, text: str) -> list[dict[str, Node]]:
        """Run a trusted, bounded internal SELECT over the union of all graphs."""

    def ask_exists(self, iri: str) -> bool:
        """True when ``iri`` occurs in the data: as a subject, an object or a graph name."""

    def describe(self, iri: str) -> Description:
        """The resource's bounded description (see :class:`Description`)."""

    def labels(self, iris: list[str]) -> Quads:
        """The label statements (:data:`LABEL_PROPERTIES`) of ``iris``."""

    def neighbours(self, iri: str, predicate: str, incoming: bool, offset: int,
                   limit: int) -> tuple[list[tuple[Node, Node]], int]:
        """One page of the values of ``iri predicate ?x`` (or ``?x predicate iri`` when ``incoming``),
        in a stable order, as ``(value, graph)`` pairs, with the total number of values."""

    def search(self, query: str, type_: str | None = None, limit: int = 20) -> list[Hit]:
        """Resources whose names or labels match ``query`` (see ``tourkg.search``), best first."""

    def search_index(self) -> SearchIndex:
        """The whole label search index (the static export splits it for the browser)."""

    def graphs(self) -> tuple[str, ...]:
        """The named graphs, sorted."""

    def stats(self) -> Stats:
        """Counts and partitions for the dataset description."""

    def dump(self, fmt: Format, gzipped: bool = False) -> Dump:
        """The whole dataset in ``fmt``, prepared once as a file."""

    def close(self) -> None:
        """Release connections and processes."""


# -- terms across processes -----------------------------------------------------------------------------
def decode(term: tuple) -> Node:
    """The rdflib term for an :func:`encode`\\ d tuple."""
    kind = term[0]
    if kind == "u":
        return URIRef(term[1])
    if kind == "l":
        return Literal(term[1], lang=term[2]) if term[2] else Literal(term[1], datatype=URIRef(term[3]))
    if kind == "b":
        return BNode(term[1])
    return DATASET_DEFAULT_GRAPH_ID


class Quads:
    """Decoded quads, each once, in the engine's order, read through :meth:`quads` as from an rdflib
    ``Dataset`` (the default graph named ``DATASET_DEFAULT_GRAPH_ID``). Page and list views only iterate
    them: filling an rdflib ``Dataset`` with its indexes cost more than rendering the page (about 5 ms
    a description at 1M triples, the static export's largest cost after templates)."""

    __slots__ = ("_quads",)

    def __init__(self, quads: list[tuple[Node, Node, Node, Node]]) -> None:
        self._quads = list(dict.fromkeys(quads))

    def quads(self) -> Iterator[tuple[Node, Node, Node, Node]]:
        """Every ``(s, p, o, g)``."""
        return iter(self._quads)

    def __len__(self) -> int:
        return len(self._quads)


def decode_quads(quads: list[tuple]) -> Quads:
    """The quads of encoded ``(s, p, o, g)`` tuples."""
    return Quads([(decode(s), decode(p), decode(o), decode(g)) for s, p, o, g in quads])


def to_oxigraph(term: Node) -> Any:
    """Convert an rdflib term to pyoxigraph."""
    import pyoxigraph as ox

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


def to_rdflib(term: Any) -> Node:
    """Convert a pyoxigraph term to rdflib."""
    return decode(encode(term))
