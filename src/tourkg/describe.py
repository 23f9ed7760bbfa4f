"""Resource views: what a page shows about one IRI, built from ``Store.describe`` without Flask.

Everything a template needs is computed here (labels in the reader's language, grouped properties,
incoming links, the source of each statement), so the views stay thin and the logic is testable.
Subject-specific sections (country, person, tour, issue) live in :mod:`tourkg.extras`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from tourkg import formats
from tourkg.iris import IriMap
from tourkg.namespaces import DCT, OWL, PROV, RDF, RDFS, SCHEMA, SKOS, XSD, prefixes
from tourkg.store import LABEL_PROPERTIES, PAGE_VALUES, Description, Store

#: Languages pages are offered in; the first is the fallback.
LANGUAGES = ("en", "es")
DESCRIPTION_PROPERTIES = (SCHEMA.description, SKOS.definition, DCT.description, RDFS.comment)
SAME_AS = (OWL.sameAs, SCHEMA.sameAs)
#: IRIs with any of these characters are refused before they reach a SPARQL text or the engine.
_UNSAFE_IRI = re.compile(r'[\s<>"{}|\\^`]')


@dataclass(frozen=True)
class Link:
    """A hyperlink to a resource: ``href`` is a local path for our IRIs, the IRI itself otherwise."""

    iri: str
    text: str
    href: str
    external: bool = False


@dataclass(frozen=True)
class Value:
    """One object of a statement, ready to print; ``sources`` are numbers into ``ResourceView.sources``."""

    text: str
    link: Link | None = None
    lang: str | None = None
    datatype: str | None = None
    sources: tuple[int, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class PropertyGroup:
    """The values of one property (or, for incoming links, the subjects pointing here through it): all
    of them, or the first :data:`~tourkg.store.PAGE_VALUES` with the ``total`` and a link to the rest."""

    predicate: Link
    values: tuple[Value, ...]
    total: int | None = None
    more_href: str | None = None


@dataclass(frozen=True)
class Source:
    """Where statements come from: a named graph and the document it was derived from."""

    number: int
    graph: str
    label: str
    url: str | None  # the document's web address (schema:url), when known
    page: str | None = None  # our page about the document


@dataclass(frozen=True)
class Section:
    """A subject-specific list, e.g. the leader a country's visit met: at most
    :data:`~tourkg.store.PAGE_VALUES` items, with their ``total`` and where to see all when cut short."""

    title: str
    items: tuple[Value, ...]
    total: int | None = None
    more_href: str | None = None


@dataclass
class ResourceView:
    """Everything a resource page shows."""

    iri: str
    label: str
    lang: str
    types: tuple[Link, ...]
    description: str | None
    groups: tuple[PropertyGroup, ...]
    incoming: tuple[PropertyGroup, ...]
    sources: tuple[Source, ...]
    alternates: tuple[tuple[str, str, str], ...]  # (label, media type, href)
    sparql_href: str
    same_as: tuple[str, ...] = ()
    label_lang: str | None = None  # the label's language when it differs from the page's (a fallback)
    sections: list[Section] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # timeline, route map: see tourkg.extras


def is_safe_iri(iri: str) -> bool:
    """True when ``iri`` is absolute and free of characters that could break out of ``<...>``."""
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", iri)) and not _UNSAFE_IRI.search(iri)


def exists(store: Store, iri: str) -> bool:
    """True when ``iri`` occurs in the data as a subject or, failing that, as an object."""
    if not is_safe_iri(iri):
        return False
    try:
        return store.ask_exists(iri)  # subject, object or named graph (a graph is a resource too)
    except ValueError:  # the engine refuses IRIs that do not parse
        return False


def local_name(iri: str) -> str:
    """A readable form of an IRI's last segment: ``jobTitle`` → ``job title``."""
    tail = re.split(r"[#/]", iri.rstrip("/#"))[-1] or iri
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", tail).replace("_", " ").replace("-", " ")
    return words if words.isupper() else words[:1] + words[1:].lower()


