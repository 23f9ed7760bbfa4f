"""Human documentation of the ontology (``/ontology``) and readable outlines of small RDF documents
(the VoID description, the shapes), built from graphs without Flask."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from tourkg.describe import Index, Link, PropertyGroup, Source, Value, group_properties, link_to
from tourkg.iris import IriMap
from tourkg.namespaces import DCT, OWL, RDF, RDFS, SKOS, ontology_namespace, served_prefixes


@dataclass(frozen=True)
class Term:
    """One ontology term for the documentation page."""

    anchor: str
    iri: str
    kind: str
    labels: dict[str, str]
    comment: str | None
    related: tuple[tuple[str, tuple[Link, ...]], ...]  # (heading, links): domain, range, super-terms


_TERM_KINDS = ((OWL.Class, "Class"), (RDFS.Class, "Class"), (OWL.ObjectProperty, "Object property"),
               (OWL.DatatypeProperty, "Datatype property"), (OWL.AnnotationProperty, "Annotation property"),
               (RDF.Property, "Property"))
_TERM_LINKS = (("Subclass of", RDFS.subClassOf), ("Subproperty of", RDFS.subPropertyOf),
               ("Domain", RDFS.domain), ("Range", RDFS.range), ("Inverse of", OWL.inverseOf))


def ontology_terms(ontology: Graph, iris: IriMap) -> list[Term]:
    """The ontology's own terms (those in ``{base}ontology#``), classes first, each with its anchor."""
    namespace = str(ontology_namespace(iris.base))
    index = Index((s, p, o, None) for s, p, o in ontology)
    terms: dict[str, Term] = {}
    for rdf_type, kind in _TERM_KINDS:
        for subject in sorted(ontology.subjects(RDF.type, rdf_type), key=str):
            iri = str(subject)
            if not iri.startswith(namespace) or iri in terms:
                continue
            labels = {str(o.language or ""): str(o) for o in index.objects(subject, RDFS.label)
                      if isinstance(o, Literal)}
            related = tuple((heading, tuple(link_to(str(o), _curie(str(o), iris), iris)
                                            for o in index.objects(subject, p)))
                            for heading, p in _TERM_LINKS if index.objects(subject, p))
            terms[iri] = Term(iri[len(namespace):], iri, kind, labels,
                              index.literal(subject, (RDFS.comment, SKOS.definition), "en"), related)
    return list(terms.values())


def ontology_header(ontology: Graph, lang: str = "en") -> dict[str, Any]:
    """Title, description, version and license of the ontology document."""
    index = Index((s, p, o, None) for s, p, o in ontology)
    subject = next(iter(ontology.subjects(RDF.type, OWL.Ontology)), None)
    if subject is None:
        return {"title": "Ontology", "description": None, "version": None, "iri": None}
    version = index.objects(subject, OWL.versionInfo)
    return {"title": index.literal(subject, (DCT.title, RDFS.label), lang) or "Ontology",
            "description": index.literal(subject, (DCT.description, RDFS.comment), lang),
            "version": str(version[0]) if version else None, "iri": str(subject)}


def _curie(iri: str, iris: IriMap) -> str:
    for prefix, namespace in served_prefixes(iris.base).items():
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace):]}"
    return iri


@dataclass(frozen=True)
class Outline:
    """One described subject of a small document (VoID, shapes) for its HTML rendering."""

    anchor: str
    subject: Link
    groups: tuple[PropertyGroup, ...]


def _within(groups: tuple[PropertyGroup, ...], anchors: dict[str, str]) -> tuple[PropertyGroup, ...]:
    """Point links to subjects of the same document at their section (``#anchor``)."""
    def local(value: Value) -> Value:
        if value.link is None or value.link.iri not in anchors:
            return value
        return replace(value, link=Link(value.link.iri, value.link.text, "#" + anchors[value.link.iri]))
    return tuple(PropertyGroup(g.predicate, tuple(local(v) for v in g.values)) for g in groups)


def outline(triples: Iterable[tuple[Node, Node, Node]], iris: IriMap, lang: str = "en") -> list[Outline]:
    """Every IRI subject of ``triples`` with its properties, blank nodes shown inline: a readable HTML
    view of a document that is not about one resource. Subjects link to their own section."""
    index = Index((s, p, o, None) for s, p, o in triples)
    no_source: dict[Node, Source] = defaultdict(lambda: Source(0, "", "", None))
    subjects = sorted((s for s in index.by_subject if isinstance(s, URIRef)), key=str)
    anchors = {str(s): f"s{i}" for i, s in enumerate(subjects, start=1)}
    found = []
    for subject in subjects:
        rows: dict[Node, dict[Node, set[Node]]] = defaultdict(lambda: defaultdict(set))
        for p, o, _g in index.by_subject[subject]:
            rows[p][o]  # noqa: B018 - registers the value; a document has no per-statement sources
        groups = _within(group_properties(rows, index, iris, lang, no_source), anchors)
        label = index.label(subject, lang)
        found.append(Outline(anchors[str(subject)], Link(str(subject), label, "#" + anchors[str(subject)]),
                             groups))
    return found
