"""Dereferencing, pages and data documents against a real server (``live_url``), status by status."""

from __future__ import annotations

import json
import re

import pytest
import requests
from rdflib import Graph, Literal, URIRef

from conftest import running_server

BASE = "https://w3id.org/tourkg/"
PANAMA = BASE + "id/country/panama"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, allow_redirects=False, timeout=30)


# Missing Accept and */* (curl, wget, scripts) get Turtle; browsers get HTML (see resource_views).
@pytest.mark.parametrize(("accept", "location"), [
    (None, "/data/country/panama.ttl"),
    ("*/*", "/data/country/panama.ttl"),
    (BROWSER, "/page/country/panama"),
    ("text/html", "/page/country/panama"),
    ("application/xhtml+xml", "/page/country/panama"),
    ("text/turtle", "/data/country/panama.ttl"),
    ("application/ld+json", "/data/country/panama.jsonld"),
    ("application/rdf+xml", "/data/country/panama.rdf"),
    ("application/n-triples", "/data/country/panama.nt"),
    ("text/html;q=0.5, text/turtle;q=0.9", "/data/country/panama.ttl"),
    ("text/turtle;q=0.2, text/html", "/page/country/panama"),
    ("application/ld+json, */*;q=0.1", "/data/country/panama.jsonld"),
])
def test_id_redirects_by_accept(live_url, accept, location):
    session = requests.Session()
    if accept is None:  # requests sends */* by default: remove the header entirely
        session.headers.pop("Accept")
    else:
        session.headers["Accept"] = accept
    response = session.get(live_url + "/id/country/panama", allow_redirects=False, timeout=30)
    assert (response.status_code, response.headers["Location"]) == (303, location)
    assert "Accept" in response.headers["Vary"]


def test_id_curl_gets_turtle(live_url):
    response = get(live_url + "/id/country/panama", Accept="*/*", **{"User-Agent": "curl/8.5.0"})
    assert response.headers["Location"].endswith(".ttl")


def test_id_unacceptable_is_406_listing_offers(live_url):
    response = get(live_url + "/id/country/panama", Accept="image/png")
    assert response.status_code == 406
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "text/turtle" in response.text and "text/html" in response.text
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize(("accept", "content_type"), [("*/*", "text/plain"), (BROWSER, "text/html")])
def test_unknown_iri_is_404_by_accept(live_url, accept, content_type):
    response = get(live_url + "/id/country/atlantis", Accept=accept)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith(content_type)


@pytest.mark.parametrize("path", ["/page/country/atlantis", "/data/country/atlantis.ttl",
                                  "/data/country/panama.xyz", "/no/such/thing", "/page?uri=http://example.org/x"])
def test_unknown_documents_are_404(live_url, path):
    assert get(live_url + path).status_code == 404


def test_catch_all_maps_path_to_iri(live_url):
    response = get(live_url + "/id/graph/tour", Accept="text/html")
    assert (response.status_code, response.headers["Location"]) == (303, "/page/graph/tour")


@pytest.mark.parametrize(("path", "content_type", "parse_as"), [
    ("/data/country/panama.ttl", "text/turtle", "turtle"),
    ("/data/country/panama.nt", "application/n-triples", "nt"),
    ("/data/country/panama.jsonld", "application/ld+json", "json-ld"),
    ("/data/country/panama.rdf", "application/rdf+xml", "xml"),
    ("/data?uri=" + PANAMA + "&format=ttl", "text/turtle", "turtle"),
])
def test_data_documents_parse(live_url, path, content_type, parse_as):
    response = get(live_url + path)
    assert response.headers["Content-Type"].startswith(content_type)
    graph = Graph().parse(data=response.content, format=parse_as)
    assert (URIRef(PANAMA), URIRef("https://schema.org/name"), Literal("Panamá", lang="es")) in graph


def test_data_includes_incoming_links_and_labels(live_url):
    graph = Graph().parse(data=get(live_url + "/data/country/panama.ttl").content, format="turtle")
    visit = URIRef(BASE + "id/visit/panama")
    assert (visit, URIRef(BASE + "ontology#visitedCountry"), URIRef(PANAMA)) in graph
    assert (visit, URIRef("http://www.w3.org/2000/01/rdf-schema#label"), None) in graph


def test_data_uses_prefixes(live_url):
    assert b"@prefix schema: <https://schema.org/>" in get(live_url + "/data/country/panama.ttl").content


def test_data_by_uri_negotiates(live_url):
    response = get(live_url + "/data?uri=" + PANAMA, Accept="application/ld+json")
    assert response.headers["Content-Type"].startswith("application/ld+json")
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize("path", ["/page/country/panama", "/data/country/panama.ttl", "/", "/dump.nt",
                                  "/ontology", "/.well-known/void"])
