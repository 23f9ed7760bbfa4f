"""The hot path: prepared responses replayed before Flask routes keep every HTTP semantic of the first
answer (variants by Accept, Accept-Language, Accept-Encoding and Host; 304; HEAD; Range by Flask) and
never leak their internal markers. Against the live servers of every engine, and the middleware alone."""

from __future__ import annotations

import gzip

import pytest
import requests

from tourkg.web.fastpath import CACHEABLE, FILE, FastPath

INTERNAL = (CACHEABLE, FILE)
PATHS = ("/page/country/panama", "/data/country/panama.ttl", "/id/country/panama", "/dump.nt", "/",
         "/.well-known/void", "/ontology", "/sitemap.xml", "/robots.txt")


@pytest.mark.parametrize("path", PATHS)
def test_internal_markers_never_leave_the_server(live_url, path):
    for _ in range(2):  # the first answer comes from Flask, the second from the fast path
        response = requests.get(live_url + path, allow_redirects=False, timeout=30)
        assert not set(INTERNAL) & set(response.headers), path


@pytest.mark.parametrize("path", ["/page/country/panama", "/data/country/panama.jsonld", "/dump.ttl"])
def test_replayed_answer_is_the_first_one(live_url, path):
    first = requests.get(live_url + path, timeout=30)
    again = requests.get(live_url + path, timeout=30)
    assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Content-Type"] == first.headers["Content-Type"]


@pytest.fixture(scope="module")
def one_worker_url():
    """One web worker: a second request is necessarily answered by the fast path the first one filled."""
    from conftest import running_server

    with running_server("--workers", "1") as url:
        yield url


@pytest.mark.parametrize("path", ["/page/country/panama", "/dump.nt", "/id/country/panama", "/"])
def test_one_worker_replays_with_the_same_headers(one_worker_url, path):
    answers = [requests.get(one_worker_url + path, allow_redirects=False, timeout=30) for _ in range(3)]
    assert len({a.content for a in answers}) == 1
    assert len({tuple(sorted((k, v) for k, v in a.headers.items() if k != "Date")) for a in answers}) == 1


def test_conditional_request_on_a_replayed_answer_is_304(one_worker_url):
    live_url = one_worker_url
    url = live_url + "/page/country/panama"
    etag = requests.get(url, timeout=30).headers["ETag"]
    for _ in range(2):
        response = requests.get(url, headers={"If-None-Match": etag}, timeout=30)
        assert response.status_code == 304 and response.content == b""
        assert response.headers["ETag"] == etag and "Accept-Language" in response.headers["Vary"]
    assert requests.get(url, headers={"If-None-Match": '"other"'}, timeout=30).status_code == 200


def test_if_modified_since_on_a_replayed_answer_is_304(live_url):
    url = live_url + "/data/country/panama.nt"
    modified = requests.get(url, timeout=30).headers["Last-Modified"]
    assert requests.get(url, headers={"If-Modified-Since": modified}, timeout=30).status_code == 304


@pytest.mark.parametrize("path", ["/page/country/panama", "/dump.nq", "/id/country/panama"])
def test_head_has_the_headers_of_get_and_no_body(one_worker_url, path):
    live_url = one_worker_url
    same = {"Accept-Encoding": "identity"}
    for _ in range(2):
        head = requests.head(live_url + path, allow_redirects=False, timeout=30, headers=same)
        get = requests.get(live_url + path, allow_redirects=False, timeout=30, headers=same)
        assert head.content == b"" and head.status_code == get.status_code
        assert head.headers.get("Content-Length") == get.headers.get("Content-Length")
        assert head.headers.get("ETag") == get.headers.get("ETag")


