"""VoID + DCAT at /.well-known/void: parses, counts match the data, links resolve on the server."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import requests
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, RDF, VOID


def fetch(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def void(live_url) -> Graph:
    return Graph().parse(data=fetch(live_url + "/.well-known/void").content, format="turtle")


@pytest.fixture(scope="module")
def dataset(void) -> URIRef:
    return next(void.subjects(RDF.type, VOID.Dataset))


def test_void_is_turtle_for_any_client(live_url):
    response = fetch(live_url + "/.well-known/void", Accept="*/*")
    assert response.headers["Content-Type"].startswith("text/turtle")
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize(("accept", "parse_as"), [("application/ld+json", "json-ld"),
                                                  ("application/rdf+xml", "xml"),
                                                  ("application/n-triples", "nt")])
def test_void_in_other_syntaxes(live_url, void, accept, parse_as):
    graph = Graph().parse(data=fetch(live_url + "/.well-known/void", Accept=accept).content, format=parse_as)
    assert len(graph) == len(void)


def test_void_triples_match_the_dump(live_url, void, dataset):
    dump = set(ox.parse(fetch(live_url + "/dump.nt").content, format=ox.RdfFormat.N_TRIPLES))
    assert int(void.value(dataset, VOID.triples)) == len(dump)


def test_void_class_partitions_match_the_dump(live_url, void, dataset):
    country = URIRef("https://schema.org/Country")
    parts = void.objects(dataset, VOID.classPartition)
    part = next(p for p in parts if void.value(p, VOID["class"]) == country)
    assert int(void.value(part, VOID.entities)) == 6


@pytest.mark.parametrize("term", [VOID.sparqlEndpoint, VOID.uriSpace, VOID.exampleResource, VOID.vocabulary,
                                  VOID.dataDump, VOID.propertyPartition, DCAT.distribution])
def test_void_has(void, dataset, term):
    assert void.value(dataset, term) is not None


def test_void_data_dumps_resolve(live_url, void, dataset):
    dumps = list(void.objects(dataset, VOID.dataDump))
    assert len(dumps) >= 4
    assert all(requests.head(str(d), timeout=30).status_code == 200 for d in dumps)


def test_void_sparql_endpoint_resolves(void, dataset):
    endpoint = str(void.value(dataset, VOID.sparqlEndpoint))
    assert requests.get(endpoint, params={"query": "ASK {}"}, timeout=30).status_code == 200


def test_void_example_resource_dereferences(live_url, void, dataset):
    example = str(void.value(dataset, VOID.exampleResource))
    path = example.removeprefix("https://w3id.org/tourkg")
    assert requests.get(live_url + path, timeout=30).status_code == 200


def test_landing_page_links_void(live_url):
    assert 'href="/.well-known/void"' in fetch(live_url + "/").text


@pytest.mark.parametrize(("accept", "content_type"), [("text/html", "text/html"), ("*/*", "text/turtle"),
                                                      ("application/rdf+xml", "application/rdf+xml"),
                                                      ("application/ld+json", "application/ld+json"),
                                                      ("application/n-triples", "application/n-triples")])
def test_ontology_by_accept(live_url, accept, content_type):
    response = fetch(live_url + "/ontology", Accept=accept)
    assert response.headers["Content-Type"].startswith(content_type)
    assert "Accept" in response.headers["Vary"]


def test_ontology_page_has_anchor_per_term(live_url):
    text = fetch(live_url + "/ontology", Accept="text/html").text
    assert 'id="Tour"' in text and 'id="hostLeader"' in text and "gira" in text


def test_shapes_are_turtle(live_url):
    response = fetch(live_url + "/shapes")
    assert response.headers["Content-Type"].startswith("text/turtle")
    assert len(Graph().parse(data=response.content, format="turtle")) > 0


def test_robots_points_to_sitemap(live_url):
    assert f"Sitemap: {live_url}/sitemap.xml" in fetch(live_url + "/robots.txt").text


def test_sitemap_lists_pages(live_url):
    text = fetch(live_url + "/sitemap.xml").text
    assert f"<loc>{live_url}/page/country/panama</loc>" in text


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("path", "heading"), [("/.well-known/void", "Dataset description"),
                                               ("/shapes", "SHACL shapes")])
def test_documents_are_readable_pages_for_browsers(live_url, path, heading):
    response = requests.get(live_url + path, headers={"Accept": BROWSER}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert f"<h1>{heading}</h1>" in response.text and "Accept" in response.headers["Vary"]


def test_void_page_shows_the_triple_count(live_url, void, dataset):
    count = str(void.value(dataset, VOID.triples))
    html = requests.get(live_url + "/.well-known/void", headers={"Accept": "text/html"}, timeout=10).text
    assert count in html


def test_generic_dataset_is_described_as_itself(generic_url):
    html = requests.get(generic_url + "/", headers={"Accept": BROWSER}, timeout=10).text
    assert "generic.ttl" in html and "Rubio" not in html and 'href="/ontology"' not in html
    assert requests.get(generic_url + "/ontology", timeout=10).status_code == 404


def test_generic_void_states_no_licence(generic_url):
    text = requests.get(generic_url + "/.well-known/void", timeout=10).text
    void = Graph().parse(data=text, format="turtle")
    assert not list(void.objects(None, URIRef("http://purl.org/dc/terms/license")))


def test_void_describes_linksets_to_wikidata_and_geonames(void, dataset):
    spaces = {str(void.value(void.value(ls, VOID.objectsTarget), VOID.uriSpace))
              for ls in void.objects(dataset, VOID.subset) if (ls, RDF.type, VOID.Linkset) in void}
    assert {"http://www.wikidata.org/entity/", "https://www.geonames.org/"} <= spaces


def test_construct_jsonld_has_an_inline_context(live_url):
    response = requests.get(live_url + "/sparql", params={
        "query": "CONSTRUCT WHERE { ?s <https://schema.org/name> ?o } LIMIT 3"},
        headers={"Accept": "application/ld+json"}, timeout=10)
    assert response.json()["@context"]["schema"] == "https://schema.org/"


def test_namespace_of_other_data_is_taken_from_the_data():
    from conftest import DATA, running_server

    args = ("--data", str(DATA / "generic.ttl"), "--shapes", str(DATA / "generic.shapes.ttl"))
    with running_server(*args) as url:
        home = requests.get(url + "/", headers={"Accept": BROWSER}, timeout=10).text
        see_other = requests.get(url + "/id/person/ada", allow_redirects=False, timeout=10)
        void = Graph().parse(data=requests.get(url + "/.well-known/void", timeout=10).text, format="turtle")
    assert 'href="/page/person/ada"' in home and "http://example.org/" in home
    assert see_other.status_code == 303
    assert {str(o) for o in void.objects(None, VOID.uriSpace)} == {"http://example.org/id/"}
