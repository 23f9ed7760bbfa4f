"""Behind nginx (Debian's package) with ``--accel-redirect``: nginx sends the prepared dumps itself, byte
for byte what tourkg sends alone, with gzip, Range and HEAD, while every other route is proxied."""

from __future__ import annotations

import getpass
import gzip
import os
import shutil
import subprocess
import time

import pytest
import requests

from conftest import free_port, running_server

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
    conf = work / "nginx.conf"
    # nginx's workers must read the cache folder: run them as this user (ignored when not root).
    conf.write_text(f"""user {getpass.getuser()}; worker_processes 1; pid {work}/nginx.pid;
error_log {work}/error.log; daemon off;
events {{ worker_connections 256; }}
http {{
  access_log off; sendfile on;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://127.0.0.1:{{upstream}}; proxy_set_header Host $http_host; }}
    location {PREFIX} {{ internal; alias {cache}/; gzip_static on; gzip_vary on; }}
  }}
}}
""")
    with running_server("--cache-dir", str(cache), "--accel-redirect", PREFIX) as upstream:
        conf.write_text(conf.read_text().replace("{upstream}", upstream.rsplit(":", 1)[1]))
        proc = subprocess.Popen([NGINX, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    requests.get(url + "/robots.txt", timeout=2)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.1)
            yield url, upstream
        finally:
            proc.terminate()
            proc.wait(10)


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
