"""SPARQL 1.1 Protocol conformance against a real server on loopback, after the W3C protocol test suite
(https://www.w3.org/2009/sparql/docs/tests/data-sparql11/protocol/): every method, media type, dataset
parameter and error status."""

import csv
import io
import json
from xml.etree import ElementTree

import pyoxigraph as ox
import pytest
import requests
from rdflib import Graph, URIRef

from tourkg.namespaces import RDFS, SD, VOID

TOUR = "https://w3id.org/tourkg/id/tour/rubio-latin-america-tour"
GRAPH_TOUR = "https://w3id.org/tourkg/id/graph/tour"
GRAPH_ANEWS = "https://w3id.org/tourkg/id/graph/ref-anews"
SELECT = "SELECT ?visit WHERE { ?visit a <https://w3id.org/tourkg/ontology#Visit> } ORDER BY ?visit"
ASK = f"ASK {{ <{TOUR}> ?p ?o }}"
CONSTRUCT = f"CONSTRUCT WHERE {{ <{TOUR}> ?p ?o }}"
DESCRIBE = f"DESCRIBE <{TOUR}>"
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
JSON = "application/sparql-results+json"


def sparql(url):
    return url + "/sparql"


def rows(response):
    return response.json()["results"]["bindings"]


# -- query operation: GET, POST form, POST direct (§2.1.1-2.1.3) ------------------------------------------
def test_query_via_get(live_url):
    response = requests.get(sparql(live_url), params={"query": SELECT}, headers={"Accept": JSON})
    assert response.status_code == 200 and len(rows(response)) == 5


def test_query_via_post_form(live_url):
    response = requests.post(sparql(live_url), data={"query": SELECT}, headers={"Accept": JSON})
    assert response.status_code == 200 and len(rows(response)) == 5


def test_query_via_post_direct(live_url):
    response = requests.post(sparql(live_url), data=SELECT.encode(), headers={"Content-Type": DIRECT,
                                                                              "Accept": JSON})
    assert response.status_code == 200 and len(rows(response)) == 5


def test_query_via_post_direct_with_charset(live_url):
    response = requests.post(sparql(live_url), data=ASK.encode(),
                             headers={"Content-Type": DIRECT + "; charset=UTF-8", "Accept": JSON})
    assert response.json()["boolean"] is True


def test_post_form_with_params_in_url_and_body(live_url):
    response = requests.post(sparql(live_url), params={"format": "csv"}, data={"query": SELECT})
    assert response.headers["Content-Type"].startswith("text/csv")


def test_head_has_headers_and_no_body(live_url):
    response = requests.head(sparql(live_url), params={"query": SELECT}, headers={"Accept": JSON})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(JSON)
    assert response.content == b""


def test_default_graph_holds_everything(live_url):
    count = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    response = requests.get(sparql(live_url), params={"query": count}, headers={"Accept": JSON})
    assert int(rows(response)[0]["n"]["value"]) > 500


def test_named_graphs_queryable_with_graph(live_url):
    query = f"SELECT DISTINCT ?g {{ GRAPH ?g {{ <{TOUR}> ?p ?o }} }}"
    response = requests.get(sparql(live_url), params={"query": query}, headers={"Accept": JSON})
    assert {GRAPH_TOUR, GRAPH_ANEWS} <= {b["g"]["value"] for b in rows(response)}


# -- dataset (§2.1.4) -----------------------------------------------------------------------------------
def dates(url, **params):
    query = f"SELECT ?d {{ <{TOUR}> <https://schema.org/startDate> ?d }}"
    response = requests.get(sparql(url), params={"query": query, **params}, headers={"Accept": JSON})
    assert response.status_code == 200, response.text
    return rows(response)


def test_default_graph_uri_restricts_default_graph(live_url):
    assert dates(live_url, **{"default-graph-uri": GRAPH_TOUR}) == []


