"""Behind nginx (Debian's package): nginx sends the prepared dumps itself, byte for byte what tourkg sends
alone, with gzip, Range and HEAD, while every other route is proxied; with ``--accel-redirect`` (tourkg
names the file for each request) and with ``--dumps-link`` (nginx sends it from tourkg's link without
asking, configured exactly as the README shows). The README's configuration also keeps tourkg's answers
for a second: what it sends from that cache must be what tourkg would send, negotiated per request,
never a query's or a health check's answer, and never another client's forged host."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conftest import ROOT, free_port, nginx_conf, running_server, web_server

sys.path.insert(0, str(ROOT / "bench"))
import synthetic  # noqa: E402
from readme_nginx import front_conf  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
INSTALLED = os.path.exists(NGINX)
REQUIRED = os.environ.get("TOURKG_REQUIRE_NGINX") == "1"
REASON = "Debian nginx not installed: apt-get install nginx (CI installs it)"

pytestmark = pytest.mark.skipif(not INSTALLED and not REQUIRED, reason=REASON)
PREFIX = "/_tourkg/"


@pytest.fixture(scope="module")
def fronted(tmp_path_factory):
    """(nginx URL, tourkg URL): tourkg on a loopback port, nginx in front of it."""
    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_NGINX=1 but {REASON}")
    work = tmp_path_factory.mktemp("nginx")
    cache = work / "cache"
    port = free_port()
    with running_server("--cache-dir", str(cache), "--accel-redirect", PREFIX) as upstream:
        # The README's configuration: connections to tourkg kept open, closed before tourkg's 5 s.
        conf = nginx_conf(work, port, f"""
    location / {{ proxy_pass http://tourkg; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header Host $http_host; }}
    location {PREFIX} {{ internal; alias {cache}/; gzip_static on; gzip_vary on; }}""",
                          http=f"upstream tourkg {{ server {upstream.removeprefix('http://')}; keepalive 16; "
                               "keepalive_timeout 4s; }")
        with web_server([NGINX, "-c", str(conf)], f"http://127.0.0.1:{port}", "nginx") as url:
            yield url, upstream


@pytest.mark.parametrize("ext", ["nt", "ttl", "trig", "jsonld"])
def test_nginx_sends_the_dump_tourkg_prepared(fronted, ext):
    url, _upstream = fronted
    plain = requests.get(f"{url}/dump.{ext}", headers={"Accept-Encoding": "identity"}, timeout=30)
    assert plain.status_code == 200 and plain.content and "X-Accel-Redirect" not in plain.headers
    assert plain.headers["Content-Disposition"] == f'attachment; filename="tourkg.{ext}"'
    assert plain.headers["Content-Type"].startswith(("text/turtle", "application/"))
    packed = requests.get(f"{url}/dump.{ext}", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.raw.read()) == plain.content


def test_range_and_head_through_nginx(fronted):
    url, _upstream = fronted
    whole = requests.get(url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=30).content
    part = requests.get(url + "/dump.nt", headers={"Accept-Encoding": "identity", "Range": "bytes=5-54"},
                        timeout=30)
    assert part.status_code == 206 and part.content == whole[5:55]
    head = requests.head(url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(whole)


def test_the_prepared_folder_is_not_public(fronted):
    url, _upstream = fronted
    assert requests.get(url + PREFIX + "anything/dumps/dump.nt", timeout=30).status_code == 404


def test_other_routes_are_proxied(fronted):
    url, _upstream = fronted
    page = requests.get(url + "/page/country/panama", timeout=30)
    assert page.status_code == 200 and "Panama" in page.text
    assert requests.get(url + "/id/country/panama", allow_redirects=False,
                        timeout=30).headers["Location"] == "/data/country/panama.ttl"


# -- --dumps-link: nginx sends /dump.* from the files, without asking tourkg --------------------------------
@contextlib.contextmanager
def readme_front(server_url: str, work: Path, link: Path) -> Iterator[str]:
    """nginx configured as the README shows, in front of the tourkg at ``server_url``; yields its URL."""
    port = free_port()
    http, server_part = front_conf(server_url, link, work / "nginx-cache")
    conf = nginx_conf(work, port, server_part, http=http)
    with web_server([NGINX, "-c", str(conf)], f"http://127.0.0.1:{port}", "nginx") as url:
        yield url


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """(nginx URL, tourkg server, link): the README's configuration in front of ``--dumps-link``."""
    from conftest import server_process

    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_NGINX=1 but {REASON}")
    work = tmp_path_factory.mktemp("nginx-link")
    link = work / "public" / "dumps"
    with server_process("--cache-dir", str(work / "cache"), "--dumps-link", str(link),
                        "--proxy-hops", "1") as server:
        for ext in ("nt", "nq", "ttl", "trig", "jsonld", "rdf"):  # rendered now, not in the background
            for encoding in ("identity", "gzip"):
                requests.get(f"{server.url}/dump.{ext}", headers={"Accept-Encoding": encoding}, timeout=60)
        with readme_front(server.url, work, link) as url:
            yield url, server, link


def test_the_link_points_at_the_served_dumps(linked):
    _url, server, link = linked
    assert link.is_symlink() and link.resolve().name == "dumps"
    alone = requests.get(server.url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=30)
    assert (link / "dump.nt").read_bytes() == alone.content


@pytest.mark.parametrize("ext", ["nt", "nq", "ttl", "trig", "jsonld", "rdf"])
def test_nginx_sends_each_dump_from_the_link_as_tourkg_would(linked, ext):
    url, server, _link = linked
    alone = requests.get(f"{server.url}/dump.{ext}", headers={"Accept-Encoding": "identity"}, timeout=30)
    before = server.log().count(f"GET /dump.{ext} ")
    plain = requests.get(f"{url}/dump.{ext}", headers={"Accept-Encoding": "identity"}, timeout=30)
    assert plain.status_code == 200 and plain.content == alone.content
    for name in ("Content-Type", "Content-Disposition", "Cache-Control", "Access-Control-Allow-Origin",
                 "X-Content-Type-Options"):
        assert plain.headers[name] == alone.headers[name], name
    packed = requests.get(f"{url}/dump.{ext}", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.raw.read()) == alone.content
    assert plain.headers["ETag"] != alone.headers["ETag"]  # nginx's own validator: nginx answered
    assert server.log().count(f"GET /dump.{ext} ") == before  # and tourkg was not asked


def test_range_head_and_revalidation_from_the_link(linked):
    url, _server, _link = linked
    whole = requests.get(url + "/dump.ttl", headers={"Accept-Encoding": "identity"}, timeout=30)
    part = requests.get(url + "/dump.ttl", headers={"Accept-Encoding": "identity", "Range": "bytes=3-42"},
                        timeout=30)
    assert part.status_code == 206 and part.content == whole.content[3:43]
    head = requests.head(url + "/dump.ttl", headers={"Accept-Encoding": "identity"}, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(whole.content)
    again = requests.get(url + "/dump.ttl", headers={"Accept-Encoding": "identity",
                                                     "If-None-Match": whole.headers["ETag"]}, timeout=30)
    assert again.status_code == 304


def test_other_routes_and_unknown_dumps_go_to_tourkg(linked):
    url, _server, _link = linked
    assert "Panama" in requests.get(url + "/page/country/panama", timeout=30).text
    missing = requests.get(url + "/dump.csv", timeout=30)
    assert missing.status_code == 404 and "/dump.ttl" in missing.text  # tourkg's own message


# -- the README's cache: documents asked again are sent by nginx, exactly as tourkg sends them ------------
def sent_by_tourkg(server, path: str) -> int:
    """How many answers tourkg sent in full for ``path`` (its access log: one line each; a revalidation
    by nginx, after the cached copy's second, is logged as a 304 and not counted)."""
    return sum(server.log().count(f'"{method} {path} HTTP/1.1" 200') for method in ("GET", "HEAD"))


def test_a_document_asked_again_comes_from_the_cache(linked):
    url, server, _link = linked
    path = "/data/country/panama.ttl"
    alone = requests.get(server.url + path, timeout=30)
    first = requests.get(url + path, timeout=30)
    before = sent_by_tourkg(server, path)
    again = requests.get(url + path, timeout=30)
    assert first.content == again.content == alone.content and again.status_code == 200
    assert again.headers["X-Cache-Status"] in ("HIT", "REVALIDATED")
    for name in ("Content-Type", "ETag", "Link", "Access-Control-Allow-Origin", "X-Content-Type-Options"):
        assert again.headers[name] == alone.headers[name], name
    revalidated = requests.get(url + path, headers={"If-None-Match": alone.headers["ETag"]}, timeout=30)
    assert revalidated.status_code == 304 and revalidated.headers["ETag"] == alone.headers["ETag"]
    head = requests.head(url + path, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(alone.content)
    assert sent_by_tourkg(server, path) == before  # the 304 and the HEAD too came from nginx's copy


def test_each_language_of_a_page_is_kept_apart(linked):
    """``Vary: Accept-Language``: one copy per language asked, each as tourkg sends it."""
    url, server, _link = linked
    path = "/page/country/panama"
    direct = {lang: requests.get(server.url + path, headers={"Accept-Language": lang}, timeout=30)
              for lang in ("es", "en")}
    assert direct["es"].content != direct["en"].content
    for _ in range(3):
        for lang in ("es", "en"):
            page = requests.get(url + path, headers={"Accept-Language": lang}, timeout=30)
            assert page.headers["Content-Language"] == lang and page.content == direct[lang].content


@pytest.mark.parametrize("accept, location", [
    ("text/html", "/page/country/panama"), ("text/turtle", "/data/country/panama.ttl"),
    ("application/ld+json", "/data/country/panama.jsonld"),
    ("application/rdf+xml;q=0.9, text/html;q=0.1", "/data/country/panama.rdf")])
def test_each_negotiated_answer_is_kept_apart(linked, accept, location):
    """tourkg's ``Vary: Accept``: nginx keeps one answer per Accept header, so the 303 sent from the
    cache goes where tourkg would send this client, whatever other clients asked before."""
    url, _server, _link = linked
    for _ in range(3):  # the other kinds of client in between
        for other in ("text/html", "text/turtle", "application/ld+json"):
            requests.get(url + "/id/country/panama", headers={"Accept": other}, allow_redirects=False,
                         timeout=30)
        answer = requests.get(url + "/id/country/panama", headers={"Accept": accept}, allow_redirects=False,
                              timeout=30)
        assert answer.status_code == 303 and answer.headers["Location"].endswith(location)
    assert answer.headers["X-Cache-Status"] in ("HIT", "EXPIRED")  # kept, or just asked again


def asked(server, path: str) -> int:
    """How many requests for ``path`` tourkg has logged."""
    return server.log().count(f"GET {path} ") + server.log().count(f"POST {path} ")


def test_queries_searches_and_health_checks_are_never_kept(linked):
    url, server, _link = linked
    query = "/sparql?query=ASK%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D"
    for path, headers in ((query, {"Accept": "application/sparql-results+json"}), ("/readyz", {}),
                          ("/healthz", {}), ("/search?q=panama", {"Accept": "application/json"})):
        before = asked(server, path)
        for _ in range(3):
            answer = requests.get(url + path, headers=headers, timeout=30)
            assert answer.status_code == 200 and answer.headers.get("X-Cache-Status") in (None, "MISS")
        assert asked(server, path) == before + 3, path  # tourkg answered each one


def test_a_query_sent_by_post_goes_through(linked):
    url, server, _link = linked
    body = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}
    accept = {"Accept": "application/sparql-results+json"}
    direct = requests.post(server.url + "/sparql", data=body, headers=accept, timeout=30)
    before = asked(server, "/sparql")
    through = requests.post(url + "/sparql", data=body, headers=accept, timeout=30)
    assert through.status_code == 200 and through.json() == direct.json()
    assert asked(server, "/sparql") == before + 1


def test_a_forged_forwarded_host_reaches_neither_tourkg_nor_the_cache(linked):
    """The README's nginx sets X-Forwarded-Host itself: a client's own would otherwise name its host in
    the URLs tourkg publishes (``--proxy-hops 1`` trusts the proxy), and the cache would hand them on."""
    url, _server, _link = linked
    forged = requests.get(url + "/.well-known/void", headers={"Accept": "text/turtle",
                                                               "X-Forwarded-Host": "attacker.example",
                                                               "X-Forwarded-Port": "6666"}, timeout=30)
    honest = requests.get(url + "/.well-known/void", headers={"Accept": "text/turtle"}, timeout=30)
    for answer in (forged, honest):
        assert answer.status_code == 200
        assert "attacker.example" not in answer.text and "6666" not in answer.text
        assert url.removeprefix("http://") in answer.text  # the host the client asked
    other = url.removeprefix("http://").replace("127.0.0.1", "localhost")  # another name, the same cache
    for _ in range(2):
        named = requests.get(url + "/.well-known/void", headers={"Accept": "text/turtle", "Host": other},
                             timeout=30)
        assert f"http://{other}/sparql" in named.text and f"{url}/sparql" not in named.text


def test_dumps_larger_than_the_fronts_buffer_go_through_whole(tmp_path):
    """The README's front reads a dump into one buffer of at most 512 KB (``output_buffers``) and writes
    it out, buffer after buffer: a dump of several buffers arrives whole, plain and gzipped, and a Range
    across a buffer's end is cut where it was asked."""
    from conftest import server_process

    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_NGINX=1 but {REASON}")
    data = synthetic.write(tmp_path / "synthetic.ttl", 120_000)
    link = tmp_path / "public" / "dumps"
    with server_process("--data", str(data), "--cache-dir", str(tmp_path / "cache"), "--dumps-link",
                        str(link), "--proxy-hops", "1") as server:
        alone = {encoding: requests.get(f"{server.url}/dump.nt", headers={"Accept-Encoding": encoding},
                                        stream=True, timeout=60).raw.read()
                 for encoding in ("identity", "gzip")}
        assert len(alone["identity"]) > 3 * 512 * 1024 and len(alone["gzip"]) > 512 * 1024
        with readme_front(server.url, tmp_path, link) as url:
            for encoding, body in alone.items():
                sent = requests.get(f"{url}/dump.nt", headers={"Accept-Encoding": encoding}, stream=True,
                                    timeout=60)
                assert sent.headers.get("Content-Encoding", "identity") == encoding
                assert int(sent.headers["Content-Length"]) == len(body) and sent.raw.read() == body
            start = 512 * 1024 - 10
            part = requests.get(url + "/dump.nt", headers={"Accept-Encoding": "identity",
                                                          "Range": f"bytes={start}-{start + 99}"}, timeout=60)
            assert part.status_code == 206 and part.content == alone["identity"][start:start + 100]
            head = requests.head(url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=60)
            assert int(head.headers["Content-Length"]) == len(alone["identity"]) and not head.content
            assert server.log().count("GET /dump.nt ") == 2  # only the two asked of tourkg itself


def test_a_reload_shows_through_the_cache_after_a_second(tmp_path):
    """After a reload, once a copy's time is up (one to two seconds: nginx counts whole seconds), the
    next request waits while nginx asks tourkg again (with the ETag it holds): the first answer given is
    the new data, and the new dumps from the moved link; never one more answer from the old copy."""
    from conftest import server_process

    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_NGINX=1 but {REASON}")
    for name in ("tour.ttl", "reference.trig"):
        shutil.copy(ROOT / "data" / name, tmp_path / name)
    data, link = tmp_path / "tour.ttl", tmp_path / "public" / "dumps"
    args = ["--data", str(data), "--data", str(tmp_path / "reference.trig"), "--cache-dir",
            str(tmp_path / "cache"), "--dumps-link", str(link), "--proxy-hops", "1"]
    with server_process(*args) as server, readme_front(server.url, tmp_path, link) as url:
        requests.get(server.url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=60)
        void = requests.get(url + "/.well-known/void", headers={"Accept": "text/turtle"}, timeout=30)
        gone = requests.get(url + "/id/place/testland", allow_redirects=False, timeout=30)
        assert gone.status_code == 404
        assert requests.get(url + "/id/place/testland", allow_redirects=False,
                            timeout=30).headers["X-Cache-Status"] == "HIT"
        with data.open("a") as out:
            out.write('<place/testland> a schema:Place ; schema:name "Testland"@en ; '
                      'rdfs:label "Testland"@en .\n')
        before = requests.get(server.url + "/readyz", timeout=10).text  # names the data generation served
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while requests.get(server.url + "/readyz", timeout=10).text == before:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        # Each copy's second is up (nginx counts whole seconds: a copy lives one to two), and the dump
        # files nginx opened are checked again.
        time.sleep(2.5)
        answer = requests.get(url + "/id/place/testland", allow_redirects=False, timeout=30)
        assert answer.status_code == 303, answer.headers
        assert "Testland" in requests.get(url + "/dump.nt", timeout=30).text
        assert requests.get(url + "/.well-known/void", headers={"Accept": "text/turtle"},
                            timeout=30).content != void.content