class Index:
    """The quads of a description, indexed by subject, with label look-ups in a language."""

    def __init__(self, quads: Iterable[tuple[Node, Node, Node, Node]]) -> None:
        self.by_subject: dict[Node, list[tuple[Node, Node, Node]]] = defaultdict(list)
        self.by_object: dict[Node, list[tuple[Node, Node, Node]]] = defaultdict(list)
        # Objects by (subject, predicate): a label is looked up per label property, and scanning a
        # subject's statements for each compared rdflib terms in Python, the cost of a tour's page.
        self._objects: dict[tuple[Node, Node], list[Node]] = defaultdict(list)
        self._labels: dict[tuple[Node, str], str] = {}
        for s, p, o, g in quads:
            self.by_subject[s].append((p, o, g))
            self.by_object[o].append((s, p, g))
            self._objects[s, p].append(o)

    def objects(self, subject: Node, predicate: Node) -> list[Node]:
        """Distinct objects of ``subject predicate ?o`` in any graph, in a stable order."""
        found = self._objects.get((subject, predicate))
        return sorted(set(found), key=str) if found else []

    def literal_and_language(self, subject: Node, predicates: Sequence[Node],
                             lang: str) -> tuple[str | None, str | None]:
        """Like :meth:`literal`, with the chosen literal's language tag (``None`` when untagged)."""
        ranked = []
        for i, p in enumerate(predicates):
            for o in self.objects(subject, p):
                if isinstance(o, Literal):
                    ranked.append(({lang: 0, None: 0, "en": 1}.get(o.language, 2), i, str(o), o.language))
        best = min(ranked, key=lambda r: r[:3]) if ranked else None
        return (best[2], best[3]) if best else (None, None)

    def literal(self, subject: Node, predicates: Sequence[Node], lang: str) -> str | None:
        """The best literal of ``predicates`` for ``lang``: that language or untagged (names such as
        "Nayib Bukele" belong to no language), then English, then any other."""
        return self.literal_and_language(subject, predicates, lang)[0]

    def label(self, term: Node, lang: str) -> str:
        """The human label of ``term`` in ``lang`` (else a readable local name); each worked out once."""
        key = (term, lang)
        found = self._labels.get(key)
        if found is None:
            found = self._labels[key] = self.literal(term, LABEL_PROPERTIES, lang) or local_name(str(term))
        return found


#: Schemes an external IRI may be linked with; any other (``javascript:``, ``data:``) is shown as text.
LINKABLE_SCHEMES = ("http://", "https://")


def link_to(iri: str, text: str, iris: IriMap) -> Link:
    """A link: our IRIs go to their local page, other web IRIs (Wikidata, vocabularies) stay external,
    and IRIs in other schemes get no ``href`` at all."""
    if iris.is_local(iri):
        return Link(iri, text, iris.page_path(iri))
    return Link(iri, text, iri if iri.lower().startswith(LINKABLE_SCHEMES) else "", external=True)


def _short_datatype(datatype: str | None) -> str | None:
    if not datatype or datatype == str(XSD.string):
        return None
    return "xsd:" + datatype[len(str(XSD)):] if datatype.startswith(str(XSD)) else datatype


def make_value(term: Node, index: Index, iris: IriMap, lang: str, sources: tuple[int, ...] = ()) -> Value:
    """Turn an RDF term into something printable."""
    if isinstance(term, Literal):
        dt = _short_datatype(str(term.datatype) if term.datatype else None)
        return Value(str(term), lang=term.language, datatype=dt, sources=sources)
    if isinstance(term, BNode):
        parts = [f"{index.label(p, lang)}: {o}" for p, o, _g in index.by_subject.get(term, ())]
        return Value("; ".join(parts) or "(blank node)", sources=sources)
    return Value(index.label(term, lang), link_to(str(term), index.label(term, lang), iris), sources=sources)


