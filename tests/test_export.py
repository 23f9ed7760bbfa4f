"""``tourkg export`` (issue 9): the tour exported as static files, served by nginx (Debian's package) with
the generated include, answers as the live server does: every URL of the live sitemap, every /data
format, every /id 303 (HTML and RDF Accept), every dump (plain and gzip) and VoID give the same status,
type and bytes. Incremental and atomic; a browser clicks through the exported site."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import requests

from conftest import ROOT, free_port, nginx_conf, running_server, web_server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
INSTALLED = os.path.exists(NGINX)
REQUIRED = os.environ.get("TOURKG_REQUIRE_NGINX") == "1"
REASON = "Debian nginx not installed: apt-get install nginx (CI installs it)"
pytestmark = pytest.mark.skipif(not INSTALLED and not REQUIRED, reason=REASON)

RDF_ACCEPTS = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def export(target: Path, site: str, *extra: str) -> str:
    result = subprocess.run([sys.executable, "-m", "tourkg", "export", str(target), "--site", site, *extra],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stderr


def live_endpoint(static: str) -> tuple[str, str]:
    """The export's flags for a site whose ``/sparql`` queries a web server in front sends to a live
    tourkg: VoID and the service description then name it, as the live server does for that host."""
    return "--sparql-endpoint", static + "/sparql"


def nginx_serving(folder: Path, work: Path, port: int):
    """Debian's nginx serving ``folder`` with the export's own include, on a loopback port."""
    conf = nginx_conf(work, port, f"root {folder};\n    include {folder}/nginx-site.conf;")
    return web_server([NGINX, "-c", str(conf)], f"http://127.0.0.1:{port}", "nginx")


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """(static URL, live URL, folder): the export served by nginx, and the live server, asked with the
    export's host so that every absolute URL they write agrees."""
    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_NGINX=1 but {REASON}")
    work = tmp_path_factory.mktemp("export")
    port = free_port()
    static = f"http://127.0.0.1:{port}"
    export(work / "site", static + "/", *live_endpoint(static))
    with nginx_serving(work / "site", work, port), running_server() as live:
        yield static, live, work / "site"


def both(sites, path, **headers):
    static, live, _ = sites
    host = static.split("//")[1]
    a = requests.get(static + path, headers=headers, allow_redirects=False, timeout=30)
    b = requests.get(live + path, headers={"Host": host, **headers}, allow_redirects=False, timeout=30)
    return a, b


def same(a, b, path):
    assert a.status_code == b.status_code, (path, a.status_code, b.status_code)
    assert a.headers.get("Content-Type", "").replace(" ", "").lower() == \
        b.headers.get("Content-Type", "").replace(" ", "").lower(), path
    assert a.content == b.content, path


def live_sitemap_paths(sites):
    static, live, _ = sites
    sitemap = requests.get(live + "/sitemap.xml", headers={"Host": static.split("//")[1]}).text
    return [re.sub(r"^https?://[^/]+", "", url) for url in re.findall(r"<loc>([^<]+)</loc>", sitemap)]


def resource_names(sites):
    """``x`` of every ``/page/x`` in the live sitemap: each resource's page, data and ``/id`` name."""
    return [path[len("/page/"):] for path in live_sitemap_paths(sites) if path.startswith("/page/")]


def check_data_formats(sites, rest):
    for extension in ("ttl", "nt", "jsonld", "rdf"):
        same(*both(sites, f"/data/{rest}.{extension}"), f"/data/{rest}.{extension}")


def test_every_sitemap_url_in_both_languages(sites):
    paths = live_sitemap_paths(sites)
    assert len(paths) > 100
    for path in paths:
        for language in ("en", "es;q=1, en;q=0.5"):
            same(*both(sites, path, Accept=BROWSER, **{"Accept-Language": language}), path)


def test_every_data_format(sites):
    for rest in resource_names(sites):
        check_data_formats(sites, rest)


