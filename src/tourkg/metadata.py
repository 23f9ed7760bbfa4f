"""Descriptions of the dataset as a whole: VoID + DCAT (``/.well-known/void``), the landing page's entry
points, the sitemap's page list and the ontology's human documentation. Plain functions, no Flask.

VoID: https://www.w3.org/TR/void/ ; DCAT: https://www.w3.org/TR/vocab-dcat-3/
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from tourkg import formats
from tourkg.config import Settings
from tourkg.describe import (
    Index,
    Link,
    link_to,
    local_name,
)
from tourkg.iris import IriMap
from tourkg.namespaces import (
    DCAT,
    DCT,
    FOAF,
    OWL,
    PROV,
    RDF,
    RDFS,
    SCHEMA,
    SKOS,
    VOID,
    ontology_namespace,
    prefixes,
)
from tourkg.serialize import stable_bnode
from tourkg.store import PAGE_VALUES, Store

IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
#: The dumps offered at ``/dump.{ext}``, in the order the landing page lists them.
DUMP_FORMATS = tuple(formats.BY_NAME[n] for n in ("turtle", "ntriples", "jsonld", "rdfxml", "trig", "nquads"))
#: Namespaces that describe documents and vocabularies rather than the subject matter.
_META = (str(OWL), str(RDFS), str(RDF), "http://www.w3.org/ns/shacl#", str(PROV))


def dataset_iri(site: str) -> str:
    """The IRI of the dataset: a hash IRI on the VoID document, so it dereferences."""
    return site + ".well-known/void#dataset"


def _namespace(iri: str) -> str:
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1]


def void_graph(store: Store, iris: IriMap, settings: Settings, site: str,
               entries: list[EntryPoint] | None = None, endpoint: str = "") -> Graph:
    """The VoID + DCAT description of the served dataset.

    :param site: the serving origin (``http://host:port/``), so endpoint and dump links resolve here.
    :param entries: the landing page's entry points, when already known (their first items are VoID's
        example resources).
    :param endpoint: the SPARQL endpoint to name (``""``: none).
    """
    stats = store.stats()
    graph = Graph()
    for prefix, namespace in prefixes(iris.base).items():
        graph.bind(prefix, namespace, override=True)
    ds = URIRef(dataset_iri(site))
    graph.add((ds, RDF.type, VOID.Dataset))
    graph.add((ds, RDF.type, DCAT.Dataset))
    if settings.license:
        graph.add((ds, DCT.license, URIRef(settings.license)))
    for p, o in ((DCT.title, Literal(settings.title, lang="en")),
                 (DCT.description, Literal(settings.description, lang="en")),
                 (VOID.triples, Literal(stats.triples)),
                 (VOID.distinctSubjects, Literal(stats.subjects)),
                 (VOID.distinctObjects, Literal(stats.objects)),
                 (VOID.classes, Literal(len(stats.classes))),
                 (VOID.properties, Literal(len(stats.properties))),
                 (VOID.uriSpace, Literal(iris.base + "id/")),
                 (DCAT.landingPage, URIRef(site)), (FOAF.homepage, URIRef(site))):
        graph.add((ds, p, o))
    if endpoint:
        graph.add((ds, VOID.sparqlEndpoint, URIRef(endpoint)))
    if settings.publisher:
        publisher = stable_bnode("publisher")
        graph.add((ds, DCT.publisher, publisher))
        graph.add((publisher, RDF.type, FOAF.Organization))
        graph.add((publisher, FOAF.name, Literal(settings.publisher)))
    for example in example_resources(store, iris, entries)[:3]:
        graph.add((ds, VOID.exampleResource, URIRef(example)))
    for vocabulary in sorted({_namespace(i) for i in (*stats.classes, *stats.properties)}):
        graph.add((ds, VOID.vocabulary, URIRef(vocabulary)))
    for source in sources(store):
        graph.add((ds, DCT.source, URIRef(source)))
    _linksets(graph, ds, store)
    _partitions(graph, ds, stats.classes, stats.properties)
    _distributions(graph, ds, site, settings.license)
    return graph


#: Properties that link a resource to the same thing in another dataset (VoID §5, linksets).
LINK_PREDICATES = (OWL.sameAs, SCHEMA.sameAs, SKOS.exactMatch)


def _linksets(graph: Graph, ds: Node, store: Store) -> None:
    """One ``void:Linkset`` per link predicate and target namespace (Wikidata, GeoNames, ...), so a
    consumer sees how the dataset connects to the rest of the Web of Data."""
    values = " ".join(f"<{p}>" for p in LINK_PREDICATES)
    # Counted by the engine, so a dataset with a million links costs one aggregate, not a million rows.
    rows = store.select(f"SELECT ?p ?ns (COUNT(*) AS ?n) WHERE {{ {{ SELECT DISTINCT ?s ?p ?o WHERE {{ "
                        f"VALUES ?p {{ {values} }} ?s ?p ?o FILTER(isIRI(?o)) }} }} "
                        'BIND(REPLACE(STR(?o), "[^/#]*$", "") AS ?ns) } GROUP BY ?p ?ns')
    counts = {(str(row["p"]), str(row["ns"])): int(row["n"]) for row in rows}
    for (predicate, namespace), count in sorted(counts.items()):
        linkset, target = stable_bnode("linkset", predicate, namespace), stable_bnode("target", namespace)
        graph.add((ds, VOID.subset, linkset))
        for p, o in ((RDF.type, VOID.Linkset), (VOID.subjectsTarget, ds), (VOID.objectsTarget, target),
                     (VOID.linkPredicate, URIRef(predicate)), (VOID.triples, Literal(count))):
            graph.add((linkset, p, o))
        graph.add((target, RDF.type, VOID.Dataset))
        graph.add((target, VOID.uriSpace, Literal(namespace)))


#: Most class and property partitions VoID lists (the most used first): the description stays small
#: whatever the data.
MAX_PARTITIONS = 500


def _largest(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(sorted(counts.items(), key=lambda item: -item[1])[:MAX_PARTITIONS])


def _partitions(graph: Graph, ds: Node, classes: dict[str, int], properties: dict[str, int]) -> None:
    """``void:classPartition`` and ``void:propertyPartition``, one blank node each (VoID §4.5, §4.6)."""
    for cls, count in _largest(classes):
        part = stable_bnode("class-partition", cls)
        graph.add((ds, VOID.classPartition, part))
        graph.add((part, VOID["class"], URIRef(cls)))
        graph.add((part, VOID.entities, Literal(count)))
    for prop, count in _largest(properties):
        part = stable_bnode("property-partition", prop)
        graph.add((ds, VOID.propertyPartition, part))
        graph.add((part, VOID.property, URIRef(prop)))
        graph.add((part, VOID.triples, Literal(count)))


def _distributions(graph: Graph, ds: Node, site: str, license_iri: str) -> None:
    """One ``void:dataDump`` and one ``dcat:Distribution`` per dump format."""
    for fmt in DUMP_FORMATS:
        url = URIRef(f"{site}dump.{fmt.extension}")
        dist = URIRef(f"{site}.well-known/void#dump-{fmt.extension}")
        graph.add((ds, VOID.dataDump, url))
        graph.add((ds, DCAT.distribution, dist))
        graph.add((dist, RDF.type, DCAT.Distribution))
        graph.add((dist, DCT.title, Literal(f"{fmt.label} dump", lang="en")))
        graph.add((dist, DCAT.downloadURL, url))
        graph.add((dist, DCAT.mediaType, URIRef(IANA_MEDIA_TYPES + fmt.media_type)))
        graph.add((dist, DCT["format"], URIRef(fmt.iri or url)))
        if license_iri:
            graph.add((dist, DCT.license, URIRef(license_iri)))


def sources(store: Store) -> list[str]:
    """The documents the named graphs were derived from (their web address when known)."""
    rows = store.select(f"SELECT DISTINCT ?src ?url WHERE {{ ?g <{PROV.wasDerivedFrom}> ?src . "
                        f"OPTIONAL {{ ?src <{SCHEMA.url}> ?url }} }}")
    return sorted({str(r.get("url", r["src"])) for r in rows})


@dataclass(frozen=True)
class EntryPoint:
    """A class of resources listed on the landing page: the first few, their number and the full list."""

    title: str
    cls: str
    items: tuple[Link, ...]
    total: int = 0
    more_href: str | None = None


#: The landing page's sections for the tour, in order; other datasets get one section per class.
_ENTRY_CLASSES = (("Tour", "ontology:Tour"), ("Countries", str(SCHEMA.Country)),
                  ("People", str(SCHEMA.Person)), ("Issues", str(SKOS.Concept)), ("Visits", "ontology:Visit"),
                  ("Outcomes", "ontology:Outcome"))


def entry_points(store: Store, iris: IriMap, lang: str = "en", limit: int = PAGE_VALUES) -> list[EntryPoint]:
    """The landing page's entry points: the tour, countries, people and issues (or every class), at most
    ``limit`` of each with their number and a link to the paginated list of all."""
    classes = store.stats().classes
    ontology = str(ontology_namespace(iris.base))
    wanted = [(t, c.replace("ontology:", ontology)) for t, c in _ENTRY_CLASSES]
    wanted = [(t, c) for t, c in wanted if c in classes] or [
        (local_name(c), c) for c in sorted(classes) if not c.startswith(_META)][:limit]
    found = []
    for title, cls in wanted:
        # Things with a position (the visits) in that order, as a reader follows the itinerary; the
        # rest alphabetically.
        total = classes.get(cls, 0)
        if total <= limit * 4:
            rows = store.select(f"SELECT ?s (MIN(?p) AS ?position) WHERE {{ ?s a <{cls}> FILTER(isIRI(?s)) "
                                f"OPTIONAL {{ ?s <{SCHEMA.position}> ?p }} }} GROUP BY ?s "
                                f"ORDER BY (!BOUND(?position)) ?position ?s LIMIT {limit}")
        else:  # a large class: the first members the engine finds, without sorting all of them
            rows = store.select(f"SELECT ?s WHERE {{ ?s a <{cls}> FILTER(isIRI(?s)) }} LIMIT {limit}")
        index = Index(store.labels([str(r["s"]) for r in rows]).quads())
        entries = []
        for r in rows:
            link = link_to(str(r["s"]), index.label(r["s"], lang), iris)
            position = r.get("position")
            entries.append(((position is None, float(position) if position is not None else 0.0,
                             link.text.casefold()), link))
        entries.sort(key=lambda entry: entry[0])
        total = total or len(entries)
        more = iris.list_path(cls, str(RDF.type), incoming=True) if total > len(entries) else None
        found.append(EntryPoint(title, cls, tuple(link for _key, link in entries), total, more))
    return found


def example_resources(store: Store, iris: IriMap, entries: list[EntryPoint] | None = None) -> list[str]:
    """A few resources to show first (VoID ``exampleResource``): the first entry point of each class."""
    entries = entry_points(store, iris) if entries is None else entries
    return [entry.items[0].iri for entry in entries if entry.items]


def page_iris(store: Store, iris: IriMap) -> list[str]:
    """Every IRI with its own page (for the sitemap and the static export): local subjects under
    ``{base}id/``, sorted. The engine process walks its index for them (a second on a million triples,
    where the SPARQL ``STRSTARTS`` filter takes several); other stores answer the query."""
    prefix = iris.base + "id/"
    walk = getattr(store, "subjects_under", None)
    if walk is not None:
        found = walk(prefix)
    else:
        rows = store.select(f"SELECT DISTINCT ?s WHERE {{ ?s ?p ?o FILTER(isIRI(?s) && STRSTARTS(STR(?s), "
                            f"{_string(prefix)})) }} ORDER BY ?s")
        found = [str(r["s"]) for r in rows]
    return [iri for iri in found if iris.id_rest(iri) is not None]


def _string(text: str) -> str:
    """A SPARQL string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