def test_default_graph_uri_selects_graph(live_url):
    assert len(dates(live_url, **{"default-graph-uri": GRAPH_ANEWS})) == 1


def test_default_graph_uri_repeatable(live_url):
    assert len(dates(live_url, **{"default-graph-uri": [GRAPH_TOUR, GRAPH_ANEWS]})) == 1


def test_named_graph_uri_selects_named_graphs(live_url):
    query = "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }"
    response = requests.post(sparql(live_url), data={"query": query, "named-graph-uri": GRAPH_ANEWS},
                             headers={"Accept": JSON})
    assert [b["g"]["value"] for b in rows(response)] == [GRAPH_ANEWS]


def test_protocol_dataset_overrides_from(live_url):
    query = f"SELECT ?d FROM <{GRAPH_ANEWS}> {{ <{TOUR}> <https://schema.org/startDate> ?d }}"
    response = requests.get(sparql(live_url), params={"query": query, "default-graph-uri": GRAPH_TOUR},
                            headers={"Accept": JSON})
    assert rows(response) == []


def test_from_selects_default_graph(live_url):
    query = f"SELECT ?d FROM <{GRAPH_ANEWS}> {{ <{TOUR}> <https://schema.org/startDate> ?d }}"
    response = requests.get(sparql(live_url), params={"query": query}, headers={"Accept": JSON})
    assert len(rows(response)) == 1


@pytest.fixture(scope="module")
def watched_url():
    """A URL on loopback that counts the requests it gets: a graph named by it must never be fetched."""
    import http.server
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/turtle")
            self.end_headers()
            self.wfile.write(b"<http://example.org/s> <http://example.org/p> <http://example.org/o> .\n")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/graph.ttl", hits
    server.shutdown()


# The W3C protocol tests query_get and query_post_form: a default-graph-uri the service does not hold is an
# empty graph (SPARQL 1.1 Query §13.2), so ASK {} is true and every pattern matches nothing.
def test_unknown_default_graph_is_empty_by_get(live_url, watched_url):
    url, hits = watched_url
    response = requests.get(sparql(live_url), params={"query": "ASK {}", "default-graph-uri": url},
                            headers={"Accept": JSON})
    assert response.status_code == 200 and response.json()["boolean"] is True
    response = requests.get(sparql(live_url), params={"query": SELECT, "default-graph-uri": url},
                            headers={"Accept": JSON})
    assert response.status_code == 200 and rows(response) == []
    assert hits == []


def test_unknown_default_graph_is_empty_by_post_form(live_url, watched_url):
    url, hits = watched_url
    response = requests.post(sparql(live_url), data={"query": "ASK { ?s ?p ?o }", "default-graph-uri": url},
                             headers={"Accept": JSON})
    assert response.status_code == 200 and response.json()["boolean"] is False
    assert hits == []


def test_unknown_named_graph_is_empty_by_post_direct(live_url, watched_url):
    url, hits = watched_url
    response = requests.post(sparql(live_url) + "?named-graph-uri=" + requests.utils.quote(url, safe=""),
                             data="SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
                             headers={"Content-Type": DIRECT, "Accept": JSON})
    assert response.status_code == 200 and rows(response) == []
    assert hits == []


def test_unknown_graph_beside_a_held_one_adds_nothing(live_url, watched_url):
    url, hits = watched_url
    query = f"SELECT ?d WHERE {{ <{TOUR}> <https://schema.org/startDate> ?d }}"
    both = requests.get(sparql(live_url), params={"query": query, "default-graph-uri": [GRAPH_ANEWS, url]},
                        headers={"Accept": JSON})
    alone = requests.get(sparql(live_url), params={"query": query, "default-graph-uri": GRAPH_ANEWS},
                         headers={"Accept": JSON})
    assert both.status_code == 200 and rows(both) == rows(alone) and len(rows(alone)) == 1
    assert hits == []