def test_every_id_gives_the_same_303(sites):
    for rest in resource_names(sites):
        for accept in (BROWSER, *RDF_ACCEPTS):
            a, b = both(sites, f"/id/{rest}", Accept=accept)
            assert a.status_code == b.status_code == 303, (rest, accept)
            assert a.headers["Location"] == b.headers["Location"], (rest, accept)
            assert "Accept" in a.headers["Vary"]
    a, b = both(sites, "/id/country/atlantis", Accept=BROWSER)
    assert a.status_code == b.status_code == 404


def test_every_dump_plain_and_gzip_with_checksums(sites):
    _, _, folder = sites
    sums = dict(line.split("  ")[::-1] for line in (folder / "SHA256SUMS").read_text().splitlines())
    for extension in ("ttl", "nt", "jsonld", "rdf", "trig", "nq"):
        path = f"/dump.{extension}"
        plain = both(sites, path, **{"Accept-Encoding": "identity"})
        same(*plain, path)
        assert hashlib.sha256(plain[0].content).hexdigest() == sums[f"dump.{extension}"]
        check_gzip_and_revalidation(sites, path, plain)


def check_gzip_and_revalidation(sites, path, plain):
    """The gzipped dump has the plain one's type, bytes and file name; the web server gives each an ETag
    and answers its revalidation with 304 (nginx and Apache make their own ETags: only their use is
    compared, not their value)."""
    a, b = both(sites, path, **{"Accept-Encoding": "gzip"})
    assert a.headers.get("Content-Encoding") == b.headers.get("Content-Encoding") == "gzip", path
    assert a.headers["Content-Type"].replace(" ", "").lower() == \
        b.headers["Content-Type"].replace(" ", "").lower(), path
    assert a.content == b.content == plain[0].content, path  # requests has un-gzipped both
    assert a.headers["Content-Disposition"] == b.headers["Content-Disposition"] == \
        plain[0].headers["Content-Disposition"], path
    static = sites[0]
    for encoding, answer in (("identity", plain[0]), ("gzip", a)):
        etag = answer.headers["ETag"]
        again = requests.get(static + path, headers={"Accept-Encoding": encoding, "If-None-Match": etag},
                             timeout=30)
        assert again.status_code == 304 and not again.content, (path, encoding)


def test_void_and_documents_in_every_format(sites):
    for path in ("/.well-known/void", "/ontology", "/shapes", "/sparql"):
        for accept in (*RDF_ACCEPTS, BROWSER, "*/*"):
            if path == "/sparql" and accept == BROWSER:
                continue  # the query page: compared below
            same(*both(sites, path, Accept=accept), f"{path} {accept}")
    for path in ("/", "/robots.txt", "/sitemap.xml", "/static/site.css", "/static/search.js"):
        same(*both(sites, path), path)


def test_a_second_export_rewrites_nothing_and_no_partial_file_is_left(sites, tmp_path):
    static, _, folder = sites
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    stamps = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()}
    said = export(copy, static + "/", *live_endpoint(static))
    assert re.search(r"\(0 written, [\d,]+ unchanged, 0 removed\)", said), said
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()} == stamps
    assert not list(copy.rglob("*.part"))


def test_several_processes_export_the_same_bytes(sites, tmp_path):
    static, _, folder = sites
    said = export(tmp_path / "parallel", static + "/", "--processes", "3", *live_endpoint(static))
    assert "written" in said
    ours = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    theirs = {p.relative_to(tmp_path / "parallel"): p.read_bytes()
              for p in (tmp_path / "parallel").rglob("*") if p.is_file()}
    assert ours.keys() == theirs.keys() and ours == theirs


def test_id_documents_for_hosts_without_configuration(sites):
    _, _, folder = sites
    document = (folder / "id" / "country" / "panama.html").read_text()
    assert 'http-equiv="refresh" content="0; url=/page/country/panama"' in document
    assert 'rel="alternate" type="text/turtle" href="/data/country/panama.ttl"' in document


