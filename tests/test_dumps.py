"""Dumps: every format parses back (rdflib and pyoxigraph agree), bytes are deterministic, gzip works,
and ``tourkg dump`` writes exactly what the server serves."""

from __future__ import annotations

import gzip

import pyoxigraph as ox
import pytest
import requests
from rdflib import Dataset

from conftest import running_server
from tourkg.cli import main

DUMPS = [("ttl", "turtle", ox.RdfFormat.TURTLE, "text/turtle"),
         ("nt", "nt", ox.RdfFormat.N_TRIPLES, "application/n-triples"),
         ("jsonld", "json-ld", ox.RdfFormat.JSON_LD, "application/ld+json"),
         ("rdf", "xml", ox.RdfFormat.RDF_XML, "application/rdf+xml"),
         ("trig", "trig", ox.RdfFormat.TRIG, "application/trig"),
         ("nq", "nquads", ox.RdfFormat.N_QUADS, "application/n-quads")]


def fetch(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers={"Accept-Encoding": "identity", **headers}, timeout=60)


@pytest.fixture(scope="module")
def triple_count(live_url) -> int:
    """Distinct triples, from the N-Triples dump as read by pyoxigraph."""
    return len(set(ox.parse(fetch(live_url + "/dump.nt").content, format=ox.RdfFormat.N_TRIPLES)))


@pytest.mark.parametrize(("ext", "rdflib_name", "ox_format", "media_type"), DUMPS)
def test_dump_parses_with_rdflib_and_pyoxigraph(live_url, triple_count, ext, rdflib_name, ox_format,
                                                media_type):
    body = fetch(live_url + f"/dump.{ext}").content
    rdflib_triples = {(s, p, o) for s, p, o, _g in Dataset().parse(data=body, format=rdflib_name).quads()}
    ox_triples = {(q.subject, q.predicate, q.object) for q in ox.parse(body, format=ox_format)}
    assert len(rdflib_triples) == len(ox_triples) == triple_count


@pytest.mark.parametrize(("ext", "media_type"), [(d[0], d[3]) for d in DUMPS])
def test_dump_headers(live_url, ext, media_type):
    response = fetch(live_url + f"/dump.{ext}")
    assert response.headers["Content-Type"].startswith(media_type)
    assert response.headers["Content-Disposition"] == f'attachment; filename="tourkg.{ext}"'
    assert response.headers["ETag"].startswith('"')


@pytest.mark.parametrize("ext", [d[0] for d in DUMPS])
def test_dump_bytes_are_stable_across_requests(live_url, ext):
    assert fetch(live_url + f"/dump.{ext}").content == fetch(live_url + f"/dump.{ext}").content


def test_dump_bytes_are_stable_across_servers(local_url):
    with running_server() as other:
        assert fetch(other + "/dump.trig").content == fetch(local_url + "/dump.trig").content


@pytest.mark.parametrize("ext", [d[0] for d in DUMPS])
def test_cli_dump_writes_the_served_bytes(local_url, runner, tmp_path, ext):
    out = tmp_path / f"dump.{ext}"
    result = runner.invoke(main, ["dump", "--format", ext, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == fetch(local_url + f"/dump.{ext}").content


def test_dump_gzip_when_accepted(live_url):
    plain = fetch(live_url + "/dump.ttl").content
    response = requests.get(live_url + "/dump.ttl", headers={"Accept-Encoding": "gzip"}, stream=True,
                            timeout=60)
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.raw.read()) == plain


@pytest.mark.parametrize("encoding", ["gzip;q=0", "identity", "br"])
def test_dump_not_gzipped_when_gzip_is_refused_or_not_offered(live_url, encoding):
    response = requests.get(live_url + "/dump.ttl", headers={"Accept-Encoding": encoding}, stream=True,
                            timeout=60)
    assert "Content-Encoding" not in response.headers
    assert response.raw.read() == fetch(live_url + "/dump.ttl").content


def test_dump_gzip_and_plain_have_different_etags(live_url):
    plain = fetch(live_url + "/dump.ttl").headers["ETag"]
    packed = fetch(live_url + "/dump.ttl", **{"Accept-Encoding": "gzip"}).headers["ETag"]
    assert plain != packed


def test_unknown_dump_is_404(live_url):
    assert fetch(live_url + "/dump.xlsx").status_code == 404