def test_unknown_from_graphs_are_empty(live_url, watched_url):
    url, hits = watched_url
    query = (f"SELECT * FROM <{url}> FROM NAMED <{url}> "
             "WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
    response = requests.get(sparql(live_url), params={"query": query}, headers={"Accept": JSON})
    assert response.status_code == 200 and rows(response) == []
    assert hits == []


# -- result formats, by Accept and by format= ----------------------------------------------------------
def parse_results(body, engine_format):
    if engine_format == "CSV":  # lossy by design: Oxigraph will not read it back, the csv module does
        return list(csv.DictReader(io.StringIO(body.decode())))
    return list(ox.parse_query_results(body, format=getattr(ox.QueryResultsFormat, engine_format)))


@pytest.mark.parametrize(("accept", "engine"), [
    ("application/sparql-results+json", "JSON"),
    ("application/sparql-results+xml", "XML"),
    ("text/csv", "CSV"),
    ("text/tab-separated-values", "TSV"),
])
def test_select_formats_parse_back(live_url, accept, engine):
    response = requests.get(sparql(live_url), params={"query": SELECT}, headers={"Accept": accept})
    assert response.headers["Content-Type"].startswith(accept)
    assert len(parse_results(response.content, engine)) == 5


@pytest.mark.parametrize(("accept", "engine"), [
    ("application/sparql-results+json", "JSON"),
    ("application/sparql-results+xml", "XML"),
])
def test_ask_formats_parse_back(live_url, accept, engine):
    response = requests.get(sparql(live_url), params={"query": ASK}, headers={"Accept": accept})
    result = ox.parse_query_results(response.content, format=getattr(ox.QueryResultsFormat, engine))
    assert bool(result) is True


@pytest.mark.parametrize(("headers", "params"), [
    ({"Accept": "text/csv"}, {}),
    ({"Accept": "text/tab-separated-values"}, {}),
    ({}, {"format": "csv"}),
    ({}, {"format": "tsv"}),
])
def test_ask_in_csv_or_tsv_only_is_406(live_url, headers, params):
    response = requests.get(sparql(live_url), params={"query": ASK, **params}, headers=headers)
    assert response.status_code == 406 and "JSON and SPARQL XML" in response.text


def test_ask_with_csv_preferred_falls_back_to_json(live_url):
    response = requests.get(sparql(live_url), params={"query": ASK},
                            headers={"Accept": "text/csv, */*;q=0.1"})
    assert response.headers["Content-Type"].startswith(JSON) and response.json()["boolean"] is True


@pytest.mark.parametrize(("accept", "rdflib_format"), [
    ("text/turtle", "turtle"),
    ("application/n-triples", "nt"),
    ("application/ld+json", "json-ld"),
    ("application/rdf+xml", "xml"),
    ("application/trig", "trig"),
    ("application/n-quads", "nquads"),
])
@pytest.mark.parametrize("query", [CONSTRUCT, DESCRIBE])
def test_graph_formats_parse_back(live_url, accept, rdflib_format, query):
    response = requests.get(sparql(live_url), params={"query": query}, headers={"Accept": accept})
    assert response.headers["Content-Type"].startswith(accept)
    graph = Graph()
    graph.parse(data=response.content, format=rdflib_format)
    assert (URIRef(TOUR), None, None) in graph


@pytest.mark.parametrize(("name", "media_type"), [
    ("json", "application/sparql-results+json"), ("xml", "application/sparql-results+xml"),
    ("csv", "text/csv"), ("tsv", "text/tab-separated-values"),
    ("application/sparql-results+json", "application/sparql-results+json"),
])
def test_format_parameter_for_select(live_url, name, media_type):
    response = requests.get(sparql(live_url), params={"query": SELECT, "format": name},
                            headers={"Accept": "text/html"})
    assert response.headers["Content-Type"].startswith(media_type)


@pytest.mark.parametrize(("name", "media_type"), [
    ("ttl", "text/turtle"), ("turtle", "text/turtle"), ("nt", "application/n-triples"),
    ("jsonld", "application/ld+json"), ("rdf", "application/rdf+xml"), ("rdfxml", "application/rdf+xml"),
    ("xml", "application/rdf+xml"), ("trig", "application/trig"), ("nq", "application/n-quads"),
])
def test_format_parameter_for_construct(live_url, name, media_type):
    response = requests.get(sparql(live_url), params={"query": CONSTRUCT, "format": name})
    assert response.headers["Content-Type"].startswith(media_type)


def remote_contexts(node):
    """Every @context given by reference (a string), anywhere in a JSON-LD document."""
    if isinstance(node, list):
        return [c for item in node for c in remote_contexts(item)]
    if not isinstance(node, dict):
        return []
    context = node.get("@context", {})
    found = [c for c in (context if isinstance(context, list) else [context]) if isinstance(c, str)]
    return found + [c for value in node.values() for c in remote_contexts(value)]


@pytest.mark.parametrize("query", [CONSTRUCT, DESCRIBE])
def test_jsonld_is_self_contained(live_url, query):
    accept = {"Accept": "application/ld+json"}
    response = requests.get(sparql(live_url), params={"query": query}, headers=accept)
    assert remote_contexts(json.loads(response.text)) == []


def test_service_description_jsonld_is_self_contained(live_url):
    response = requests.get(sparql(live_url), headers={"Accept": "application/ld+json"})
    assert remote_contexts(json.loads(response.text)) == []


def test_csv_is_byte_exact(live_url):
    query = "SELECT ?n { VALUES ?n { 1 2 } }"
    response = requests.get(sparql(live_url), params={"query": query, "format": "csv"})
    assert response.content == b"n\r\n1\r\n2\r\n"


def test_results_vary_on_accept(live_url):
    response = requests.get(sparql(live_url), params={"query": SELECT})
    assert "Accept" in response.headers["Vary"]


def test_star_accept_gets_json(live_url):
    response = requests.get(sparql(live_url), params={"query": SELECT}, headers={"Accept": "*/*"})
    assert response.headers["Content-Type"].startswith(JSON)


def test_nothing_acceptable_is_406_listing_offers(live_url):
    response = requests.get(sparql(live_url), params={"query": SELECT}, headers={"Accept": "image/png"})
    assert response.status_code == 406 and JSON in response.text


def test_select_with_graph_only_accept_is_406(live_url):
    response = requests.get(sparql(live_url), params={"query": SELECT}, headers={"Accept": "text/turtle"})
    assert response.status_code == 406 and "text/csv" in response.text


def test_unknown_format_parameter_is_406(live_url):
    response = requests.get(sparql(live_url), params={"query": SELECT, "format": "docx"})
    assert response.status_code == 406 and "tsv" in response.text


# -- errors --------------------------------------------------------------------------------------------
def test_two_queries_is_400(live_url):
    response = requests.get(sparql(live_url), params={"query": [SELECT, ASK]})
    assert response.status_code == 400


def test_query_in_url_and_body_is_400(live_url):
    response = requests.post(sparql(live_url), params={"query": ASK}, data={"query": SELECT})
    assert response.status_code == 400


def test_query_param_with_direct_body_is_400(live_url):
    response = requests.post(sparql(live_url), params={"query": ASK}, data=SELECT.encode(),
                             headers={"Content-Type": DIRECT})
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "multipart/form-data; boundary=x",
                                          None])