def test_search_index_shards_and_the_static_search_page(sites):
    static, _, folder = sites
    shard = requests.get(static + "/search/index/pa.json")
    assert shard.status_code == 200
    rows = shard.json()
    assert any(row[0].endswith("/country/panama") and row[4] == "/page/country/panama" for row in rows)
    assert requests.get(static + "/search?q=panama").status_code == 200
    assert all(p.stat().st_size < 300_000 for p in (folder / "search" / "index").iterdir())


def test_query_page_void_and_service_description_name_the_live_endpoint(tmp_path):
    from rdflib import Graph, URIRef
    from rdflib.namespace import VOID

    export(tmp_path / "site", "https://data.example.org/", "--sparql-endpoint",
           "https://query.example.org/sparql")
    page = (tmp_path / "site" / "sparql.html").read_text()
    assert 'action="https://query.example.org/sparql"' in page
    assert "LIMIT 5' https://query.example.org/sparql</code>" in page  # the example from code
    void = Graph().parse(tmp_path / "site" / ".well-known" / "void.ttl")
    assert set(void.objects(None, VOID.sparqlEndpoint)) == {URIRef("https://query.example.org/sparql")}
    described = Graph().parse(tmp_path / "site" / "sparql.ttl")
    endpoint = URIRef("http://www.w3.org/ns/sparql-service-description#endpoint")
    assert set(described.objects(None, endpoint)) == {URIRef("https://query.example.org/sparql")}


def test_without_a_live_endpoint_no_endpoint_is_claimed(tmp_path):
    """A static export answers no query: VoID names no SPARQL endpoint, no service description is written
    (the web server answers 406 for one), and neither the query page nor the landing page offers an
    endpoint; the query page is still there."""
    from rdflib import Graph
    from rdflib.namespace import VOID

    export(tmp_path / "site", "https://data.example.org/")
    site = tmp_path / "site"
    void = Graph().parse(site / ".well-known" / "void.ttl")
    assert not set(void.objects(None, VOID.sparqlEndpoint)) and len(void) > 20
    assert "sparqlEndpoint" not in (site / ".well-known" / "void.html").read_text()
    assert (site / "sparql.html").exists() and not list(site.glob("sparql.[!h]*"))
    page = (site / "sparql.html").read_text()
    assert "no SPARQL endpoint answers here" in page and "curl" not in page
    landing = (site / "index.html").read_text()
    assert ">query page</a>" in landing and "SPARQL endpoint" not in landing


def test_gzipped_dump_files_are_the_prepared_gzip(sites):
    _, _, folder = sites
    assert gzip.decompress((folder / "dump.nt.gz").read_bytes()) == (folder / "dump.nt").read_bytes()


@pytest.fixture(scope="module")
def browser():
    from test_browser import INSTALLED as HAVE_BROWSER
    from test_browser import REASON as NO_BROWSER
    from test_browser import REQUIRED as NEED_BROWSER

    if not HAVE_BROWSER:
        if NEED_BROWSER:
            pytest.fail(f"TOURKG_REQUIRE_BROWSER=1 but {NO_BROWSER}")
        pytest.skip(NO_BROWSER)
    from test_browser import driver as make_driver

    generator = make_driver.__wrapped__()
    yield next(generator)
    next(generator, None)


def test_a_browser_clicks_through_the_exported_site(sites, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    static, _, _ = sites
    browser.get(static + "/")
    assert "Linked Data" in browser.title
    browser.find_element(By.LINK_TEXT, "El Salvador").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "El Salvador"
    browser.find_element(By.LINK_TEXT, "Nayib Bukele").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Nayib Bukele"
    # search without a server: the prebuilt index, in the browser, suggestions and results page
    box = browser.find_element(By.CSS_SELECTOR, "header .search-box input[name=q]")
    box.send_keys("panam")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".suggestions a"))
    assert browser.find_element(By.CSS_SELECTOR, ".suggestions a").text == "Panama"
    browser.get(static + "/search?q=migracion")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ol.results a"))
    first = browser.find_element(By.CSS_SELECTOR, "ol.results a")
    assert "igración" in first.text or "igration" in first.text
    first.click()
    assert browser.find_element(By.TAG_NAME, "h1").text
    browser.get(static + "/search?q=rica+costa")  # several words, in any order: each starts a word
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ol.results a"))
    assert browser.find_element(By.CSS_SELECTOR, "ol.results a").text == "Costa Rica"
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


