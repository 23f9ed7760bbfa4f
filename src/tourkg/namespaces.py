"""Every namespace tourkg uses, declared once."""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SH, SKOS, VOID, XSD

from tourkg.config import CANONICAL_BASE

SCHEMA = Namespace("https://schema.org/")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VANN = Namespace("http://purl.org/vocab/vann/")
GEO = Namespace("http://www.w3.org/2003/01/geo/wgs84_pos#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
WIKIDATA = Namespace("http://www.wikidata.org/entity/")
DCT = DCTERMS

__all__ = [
    "DCAT", "DCT", "DCTERMS", "FOAF", "FORMATS", "GEO", "OWL", "PROV", "RDF", "RDFS", "SCHEMA", "SD", "SH",
    "SKOS", "VANN", "VOID", "WIKIDATA", "XSD", "ontology_namespace", "data_namespace", "prefixes",
    "served_prefixes",
]


def ontology_namespace(base: str = CANONICAL_BASE) -> Namespace:
    """The ontology's namespace under ``base`` (hash IRIs: every term dereferences to ``/ontology``)."""
    return Namespace(base + "ontology#")


def data_namespace(base: str = CANONICAL_BASE) -> Namespace:
    """The namespace of the dataset's resources, ``{base}id/``."""
    return Namespace(base + "id/")


TKO = ontology_namespace()
TK = data_namespace()

_STANDARD = {
    "rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL), "xsd": str(XSD), "skos": str(SKOS),
    "schema": str(SCHEMA), "dct": str(DCTERMS), "prov": str(PROV), "void": str(VOID), "dcat": str(DCAT),
    "sd": str(SD), "sh": str(SH), "vann": str(VANN), "foaf": str(FOAF), "wd": str(WIKIDATA),
}


def served_prefixes(base: str = CANONICAL_BASE) -> dict[str, str]:
    """The prefixes written into documents: all but ``tk:`` (``{base}id/``), whose local names hold
    slashes that Turtle would have to escape (``tk:country\\/panama``)."""
    return {p: ns for p, ns in prefixes(base).items() if p != "tk"}


def prefixes(base: str = CANONICAL_BASE) -> dict[str, str]:
    """Prefix → namespace map used by every serializer and by the example queries."""
    return {"tk": base + "id/", "tko": base + "ontology#", **_STANDARD}