def _sources(index: Index, graphs: Iterable[Node], lang: str, iris: IriMap) -> dict[Node, Source]:
    """Number the graphs the statements sit in, with the document each was derived from."""
    found: dict[Node, Source] = {}
    for number, graph in enumerate(sorted(set(graphs), key=str), start=1):
        derived = index.objects(graph, PROV.wasDerivedFrom) or index.objects(graph, DCT.source)
        origin = derived[0] if derived else None
        subject = graph if origin is None else origin
        urls = index.objects(subject, SCHEMA.url)
        page = iris.page_path(str(subject)) if iris.is_local(str(subject)) else None
        url = str(urls[0]) if urls and str(urls[0]).lower().startswith(LINKABLE_SCHEMES) else None
        found[graph] = Source(number, str(graph), index.label(subject, lang), url, page)
    return found


def group_properties(rows: dict[Node, dict[Node, set[Node]]], index: Index, iris: IriMap, lang: str,
                     numbers: dict[Node, Source], more: dict[str, tuple[int, str]] | None = None
                     ) -> tuple[PropertyGroup, ...]:
    """Group ``predicate → term → graphs`` into sorted, labelled property groups; ``more`` gives, for a
    predicate whose values were cut short, their total and the link to the full list."""
    groups = []
    for predicate, terms in rows.items():
        values = [make_value(t, index, iris, lang, tuple(sorted(numbers[g].number for g in graphs)))
                  for t, graphs in terms.items()]
        values.sort(key=lambda v: (v.lang not in (lang, None), v.text.casefold(), v.text, v.lang or "",
                                   v.link.iri if v.link else ""))
        plabel = index.label(predicate, lang)
        total, href = (more or {}).get(str(predicate), (None, None))
        groups.append(PropertyGroup(link_to(str(predicate), plabel, iris), tuple(values), total, href))
    labels_first = {str(p): i for i, p in enumerate(LABEL_PROPERTIES)}
    groups.sort(key=lambda g: (labels_first.get(g.predicate.iri, 99), g.predicate.text.casefold(),
                               g.predicate.iri))
    return tuple(_disambiguate(groups))


def _disambiguate(groups: list[PropertyGroup]) -> list[PropertyGroup]:
    """Two properties with the same label (owl:sameAs, schema:sameAs) get their vocabulary's prefix."""
    seen: dict[str, int] = defaultdict(int)
    for g in groups:
        seen[g.predicate.text] += 1
    names = {ns: p for p, ns in prefixes().items()}
    out = []
    for g in groups:
        if seen[g.predicate.text] > 1:
            namespace = next((ns for ns in names if g.predicate.iri.startswith(ns)), None)
            if namespace:
                text = f"{g.predicate.text} ({names[namespace]})"
                g = replace(g, predicate=replace(g.predicate, text=text))
        out.append(g)
    return out


def _named(graph: Node) -> bool:
    return isinstance(graph, URIRef)