NPM = shutil.which("npm")


def test_the_exported_query_page_runs_queries_in_the_browser(tmp_path, browser):
    """--with-in-browser-sparql: Oxigraph's WebAssembly build runs an example query on the dump."""
    if NPM is None:
        if os.environ.get("TOURKG_REQUIRE_NPM") == "1":
            pytest.fail("TOURKG_REQUIRE_NPM=1 but npm is not installed (Debian: apt-get install npm)")
        pytest.skip("npm is not installed (the option needs it; nothing else does)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    export(tmp_path / "site", f"http://127.0.0.1:{port}/", "--with-in-browser-sparql")
    assert (tmp_path / "site" / "static" / "oxigraph" / "web_bg.wasm").stat().st_size > 1_000_000
    with nginx_serving(tmp_path / "site", tmp_path, port) as url:
        wasm = requests.get(url + "/static/oxigraph/web_bg.wasm")
        assert wasm.headers["Content-Type"] == "application/wasm"
        browser.get(url + "/")
        example = browser.find_element(By.CSS_SELECTOR, "a[href^='/sparql?query=']").get_attribute("href")
        browser.get(example)  # an example query's link from the landing page
        WebDriverWait(browser, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "section.in-browser table td"))
        heading = browser.find_element(By.CSS_SELECTOR, "section.in-browser h2").text
        assert heading.endswith("rows") or heading.endswith("row")
        # any other query, typed in: ASK, and a refusal of what the dump cannot answer
        area = browser.find_element(By.CSS_SELECTOR, "textarea[name=query]")
        area.clear()
        area.send_keys("ASK { ?s a <https://schema.org/Country> }")
        browser.find_element(By.CSS_SELECTOR, "#query-form button[type=submit]").click()
        WebDriverWait(browser, 30).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "section.in-browser h2").text == "Answer: yes")
        area = browser.find_element(By.CSS_SELECTOR, "textarea[name=query]")
        area.clear()
        area.send_keys("SELECT * WHERE {")
        browser.find_element(By.CSS_SELECTOR, "#query-form button[type=submit]").click()
        WebDriverWait(browser, 30).until(
            lambda d: "could not run" in d.find_element(By.CSS_SELECTOR, "section.in-browser h2").text)


@pytest.mark.parametrize("engine", ["oxigraph", "sparql"])
def test_every_engine_exports_the_same_site(sites, tmp_path, engine):
    """The on-disk engine and a remote SPARQL engine (a real Oxigraph server) export what memory does:
    the same files, and the same bytes for the pages, data and search index."""
    from conftest import oxigraph_server

    static, _, folder = sites
    if engine == "oxigraph":
        export(tmp_path / "site", static + "/", "--store", f"oxigraph:{tmp_path / 'store'}",
               *live_endpoint(static))
    else:
        merged = tmp_path / "tour.nq"
        subprocess.run([sys.executable, "-m", "tourkg", "dump", "--format", "nq", "--merged-default-graph",
                        "-o", str(merged)], cwd=ROOT, check=True, capture_output=True)
        with oxigraph_server(merged) as endpoint:
            export(tmp_path / "site", static + "/", "--store", f"sparql:{endpoint}", *live_endpoint(static))
    theirs = {p.relative_to(tmp_path / "site") for p in (tmp_path / "site").rglob("*") if p.is_file()}
    ours = {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}
    assert ours == theirs
    for relative in ("page/country/panama.es.html", "data/person/nayib-bukele.ttl", "search/index/pa.json",
                     "id/country/panama.html"):
        assert (tmp_path / "site" / relative).read_bytes() == (folder / relative).read_bytes(), relative


