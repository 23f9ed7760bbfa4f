"""Property-based tests (hypothesis) against a real server on loopback (issue 8): whatever a client sends
(query strings and form bodies, ``format=``, Accept and Accept-Language, conditional headers, resource
paths with percent-encoding, non-ASCII, ``..`` and very long segments, any method), the answer is never
a 500 and never shows a traceback, and the server keeps serving."""

import http.client
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.timeout(600)

FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
#: Header values http.client will send: visible Latin-1 and spaces, no line breaks.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=300)
MEDIA = st.sampled_from(["text/html", "text/turtle", "application/ld+json", "application/rdf+xml",
                         "application/n-triples", "application/sparql-results+json", "*/*", "text/*",
                         "application/xml", "image/png", "", "x", "text/html;q=0", "*/*;q=abc",
                         "application/sparql-results+xml;q=0.5, text/csv;q=0.9"])
ACCEPT = st.one_of(HEADER_TEXT, st.lists(st.tuples(MEDIA, st.floats(-1, 2) | st.just(None)), max_size=6).map(
    lambda items: ", ".join(m if q is None else f"{m};q={q:.3g}" for m, q in items)))
LANGUAGE = st.one_of(HEADER_TEXT, st.lists(st.sampled_from(["en", "es", "es-PA", "fr", "*", "en;q=0",
                                                            "es;q=0.9", "xx-YY-ZZ", ";q=", ""]), max_size=5)
                     .map(", ".join))
ETAGS = st.one_of(HEADER_TEXT, st.sampled_from(['"abc"', "*", 'W/"x"', '"', "", '"a", "b"']))
DATES = st.one_of(HEADER_TEXT, st.sampled_from(["Thu, 01 Jan 1970 00:00:00 GMT", "yesterday", "0",
                                                "Fri, 31 Dec 9999 23:59:59 GMT"]))
SEGMENT = st.one_of(
    st.sampled_from(["page", "data", "id", "country", "panama", "person", "marco-rubio", "..", ".", "",
                     "sparql", "dump.nt", "dump.ttl.gz", ".well-known", "void", "sitemap.xml", "healthz",
                     "panama.ttl", "panama.jsonld", "panama.xyz", "%2e%2e", "%00", "%ff", "%", "%zz",
                     "graph", "ontology", "shapes", "static", "search"]),
    st.text(max_size=40).map(lambda text: quote(text, safe="")),
    st.integers(100, 9000).map(lambda n: "a" * n),
)
PATHS = st.lists(SEGMENT, min_size=0, max_size=6).map(lambda parts: "/" + "/".join(parts))
QUERY_TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["SELECT * { ?s ?p ?o } LIMIT 1", "ASK {}", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 3",
                     "DESCRIBE <https://w3id.org/tourkg/id/country/panama>", "INSERT DATA { <a> <b> <c> }",
                     "SELECT * { SERVICE <http://example.org/> { ?s ?p ?o } }", "LOAD <http://example.org/>",
                     "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", "SELECT * WHERE {", "PREFIX : <x> SELECT ?x {}",
                     "SELECT * FROM <http://127.0.0.1:1/x> { ?s ?p ?o }"]),
)
PARAMS = st.dictionaries(
    st.sampled_from(["query", "format", "default-graph-uri", "named-graph-uri", "update", "property",
                     "direction", "offset", "lang", "q", "x"]),
    st.one_of(QUERY_TEXT, st.sampled_from(["json", "xml", "csv", "tsv", "ttl", "nt", "html", "jsonld",
                                           "nope", "-1", "99999999999999999999", "incoming"])),
    max_size=4,
)
METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND"])


def send(url: str, method: str, target: str, headers: dict[str, str], body: bytes | None = None):
    """One raw request with http.client (no client-side normalisation of the path); (status, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value.encode("latin-1"))
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check(status: int, body: bytes) -> None:
    assert status != 500 and status < 600, (status, body[:300])
    assert b"Traceback" not in body and b'File "' not in body, body[:300]


@pytest.fixture(scope="module")
def url(live_url):
    yield live_url
    status, body = send(live_url, "GET", "/healthz", {})
    assert status == 200  # still serving after everything below


@FUZZ
@given(path=PATHS, method=METHODS, accept=ACCEPT, language=LANGUAGE)
def test_resource_paths_methods_and_negotiation(url, path, method, accept, language):
    check(*send(url, method, path, {"Accept": accept, "Accept-Language": language}))


@FUZZ
@given(path=st.sampled_from(["/page/country/panama", "/data/country/panama.ttl", "/dump.nt", "/",
                             "/.well-known/void", "/id/country/panama", "/sitemap.xml"]),
       if_none_match=ETAGS, if_modified_since=DATES, if_match=ETAGS, if_unmodified_since=DATES,
       range_=st.one_of(HEADER_TEXT, st.sampled_from(["bytes=0-10", "bytes=-5", "bytes=10-", "bytes=5-1",
                                                      "bytes=0-0,2-3", "items=1-2", "bytes=99999999-"])))
def test_conditional_and_range_headers(url, path, if_none_match, if_modified_since, if_match,
                                       if_unmodified_since, range_):
    headers = {"If-None-Match": if_none_match, "If-Modified-Since": if_modified_since,
               "If-Match": if_match, "If-Unmodified-Since": if_unmodified_since, "Range": range_}
    check(*send(url, "GET", path, headers))


@FUZZ
@given(params=PARAMS, accept=ACCEPT)
def test_sparql_query_strings(url, params, accept):
    check(*send(url, "GET", "/sparql?" + urlencode(params), {"Accept": accept}))


@FUZZ
@given(params=PARAMS, accept=ACCEPT, content_type=st.sampled_from([
    "application/x-www-form-urlencoded", "application/sparql-query", "application/sparql-update",
    "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=latin-1",
    "", "application/json"]), raw=st.binary(max_size=500))
def test_sparql_bodies(url, params, accept, content_type, raw):
    body = urlencode(params).encode() if content_type.startswith("application/x-www") else raw
    if content_type == "application/sparql-query" and "query" in params:
        body = params["query"].encode("utf-8", "surrogatepass")
    check(*send(url, "POST", "/sparql", {"Accept": accept, "Content-Type": content_type}, body))


@FUZZ
@given(fmt=st.text(max_size=30), path=st.sampled_from(["/data/country/panama", "/page/country/panama",
                                                       "/sparql", "/.well-known/void", "/"]))
def test_format_parameter(url, fmt, path):
    check(*send(url, "GET", path + "?" + urlencode({"format": fmt}), {}))