def test_post_with_other_media_type_is_415(live_url, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    request = requests.Request("POST", sparql(live_url), data=SELECT.encode(), headers=headers).prepare()
    if content_type is None:
        request.headers.pop("Content-Type", None)
    response = requests.Session().send(request)
    assert response.status_code == 415


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_non_utf8_percent_encoded_query_is_400(live_url, method):
    encoded = "query=SELECT%20*%20%7B%3Fs%20%3Fp%20%22%FF%22%7D"
    if method == "GET":
        response = requests.get(f"{sparql(live_url)}?{encoded}", headers={"Accept": JSON})
    else:
        response = requests.post(sparql(live_url), data=encoded,
                                 headers={"Content-Type": FORM, "Accept": JSON})
    assert response.status_code == 400
    assert "UTF-8" in response.text and "'query'" in response.text and "offset 17" in response.text


def test_non_utf8_direct_post_is_400(live_url):
    response = requests.post(sparql(live_url), data="SELECT * { ?s ?p \"é\" }".encode("latin-1"),
                             headers={"Content-Type": DIRECT})
    assert response.status_code == 400 and "UTF-8" in response.text


def test_post_without_query_is_400(live_url):
    response = requests.post(sparql(live_url), data={"format": "json"})
    assert response.status_code == 400


def test_malformed_query_is_400_with_position(live_url):
    response = requests.get(sparql(live_url), params={"query": "SELECT * WHERE { ?s ?p }"})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain") and "line 1, column" in response.text


def test_malformed_query_message_quotes_the_line_with_a_caret(live_url):
    query = "PREFIX ex: <http://e/>\nSELECT * WHERE {\n  ?s ?p ?o ) }"
    response = requests.get(sparql(live_url), params={"query": query})
    lines = response.text.splitlines()
    assert lines[2].startswith("Malformed query at line 3, column 15: ") and "error at" not in response.text
    assert lines[-2:] == ["      ?s ?p ?o ) }", " " * (4 + 14) + "^"]  # quoted 4 spaces in; column 15


def test_query_with_a_byte_order_mark_is_answered(live_url):
    response = requests.post(sparql(live_url), data="\ufeffASK {}".encode(),
                             headers={"Content-Type": DIRECT, "Accept": JSON})
    assert response.status_code == 200 and response.json()["boolean"] is True


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(live_url, method):
    response = requests.request(method, sparql(live_url), data=SELECT)
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


@pytest.mark.parametrize("update", [
    "INSERT DATA { <http://e/s> <http://e/p> 1 }",
    "DELETE WHERE { ?s ?p ?o }",
    "LOAD <http://example.org/data.ttl>",
    "CLEAR ALL",
    "DROP GRAPH <https://w3id.org/tourkg/id/graph/tour>",
    "CREATE GRAPH <http://e/g>",
    "ADD DEFAULT TO <http://e/g>",
    "MOVE DEFAULT TO <http://e/g>",
    "COPY DEFAULT TO <http://e/g>",
    "WITH <http://e/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "PREFIX ex: <http://e/> insert data { ex:s ex:p 1 }",
])
def test_update_in_query_is_403(live_url, update):
    response = requests.get(sparql(live_url), params={"query": update})
    assert response.status_code == 403 and "read-only" in response.text


def test_update_parameter_is_403(live_url):
    response = requests.post(sparql(live_url), data={"update": "CLEAR ALL"})
    assert response.status_code == 403


def test_update_media_type_is_403(live_url):
    response = requests.post(sparql(live_url), data=b"CLEAR ALL",
                             headers={"Content-Type": "application/sparql-update"})
    assert response.status_code == 403


def test_data_untouched_after_update_attempts(live_url):
    requests.post(sparql(live_url), data={"update": "CLEAR ALL"})
    requests.get(sparql(live_url), params={"query": "DELETE WHERE { ?s ?p ?o }"})
    response = requests.get(sparql(live_url), params={"query": ASK}, headers={"Accept": JSON})
    assert response.json()["boolean"] is True


@pytest.mark.parametrize("query", [
    'SELECT * { ?s ?p "INSERT DATA" }',
    "SELECT ?delete { ?delete ?p ?o } LIMIT 1",
    "# DROP ALL\nASK {}",
    "PREFIX load: <http://e/> ASK { ?s load:copy ?o }",
    "ASK { <http://e/insert> ?p ?o }",
])
def test_update_words_outside_keywords_are_fine(live_url, query):
    response = requests.get(sparql(live_url), params={"query": query}, headers={"Accept": JSON})
    assert response.status_code == 200


def test_service_is_403(live_url):
    query = "SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    response = requests.get(sparql(live_url), params={"query": query})
    assert response.status_code == 403 and "federat" in response.text.lower()


def test_errors_are_plain_text_for_machines(live_url):
    response = requests.get(sparql(live_url), params={"query": "SELECT"}, headers={"Accept": JSON})
    assert response.headers["Content-Type"].startswith("text/plain")


# -- CORS ----------------------------------------------------------------------------------------------
def test_cors_on_results(live_url):
    response = requests.get(sparql(live_url), params={"query": ASK}, headers={"Origin": "https://other.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_preflight(live_url):
    response = requests.options(sparql(live_url), headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


def test_preflight_echoes_requested_headers_without_a_body(live_url):
    response = requests.options(sparql(live_url), headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-requested-with, authorization"})
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, x-requested-with, authorization"
    assert response.content == b"" and "Content-Type" not in response.headers


def test_preflight_does_not_echo_what_is_not_a_header_name(live_url):
    response = requests.options(sparql(live_url), headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-a, <script>"})
    assert "script" not in response.headers["Access-Control-Allow-Headers"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


# -- no query: page or service description --------------------------------------------------------------
def service_description(url, accept="text/turtle"):
    response = requests.get(sparql(url), headers={"Accept": accept})
    graph = Graph()
    graph.parse(data=response.content, format={"text/turtle": "turtle", "application/rdf+xml": "xml",
                                               "application/ld+json": "json-ld"}[accept])
    return graph


@pytest.mark.parametrize("accept", ["text/turtle", "application/rdf+xml", "application/ld+json"])
def test_service_description_endpoint_is_url_used(live_url, accept):
    graph = service_description(live_url, accept)
    assert set(graph.objects(None, SD.endpoint)) == {URIRef(sparql(live_url))}


def test_service_description_on_another_host_name(live_url):
    other = live_url.replace("127.0.0.1", "localhost")
    graph = service_description(other)
    assert set(graph.objects(None, SD.endpoint)) == {URIRef(sparql(other))}


def test_service_description_lists_formats_and_language(live_url):
    graph = service_description(live_url)
    assert (None, SD.supportedLanguage, SD.SPARQL11Query) in graph
    csv_format = URIRef("http://www.w3.org/ns/formats/SPARQL_Results_CSV")
    assert csv_format in set(graph.objects(None, SD.resultFormat))


def test_service_description_reports_limits(live_url):
    graph = service_description(live_url)
    limits = {str(p): v.toPython() for p, v in graph.query(
        "SELECT ?p ?v { ?s <https://schema.org/propertyID> ?p ; <https://schema.org/value> ?v }")}
    assert limits["query_timeout"] == 3 and {"max_result_rows", "max_query_length"} <= set(limits)


def test_service_description_says_long_queries_are_posted(live_url):
    comment = str(next(service_description(live_url).objects(None, RDFS.comment)))
    assert "8 KB" in comment and "POST" in comment


def test_service_description_describes_dataset_with_void(live_url):
    graph = service_description(live_url)
    names = set(graph.objects(None, SD.name))
    assert URIRef(GRAPH_TOUR) in names
    assert all(int(t) > 0 for t in graph.objects(None, VOID.triples))


def test_no_query_in_browser_is_the_page(live_url):
    response = requests.get(sparql(live_url), headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.headers["Content-Type"].startswith("text/html") and "<textarea" in response.text


def test_xml_results_are_well_formed(live_url):
    response = requests.get(sparql(live_url), params={"query": SELECT, "format": "xml"})
    assert ElementTree.fromstring(response.content).tag.endswith("sparql")


def test_tsv_header_names_variables(live_url):
    response = requests.get(sparql(live_url), params={"query": SELECT, "format": "tsv"})
    assert next(csv.reader(io.StringIO(response.text), delimiter="\t")) == ["?visit"]