def test_etag_gives_304(live_url, path):
    first = get(live_url + path)
    assert first.headers["ETag"].startswith('"')  # strong
    again = get(live_url + path, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/page/country/panama", "/data/country/panama.ttl"])
def test_if_modified_since_gives_304(live_url, path):
    first = get(live_url + path)
    again = get(live_url + path, **{"If-Modified-Since": first.headers["Last-Modified"]})
    assert again.status_code == 304


def test_stale_etag_gives_200(live_url):
    assert get(live_url + "/page/country/panama", **{"If-None-Match": '"nope"'}).status_code == 200


HEAD_PATHS = ["/id/country/panama", "/page/country/panama", "/data/country/panama.ttl", "/", "/dump.ttl",
              "/.well-known/void", "/ontology", "/shapes", "/robots.txt"]


@pytest.mark.parametrize("path", HEAD_PATHS)
def test_head_works(live_url, path):
    head = requests.head(live_url + path, allow_redirects=False, timeout=30)
    assert head.status_code in (200, 303) and head.content == b""


def test_page_links_alternates(live_url):
    link = get(live_url + "/page/country/panama").headers["Link"]
    assert '</data/country/panama.ttl>; rel="alternate"; type="text/turtle"' in link
    assert 'type="application/ld+json"' in link


def test_data_links_page(live_url):
    link = get(live_url + "/data/country/panama.ttl").headers["Link"]
    assert '</page/country/panama>; rel="alternate"; type="text/html"' in link


@pytest.mark.parametrize(("language", "title"), [("es", "Panamá"), ("es-ES,es;q=0.9", "Panamá"),
                                                 ("en", "Panama"), ("fr", "Panama"), (None, "Panama")])
def test_page_label_follows_accept_language(live_url, language, title):
    headers = {"Accept-Language": language} if language else {}
    response = get(live_url + "/page/country/panama", **headers)
    assert f"<h1>{title}</h1>" in response.text
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.parametrize(("path", "expected"), [
    ("/page/country/el-salvador", ["Nayib Bukele", "Visit to El Salvador", "Anti-gang initiatives"]),
    ("/page/person/nayib-bukele", ["Visit to El Salvador", "2025-02-03"]),
    ("/page/tour/rubio-latin-america-tour", ["<svg", "<polyline", "2025-02-01", "Dominican Republic"]),
    ("/page/issue/migration", ["Narrower concepts", "Border security", "Visit to Costa Rica"]),
])
def test_pages_show_subject_specific_sections(live_url, path, expected):
    text = get(live_url + path).text
    assert all(e in text for e in expected)


def test_page_shows_sources(live_url):
    assert "https://www.geonames.org/3703430" in get(live_url + "/page/country/panama").text


def test_page_by_uri_for_ontology_term(live_url):
    assert get(live_url + "/page?uri=" + BASE + "id/graph/tour").status_code == 200


@pytest.fixture(scope="module")
def local_base_url():
    """A server whose data IRIs are rewritten to its own origin (pure linked-data clients)."""
    from conftest import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with running_server("--base-uri", base, port=port) as url:
        yield url


def test_local_base_uri_data_uses_local_iris(local_base_url):
    graph = Graph().parse(data=get(local_base_url + "/data/country/panama.ttl").content, format="turtle")
    assert (URIRef(local_base_url + "/id/country/panama"), None, None) in graph
    assert not any(str(s).startswith(BASE) for s in graph.subjects())


def test_local_base_uri_iri_dereferences_itself(local_base_url):
    response = requests.get(local_base_url + "/id/country/panama", headers={"Accept": "text/turtle"},
                            timeout=30)
    assert response.status_code == 200 and response.url.endswith("/data/country/panama.ttl")


@pytest.mark.parametrize(("path", "status"), [("/id/person/ada", 303), ("/page/person/ada", 200),
                                              ("/data/person/charles.ttl", 200), ("/", 200),
                                              ("/id/person/nobody", 404)])
def test_generic_dataset_is_served(generic_url, path, status):
    assert get(generic_url + path, Accept="text/html").status_code == status


def test_generic_page_shows_labels(generic_url):
    text = get(generic_url + "/page/person/ada").text
    assert "<h1>Ada Lovelace</h1>" in text and "Charles Babbage" in text


def test_data_jsonld_has_an_inline_prefix_context(live_url):
    document = requests.get(live_url + "/data/country/panama.jsonld", timeout=10).json()
    assert document["@context"]["schema"] == "https://schema.org/"
    assert any(node.get("@id") == "https://w3id.org/tourkg/id/country/panama" for node in document["@graph"])


def test_page_jsonld_carries_the_event_facts_search_engines_need(live_url):
    html = requests.get(live_url + "/page/visit/guatemala", timeout=10).text
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert data["startDate"] == "2025-02-04" and data["location"]["name"] == "Guatemala"
    assert data["position"] == 4


def test_named_graph_has_a_page_with_its_size(live_url):
    response = requests.get(live_url + "/page/graph/tour", timeout=10)
    assert response.status_code == 200 and "statements in this named graph" in response.text


def test_bare_data_without_uri_is_400_for_any_accept(live_url):
    response = requests.get(live_url + "/data", headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 400


def test_non_web_iri_values_are_never_links(client):
    from tourkg.describe import link_to
    from tourkg.iris import IriMap

    assert link_to("javascript:alert(1)", "x", IriMap("https://w3id.org/tourkg/")).href == ""


def test_route_map_labels_do_not_cover_each_other():
    from tourkg.extras import MapPoint, _label_box, _overlap, place_labels

    # Guatemala City and San Salvador are close on the map: their labels must not collide.
    points = [MapPoint(1, 100, 200, "Guatemala", "/a"), MapPoint(2, 130, 225, "El Salvador", "/b")]
    boxes = [_label_box(p.label_x, p.label_y, p.label, p.label_left) for p in place_labels(points, 640, 400)]
    assert not _overlap(*boxes)