def test_variants_are_kept_apart(live_url):
    html = {"Accept": "text/html"}
    turtle = {"Accept": "text/turtle"}
    for _ in range(2):
        assert requests.get(live_url + "/id/country/panama", headers=html, allow_redirects=False,
                            timeout=30).headers["Location"] == "/page/country/panama"
        assert requests.get(live_url + "/id/country/panama", headers=turtle, allow_redirects=False,
                            timeout=30).headers["Location"] == "/data/country/panama.ttl"
        assert "<h1>Panamá</h1>" in requests.get(live_url + "/page/country/panama",
                                                 headers={"Accept-Language": "es"}, timeout=30).text
        assert "<h1>Panama</h1>" in requests.get(live_url + "/page/country/panama",
                                                 headers={"Accept-Language": "en"}, timeout=30).text


def test_gzip_and_plain_dumps_are_kept_apart(live_url):
    plain = requests.get(live_url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=30).content
    for _ in range(2):
        packed = requests.get(live_url + "/dump.nt", headers={"Accept-Encoding": "gzip"}, stream=True,
                              timeout=30)
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.raw.read()) == plain
        again = requests.get(live_url + "/dump.nt", headers={"Accept-Encoding": "gzip;q=0"}, stream=True,
                             timeout=30)
        assert "Content-Encoding" not in again.headers and again.raw.read() == plain


def test_host_dependent_documents_name_the_host_asked(live_url):
    port = live_url.rsplit(":", 1)[1]
    for host in ("localhost", "127.0.0.1"):
        for _ in range(2):
            body = requests.get(f"http://{host}:{port}/robots.txt", timeout=30).text
            assert f"Sitemap: http://{host}:{port}/sitemap.xml" in body


def test_range_of_a_dump_is_206(live_url):
    plain = requests.get(live_url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=30).content
    wanted = {"Range": "bytes=10-99", "Accept-Encoding": "identity"}
    part = requests.get(live_url + "/dump.nt", headers=wanted,
                        timeout=30)
    assert part.status_code == 206 and part.content == plain[10:100]
    assert part.headers["Content-Range"] == f"bytes 10-99/{len(plain)}"


def test_query_answers_are_not_replayed(live_url):
    query = {"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}
    for _ in range(2):
        response = requests.get(live_url + "/sparql", params=query, timeout=30,
                                headers={"Accept": "application/sparql-results+json"})
        assert response.status_code == 200 and "ETag" not in response.headers


# -- the middleware alone ---------------------------------------------------------------------------------
def _app(calls: list[str], cacheable: bool = True, size: int = 10):
    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        headers = [("Content-Type", "text/plain"), ("ETag", '"x"')]
        headers += [(CACHEABLE, "1")] if cacheable else []
        start_response("200 OK", headers)
        return [b"x" * size]
    return app


def _get(app, path: str, method: str = "GET") -> tuple[str, list, bytes]:
    seen: dict = {}

    def start(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(app({"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
                         "wsgi.url_scheme": "http", "HTTP_HOST": "h"}, start))
    return seen["status"], seen["headers"], body


def test_marked_answers_are_asked_once():
    calls: list[str] = []
    fast = FastPath(_app(calls))
    assert _get(fast, "/a")[2] == _get(fast, "/a")[2] == b"x" * 10
    assert calls == ["/a"]


def test_unmarked_answers_are_asked_every_time():
    calls: list[str] = []
    fast = FastPath(_app(calls, cacheable=False))
    _get(fast, "/a")
    _get(fast, "/a")
    assert calls == ["/a", "/a"]


def test_memory_is_bounded():
    calls: list[str] = []
    fast = FastPath(_app(calls, size=1000), max_bytes=10_000)
    for n in range(100):
        _get(fast, f"/{n}")
    assert fast._bytes <= 10_000 and len(fast._entries) <= 10


def test_head_after_get_is_answered_without_the_app_and_sends_no_body():
    calls: list[str] = []
    fast = FastPath(_app(calls))
    assert _get(fast, "/a")[2] == b"x" * 10
    status, _headers, body = _get(fast, "/a", "HEAD")
    assert status == "200 OK" and body == b"" and calls == ["/a"]


def test_too_long_url_is_414():
    fast = FastPath(_app([]))
    status, _headers, body = _get(fast, "/" + "a" * 9000)
    assert status.startswith("414") and b"POST" in body