def test_a_hubs_paginated_lists_are_exported_and_served(tmp_path):
    """Any dataset: a resource with 120 incoming links has "all 120" lists in pages of 50; the export
    holds each page of them, and nginx answers /page/x?property=... with it, as the live server does."""
    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_NGINX=1 but {REASON}")
    data = tmp_path / "hub.ttl"
    people = "".join(f'<http://example.org/id/person/p{i:03d}> <https://schema.org/homeLocation> '
                     f'<http://example.org/id/place/hub> ; <http://www.w3.org/2000/01/rdf-schema#label> '
                     f'"Person {i}"@en .\n' for i in range(120))
    data.write_text('<http://example.org/id/place/hub> a <https://schema.org/Place> ; '
                    '<http://www.w3.org/2000/01/rdf-schema#label> "Hub"@en .\n' + people)
    port = free_port()
    static = f"http://127.0.0.1:{port}"
    export(tmp_path / "site", static + "/", "--data", str(data), "--cache-dir", str(tmp_path / "cache"))
    lists = sorted((tmp_path / "site" / "page" / "place").glob("hub@*.en.html"))
    assert len(lists) == 3  # offsets 0, 50 and 100
    with nginx_serving(tmp_path / "site", tmp_path, port), \
            running_server("--data", str(data), "--cache-dir", str(tmp_path / "cache")) as live:
        page = requests.get(live + "/page/place/hub", headers={"Host": f"127.0.0.1:{port}"}).text
        links = sorted(set(re.findall(r'href="(/page/place/hub\?property=[^"]+)"', page)))
        assert links
        seen = set()
        while links:
            link = links.pop().replace("&amp;", "&")
            if link in seen:
                continue
            seen.add(link)
            a = requests.get(static + link)
            b = requests.get(live + link, headers={"Host": f"127.0.0.1:{port}"})
            assert a.status_code == b.status_code == 200 and a.content == b.content, link
            links += re.findall(r'href="(/page/place/hub\?property=[^"]+)"', b.text)
        assert len(seen) == 3


def test_a_host_without_configuration_serves_the_english_pages(sites, tmp_path):
    """A plain static host (GitHub Pages, Netlify, ...): no include, only "/x is x.html". Every page of
    the live sitemap answers in English, as the live server's default, every /id/x is a document that
    sends browsers to /page/x, and nothing is hidden from GitHub Pages' Jekyll."""
    static, live, folder = sites
    port = free_port()
    plain = f"http://127.0.0.1:{port}"
    conf = nginx_conf(tmp_path, port, f"root {folder};\n    include /etc/nginx/mime.types;\n"
                                      "    location / { try_files $uri $uri.html $uri/index.html =404; }")
    host = static.split("//")[1]
    with web_server([NGINX, "-c", str(conf)], plain, "nginx"):
        for name in resource_names(sites):
            mine = requests.get(f"{plain}/page/{name}", timeout=30)
            theirs = requests.get(f"{live}/page/{name}", headers={"Host": host, "Accept-Language": "en"},
                                  timeout=30)
            assert mine.status_code == 200 and mine.content == theirs.content, name
            document = requests.get(f"{plain}/id/{name}", timeout=30)
            assert document.status_code == 200, name
            assert f'http-equiv="refresh" content="0; url=/page/{name}"' in document.text, name
        assert requests.get(plain + "/", timeout=30).content == requests.get(
            live + "/", headers={"Host": host, "Accept": "text/html"}, timeout=30).content
    assert (folder / ".nojekyll").exists()


