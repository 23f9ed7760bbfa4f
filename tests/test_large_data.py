"""Large data is an ordinary case: hub resources show at most 50 values per property with a count and a
paginated list of all; the landing page lists the first few of each class; a large sitemap is split;
loading shows progress on a terminal. On a tour-shaped synthetic dataset (``bench/synthetic.py``)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from html import unescape

import pytest
import requests

from conftest import ROOT, server_process

sys.path.insert(0, str(ROOT / "bench"))
import synthetic  # noqa: E402

HUB = "/page/country/c0"  # the synthetic data sends most visits to the first countries
LOCATION = "https://schema.org/location"
SPARQL_JSON = {"Accept": "application/sparql-results+json"}


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.ttl"
    return synthetic.write(path, 20_000)


@pytest.fixture(scope="module")
def big_server(big):
    # The search index is built beside the load, as for inputs of several MB (see engines.searching).
    with server_process("--data", str(big), env={"TOURKG_SEARCH_SIDE_BUILD_BYTES": "0"}) as server:
        yield server


@pytest.fixture(scope="module")
def big_url(big_server):
    return big_server.url


def incoming_count(url: str, iri: str, predicate: str) -> int:
    query = f"SELECT (COUNT(DISTINCT ?x) AS ?n) {{ ?x <{predicate}> <{iri}> }}"
    response = requests.get(url + "/sparql", params={"query": query}, headers=SPARQL_JSON, timeout=30)
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]


def test_hub_page_shows_at_most_fifty_values_and_a_link_to_all(big_url):
    page = requests.get(big_url + HUB, timeout=30).text
    total = incoming_count(big_url, "http://example.org/id/country/c0", LOCATION)
    assert total > 100
    assert f"all {total} values" in page
    # three lists of visits (the country's visits, and its location and visitedCountry links), 50 each
    assert page.count("/page/visit/") <= 3 * 50


def test_paginated_list_walks_every_value_once(big_url):
    page = requests.get(big_url + HUB, timeout=30).text
    wanted = "property=" + requests.utils.quote(LOCATION, safe="")
    url: str | None = next(h for h in links(page) if wanted in h)
    seen: list[str] = []
    while url:
        html = requests.get(big_url + url, timeout=30).text
        seen += [h for h in links(html) if h.startswith("/page/visit/")]
        following = re.search(r'rel="next" href="([^"]+)"', html)
        url = unescape(following[1]) if following else None
    total = incoming_count(big_url, "http://example.org/id/country/c0", LOCATION)
    assert len(seen) == len(set(seen)) == total


def test_search_index_built_beside_the_load_finds_labels(big_server):
    found = requests.get(big_server.url + "/search", params={"q": "country 3", "type": "Country"},
                         headers={"Accept": "application/json"}, timeout=30).json()
    assert found["results"][0]["iri"] == "http://example.org/id/country/c3"
    assert "search index built beside the load" in big_server.log()


def test_list_with_a_bad_offset_is_400(big_url):
    response = requests.get(big_url + HUB, params={"property": LOCATION, "direction": "in", "offset": "x"},
                            timeout=30)
    assert response.status_code == 400


def test_landing_page_lists_a_few_of_each_class_with_their_number(big_url):
    page = requests.get(big_url + "/", timeout=30).text
    assert page.count("/page/visit/") <= 50
    assert re.search(r"All \d+ →", page)


def test_data_document_of_a_hub_is_bounded(big_url):
    body = requests.get(big_url + "/data/country/c0.nt", timeout=30).text
    assert body.count(f"<{LOCATION}>") <= 50


def test_void_lists_no_resource_in_full(big_url):
    body = requests.get(big_url + "/.well-known/void", headers={"Accept": "application/n-triples"},
                        timeout=30).text
    assert len(body.splitlines()) < 1000


def test_large_sitemap_is_an_index_of_parts(big, tmp_path):
    from tourkg.config import build_settings
    from tourkg.web import build_publisher, create_app, dataset_views

    # A cache of its own: the small parts rendered here must not be served by the other tests' server.
    settings = build_settings({"data": [str(big)], "cache_dir": str(tmp_path)})
    publisher = build_publisher(settings)
    try:
        client = create_app(settings, publisher_=publisher).test_client()
        original, dataset_views.SITEMAP_SIZE = dataset_views.SITEMAP_SIZE, 1000
        try:
            index = client.get("/sitemap.xml").get_data(as_text=True)
            parts = re.findall(r"<loc>http://localhost(/sitemap-\d+\.xml)</loc>", index)
            assert "<sitemapindex" in index and len(parts) > 1
            bodies = [client.get(part).get_data(as_text=True) for part in parts]
            urls = [u for body in bodies for u in re.findall(r"<loc>([^<]+)</loc>", body)]
            assert len(urls) == len(set(urls)) > 1000
            assert client.get(f"/sitemap-{len(parts) + 1}.xml").status_code == 404
        finally:
            dataset_views.SITEMAP_SIZE = original
    finally:
        publisher.close()


def test_loading_a_large_file_shows_progress_on_a_terminal(tmp_path):
    data = synthetic.write(tmp_path / "progress.ttl", 200_000)  # about 6 MB: past the display's threshold
    leader, follower = pty.openpty()
    env = {**os.environ, "TOURKG_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "tourkg", "dump", "--data", str(data), "--format", "nt", "-o",
               str(tmp_path / "out.nt")]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=follower, stdout=subprocess.DEVNULL, env=env)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    proc.wait(120)
    text = output.decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "loading progress.ttl" in text and "triples/s" in text and "ETA" in text
    assert re.search(r"loaded [\d,]+ quads from 1 files", text)  # the one-line summary
