"""The ontology is valid OWL 2 DL that Protégé-grade tools load: checked structurally in Python, and by
loading it with the OWL API and classifying it with HermiT (the reasoner Protégé ships) via owlready2."""

from __future__ import annotations

import os
import shutil

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, XSD

from conftest import ROOT

ONTOLOGY = ROOT / "ontology" / "tourkg.ttl"
TKO = "https://w3id.org/tourkg/ontology#"
#: XSD datatypes of the OWL 2 datatype map (OWL 2 Structural Specification §4); xsd:date is not one.
OWL2_XSD = {XSD[n] for n in (
    "decimal integer nonNegativeInteger nonPositiveInteger positiveInteger negativeInteger long int short "
    "byte unsignedLong unsignedInt unsignedShort unsignedByte double float string normalizedString token "
    "language Name NCName NMTOKEN boolean hexBinary base64Binary anyURI dateTime dateTimeStamp").split()}
PROPERTY_TYPES = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return Graph().parse(ONTOLOGY)


def own_terms(graph: Graph) -> set[URIRef]:
    return {s for s in graph.subjects() if isinstance(s, URIRef) and str(s).startswith(TKO)}


def test_header_has_title_version_license_and_prefix(graph):
    header = URIRef("https://w3id.org/tourkg/ontology")
    for prop in ("http://purl.org/dc/terms/title", "http://purl.org/dc/terms/license",
                 str(OWL.versionInfo), "http://purl.org/vocab/vann/preferredNamespacePrefix"):
        assert graph.value(header, URIRef(prop)) is not None, prop


def test_every_term_is_declared_once_as_class_or_one_kind_of_property(graph):
    for term in own_terms(graph):
        kinds = {t for t in graph.objects(term, RDF.type) if t in (OWL.Class, *PROPERTY_TYPES)}
        assert len(kinds) == 1, f"{term} is declared as {kinds}"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_term_has_a_label_in(graph, lang):
    for term in own_terms(graph):
        labels = [o for o in graph.objects(term, RDFS.label) if isinstance(o, Literal) and o.language == lang]
        assert labels, f"{term} has no rdfs:label@{lang}"


def test_every_term_has_a_comment_and_is_defined_by_the_ontology(graph):
    for term in own_terms(graph):
        assert graph.value(term, RDFS.comment) is not None and graph.value(term, RDFS.isDefinedBy) is not None


def test_datatype_ranges_are_in_the_owl2_datatype_map(graph):
    for prop in graph.subjects(RDF.type, OWL.DatatypeProperty):
        for rng in graph.objects(prop, RDFS.range):
            assert rng in OWL2_XSD or rng in (RDF.langString, RDF.PlainLiteral, RDFS.Literal), (prop, rng)


JAVA = shutil.which("java")
REQUIRED = os.environ.get("TOURKG_REQUIRE_JAVA") == "1"


NO_JAVA = "no Java runtime for HermiT: apt-get install default-jre-headless (CI installs it)"


@pytest.mark.skipif(not JAVA and not REQUIRED, reason=NO_JAVA)
def test_owl_api_loads_it_and_hermit_finds_it_consistent(graph, tmp_path):
    assert JAVA, "TOURKG_REQUIRE_JAVA=1 but there is no java: apt-get install default-jre-headless"
    import owlready2

    path = tmp_path / "tourkg.nt"
    graph.serialize(path, format="nt", encoding="utf-8")
    world = owlready2.World()
    ontology = world.get_ontology(path.as_uri()).load()
    with ontology:
        owlready2.sync_reasoner(world, infer_property_values=False, debug=0)
    assert list(world.inconsistent_classes()) == []
