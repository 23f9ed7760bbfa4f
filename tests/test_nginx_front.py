"""Behind nginx (Debian's package) with ``--accel-redirect``: nginx sends the prepared dumps itself, byte
for byte what tourkg sends alone, with gzip, Range and HEAD, while every other route is proxied."""

from __future__ import annotations

import gzip
import os
import shutil

import pytest
import requests

from conftest import free_port, nginx_conf, running_server, web_server

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