def test_an_export_removes_what_it_no_longer_writes_and_nothing_else(tmp_path):
    """A resource gone from the data loses its page, data and /id files at the next export (a web
    server or a sync would go on serving them); a file the export never wrote stays."""
    def dataset(count: int) -> Path:
        data = tmp_path / "people.ttl"
        data.write_text("".join(f'<http://example.org/id/person/p{i}> a <https://schema.org/Person> ; '
                                f'<http://www.w3.org/2000/01/rdf-schema#label> "Person {i}"@en .\n'
                                for i in range(count)))
        return data
    site, cache = tmp_path / "site", str(tmp_path / "cache")
    export(site, "https://data.example.org/", "--data", str(dataset(3)), "--cache-dir", cache)
    gone = sorted(p.relative_to(site).as_posix() for p in site.rglob("p2*"))
    assert "page/person/p2.en.html" in gone and "data/person/p2.ttl" in gone and "id/person/p2.html" in gone
    (site / "page" / "person" / "operator-note.txt").write_text("mine")
    said = export(site, "https://data.example.org/", "--data", str(dataset(2)), "--cache-dir", cache)
    removed = re.search(r"([\d,]+) removed\)", said)
    assert removed and int(removed.group(1).replace(",", "")) >= len(gone), said  # a search shard may go too
    assert not [p for p in site.rglob("p2*")]
    assert (site / "page" / "person" / "p1.en.html").exists()
    assert (site / "page" / "person" / "operator-note.txt").read_text() == "mine"
    listed = (site / ".tourkg-export-files").read_text().splitlines()
    assert "page/person/p1.en.html" in listed and not [n for n in listed if "/p2." in n]


def test_the_static_search_finds_words_in_any_script(tmp_path, browser):
    """search.js names a non-Latin word's shard as the exporter does (hexadecimal code points)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_NGINX=1 but {REASON}")
    data = tmp_path / "cities.ttl"
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    data.write_text("".join(f'<http://example.org/id/place/c{i}> {label} "{name}"@ru .\n'
                            for i, name in enumerate(["Москва", "Мурманск", "Αθήνα"])), encoding="utf-8")
    port = free_port()
    static = f"http://127.0.0.1:{port}"
    export(tmp_path / "site", static + "/", "--data", str(data), "--cache-dir", str(tmp_path / "cache"))
    with nginx_serving(tmp_path / "site", tmp_path, port):
        for query, label in (("москва", "Москва"), ("мур", "Мурманск"), ("αθηνα", "Αθήνα")):
            browser.get(f"{static}/search?q={query}")
            WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ol.results a"))
            assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, "ol.results a")] == [label]


def test_the_app_names_the_endpoint_it_is_given_or_none(tour_settings, tour_publisher):
    """One rule (``Publisher.endpoint``) for VoID, the service description, the query page and the
    landing page: this server's /sparql by default, another URL when given, none for a static copy."""
    import dataclasses

    from tourkg.web import create_app

    for given, named in ((None, "http://localhost/sparql"), ("https://q.example.org/sparql",
                                                             "https://q.example.org/sparql"), ("", None)):
        pub = dataclasses.replace(tour_publisher, sparql_endpoint=given, _cache=OrderedDict(), _pinned={})
        client = create_app(tour_settings, publisher_=pub).test_client()
        void = client.get("/.well-known/void", headers={"Accept": "application/n-triples"}).text
        described = client.get("/sparql", headers={"Accept": "text/turtle"})
        page = client.get("/sparql", headers={"Accept": "text/html"}).text
        landing = client.get("/").text
        if named:
            assert f"<http://rdfs.org/ns/void#sparqlEndpoint> <{named}>" in void
            assert described.status_code == 200 and f"<{named}>" in described.text
            assert f"LIMIT 5' {named}</code>" in page and ">SPARQL endpoint</a>" in landing
        else:
            assert "sparqlEndpoint" not in void and described.status_code == 406
            assert "no SPARQL endpoint answers here" in page and ">query page</a>" in landing
        assert f'action="{given or "/sparql"}"' in page
