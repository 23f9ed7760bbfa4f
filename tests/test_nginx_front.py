"""Behind nginx (Debian's package): nginx sends the prepared dumps itself, byte for byte what tourkg sends
alone, with gzip, Range and HEAD, while every other route is proxied; with ``--accel-redirect`` (tourkg
names the file for each request) and with ``--dumps-link`` (nginx sends it from tourkg's link without
asking, configured exactly as the README shows)."""

from __future__ import annotations

import gzip
import os
import shutil
import sys

import pytest
import requests

from conftest import ROOT, free_port, nginx_conf, running_server, web_server

sys.path.insert(0, str(ROOT / "bench"))
from readme_nginx import dumps_link_conf  # noqa: E402

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
        # The README's configuration: connections to tourkg kept open, closed before granian's 5 s.
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
@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """(nginx URL, tourkg server, link): the README's configuration in front of ``--dumps-link``."""
    from conftest import server_process

    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_NGINX=1 but {REASON}")
    work = tmp_path_factory.mktemp("nginx-link")
    link = work / "public" / "dumps"
    port = free_port()
    with server_process("--cache-dir", str(work / "cache"), "--dumps-link", str(link)) as server:
        for ext in ("nt", "nq", "ttl", "trig", "jsonld", "rdf"):  # rendered now, not in the background
            for encoding in ("identity", "gzip"):
                requests.get(f"{server.url}/dump.{ext}", headers={"Accept-Encoding": encoding}, timeout=60)
        http, server_part = dumps_link_conf(server.url, link)
        conf = nginx_conf(work, port, server_part, http=http)
        with web_server([NGINX, "-c", str(conf)], f"http://127.0.0.1:{port}", "nginx") as url:
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
