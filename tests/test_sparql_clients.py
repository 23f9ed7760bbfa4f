"""Independent SPARQL client libraries used as real clients against the live server on loopback:
SPARQLWrapper, rdflib's SPARQLStore / SPARQLConnector, and plain requests + pyoxigraph."""

import pyoxigraph as ox
import pytest
import requests
from rdflib import Graph, Literal, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, JSONLD, N3, TSV, TURTLE, XML, SPARQLWrapper

TOUR = URIRef("https://w3id.org/tourkg/id/tour/rubio-latin-america-tour")
VISITS = """PREFIX tko: <https://w3id.org/tourkg/ontology#>
SELECT ?visit ?position { ?visit a tko:Visit ; tko:itineraryPosition ?position } ORDER BY ?position"""
CONSTRUCT = f"CONSTRUCT WHERE {{ <{TOUR}> ?p ?o }}"


def wrapper(url, query, fmt, method="GET"):
    client = SPARQLWrapper(url + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(fmt)
    client.setMethod(method)
    return client.query()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sparqlwrapper_select_json(live_url, method):
    result = wrapper(live_url, VISITS, JSON, method).convert()
    assert [b["visit"]["value"].rsplit("/", 1)[1] for b in result["results"]["bindings"]][0] == "panama"


def test_sparqlwrapper_select_xml(live_url):
    document = wrapper(live_url, VISITS, XML).convert()
    assert len(document.getElementsByTagName("result")) == 5


@pytest.mark.parametrize("fmt", [CSV, TSV])
def test_sparqlwrapper_select_csv_tsv(live_url, fmt):
    assert wrapper(live_url, VISITS, fmt).convert().decode().count("\n") == 6


def test_sparqlwrapper_ask(live_url):
    assert wrapper(live_url, f"ASK {{ <{TOUR}> ?p ?o }}", JSON).convert()["boolean"] is True


@pytest.mark.parametrize("fmt", [XML, TURTLE, N3, JSONLD])
def test_sparqlwrapper_construct(live_url, fmt):
    graph = wrapper(live_url, CONSTRUCT, fmt).convert()
    if not isinstance(graph, Graph):
        graph = Graph().parse(data=graph, format="turtle" if fmt in (TURTLE, N3) else "json-ld")
    assert (TOUR, None, None) in graph


def test_sparqlwrapper_post_directly(live_url):
    client = SPARQLWrapper(live_url + "/sparql")
    client.setQuery(VISITS)
    client.setReturnFormat(JSON)
    client.setMethod("POST")
    client.setRequestMethod("postdirectly")
    assert len(client.query().convert()["results"]["bindings"]) == 5


def test_sparqlwrapper_update_refused(live_url):
    from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

    client = SPARQLWrapper(live_url + "/sparql")
    client.setQuery("INSERT DATA { <http://e/s> <http://e/p> 1 }")
    client.setMethod("POST")
    with pytest.raises((SPARQLWrapperException, Exception)) as caught:
        client.query()
    assert "403" in str(caught.value) or "read-only" in str(caught.value)


def test_rdflib_sparqlstore_select(live_url):
    store = SPARQLStore(live_url + "/sparql")
    rows = list(Graph(store=store).query(VISITS))
    assert [int(r.position) for r in rows] == [1, 2, 3, 4, 5]


def test_rdflib_sparqlstore_triples(live_url):
    graph = Graph(store=SPARQLStore(live_url + "/sparql"))
    names = set(graph.objects(TOUR, URIRef("https://schema.org/name")))
    assert Literal("Marco Rubio's diplomatic tour of Latin America", lang="en") in names


def test_rdflib_sparqlstore_construct(live_url):
    result = Graph(store=SPARQLStore(live_url + "/sparql")).query(CONSTRUCT)
    assert (TOUR, None, None) in result.graph


def test_rdflib_sparqlstore_post(live_url):
    store = SPARQLStore(live_url + "/sparql", method="POST", returnFormat="json")
    assert len(list(Graph(store=store).query(VISITS))) == 5


def test_rdflib_sparqlstore_ask(live_url):
    result = Graph(store=SPARQLStore(live_url + "/sparql")).query(f"ASK {{ <{TOUR}> ?p ?o }}")
    assert result.askAnswer is True


def test_requests_and_oxigraph_parser(live_url):
    response = requests.post(live_url + "/sparql", data=VISITS.encode(),
                             headers={"Content-Type": "application/sparql-query",
                                      "Accept": "application/sparql-results+xml"})
    solutions = ox.parse_query_results(response.content, format=ox.QueryResultsFormat.XML)
    assert [s["position"].value for s in solutions] == ["1", "2", "3", "4", "5"]