def describe_resource(store: Store, iris: IriMap, iri: str, lang: str = "en") -> ResourceView | None:
    """The page view of ``iri`` in ``lang``; ``None`` when the IRI is not in the data."""
    if not exists(store, iri):
        return None
    description = store.describe(iri)
    index = Index(description.quads())
    node = URIRef(iri)
    own: dict[Node, dict[Node, set[Node]]] = defaultdict(lambda: defaultdict(set))
    for p, o, g in index.by_subject.get(node, ()):
        if p != RDF.type:
            own[p][o].add(g)
    incoming: dict[Node, dict[Node, set[Node]]] = defaultdict(lambda: defaultdict(set))
    for s, p, g in index.by_object.get(node, ()):
        if s != node and not isinstance(s, BNode):
            incoming[p][s].add(g)
    graphs = [g for p in (*own.values(), *incoming.values()) for gs in p.values() for g in gs if _named(g)]
    graphs += [g for p, o, g in index.by_subject.get(node, ()) if p == RDF.type and _named(g)]
    numbers = defaultdict(lambda: Source(0, "", "", None), _sources(index, graphs, lang, iris))
    types = tuple(link_to(str(t), index.label(t, lang), iris) for t in index.objects(node, RDF.type))
    same_as = tuple(str(o) for p in SAME_AS for o in index.objects(node, p) if isinstance(o, URIRef))
    view = ResourceView(
        iri=iri, label=index.label(node, lang), lang=lang, types=types,
        description=index.literal(node, DESCRIPTION_PROPERTIES, lang),
        groups=group_properties(own, index, iris, lang, numbers, _more(description, iris, iri, "out")),
        incoming=group_properties(incoming, index, iris, lang, numbers, _more(description, iris, iri, "in")),
        sources=tuple(s for s in sorted(numbers.values(), key=lambda s: s.number) if s.number),
        alternates=tuple((f.label, f.media_type, iris.data_path(iri, f.extension)) for f in formats.GRAPHS),
        sparql_href=iris.sparql_describe_path(iri), same_as=same_as,
        label_lang=_fallback_language(index, node, lang),
    )
    if iri in store.graphs():
        view.sections.append(_graph_section(store, iris, iri))
    return view


def _more(description: Description, iris: IriMap, iri: str, direction: str) -> dict[str, tuple[int, str]]:
    """For each property cut short in ``direction``: its total and the link to its paginated list."""
    return {predicate: (total, iris.list_path(iri, predicate, direction == "in"))
            for (side, predicate), total in description.totals.items() if side == direction}


@dataclass(frozen=True)
class ValueList:
    """One page of the values of a property of a resource (the "more" link of a hub's page)."""

    subject: Link
    predicate: Link
    incoming: bool
    values: tuple[Value, ...]
    total: int
    offset: int
    previous_href: str | None
    next_href: str | None


def list_values(store: Store, iris: IriMap, iri: str, predicate: str, incoming: bool, offset: int,
                lang: str = "en") -> ValueList | None:
    """Page ``offset // PAGE_VALUES`` of the values of ``iri predicate ?x`` (``?x predicate iri`` when
    ``incoming``), labelled, in a stable order; ``None`` when the IRI is not in the data."""
    if not exists(store, iri) or not is_safe_iri(predicate):
        return None
    page, total = store.neighbours(iri, predicate, incoming, offset, PAGE_VALUES)
    terms = list(dict.fromkeys(term for term, _graph in page))
    index = Index(store.labels([str(t) for t in [URIRef(iri), URIRef(predicate), *terms]
                                if isinstance(t, URIRef)]).quads())
    values = tuple(make_value(t, index, iris, lang) for t in terms)
    def at(start: int) -> str:
        return iris.list_path(iri, predicate, incoming, start)
    return ValueList(
        subject=link_to(iri, index.label(URIRef(iri), lang), iris),
        predicate=link_to(predicate, index.label(URIRef(predicate), lang), iris),
        incoming=incoming, values=values, total=total, offset=offset,
        previous_href=at(max(0, offset - PAGE_VALUES)) if offset > 0 else None,
        next_href=at(offset + PAGE_VALUES) if offset + PAGE_VALUES < total else None)


def _fallback_language(index: Index, node: Node, lang: str) -> str | None:
    """The label's language tag when it is not the page's language (an English fallback on a Spanish
    page), so the template can mark it with ``lang``."""
    _text, tag = index.literal_and_language(node, LABEL_PROPERTIES, lang)
    return tag if tag and tag != lang else None


def _graph_section(store: Store, iris: IriMap, iri: str) -> Section:
    """For a named graph: how many statements it holds, and a query that lists them."""
    count = store.stats().graph_sizes.get(iri, 0)
    query = f"SELECT ?s ?p ?o WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }} ORDER BY ?s ?p ?o"
    href = "/sparql?" + urlencode({"query": query})
    text = f"{count} statement{'s' if count != 1 else ''} in this named graph (list them with SPARQL)"
    return Section("Named graph", (Value(text, Link(iri, text, href)),))


