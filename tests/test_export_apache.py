"""The static export served by Apache (Debian's apache2) with the generated ``.htaccess``: the same
status, type and bytes as the live server for every sitemap URL in both languages, every /data format,
every dump plain and gzip and the negotiated documents, and the same /id 303 targets."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urljoin

import pytest

from conftest import free_port, running_server, web_server
from test_export import (
    BROWSER,
    RDF_ACCEPTS,
    both,
    check_data_formats,
    check_gzip_and_revalidation,
    export,
    live_endpoint,
    live_sitemap_paths,
    resource_names,
    same,
)

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
INSTALLED = os.path.exists(APACHE) and MODULES.is_dir()
REQUIRED = os.environ.get("TOURKG_REQUIRE_APACHE") == "1"
REASON = "Debian apache2 not installed: apt-get install apache2 (CI installs it)"
pytestmark = pytest.mark.skipif(not INSTALLED and not REQUIRED, reason=REASON)


@pytest.fixture(scope="module")
def sites():
    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_APACHE=1 but {REASON}")
    # Apache's children run as www-data when started as root: a folder they can read
    work = Path(tempfile.mkdtemp(prefix="tourkg-apache-"))
    work.chmod(0o755)
    port = free_port()
    static = f"http://127.0.0.1:{port}"
    export(work / "site", static + "/", *live_endpoint(static))
    modules = "\n".join(f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in
                        ("mpm_event", "authz_core", "dir", "mime", "rewrite", "headers"))
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    conf = work / "httpd.conf"
    conf.write_text(f"""ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {work}/httpd.pid
ErrorLog {work}/error.log
{modules}
{user}TypesConfig /etc/mime.types
DocumentRoot {work}/site
<Directory {work}/site>
    AllowOverride All
    Require all granted
</Directory>
""")
    try:
        command = [APACHE, "-f", str(conf), "-DFOREGROUND"]
        with web_server(command, static, "apache2"), running_server() as live:
            yield static, live, work / "site"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_every_sitemap_url_in_both_languages(sites):
    for path in live_sitemap_paths(sites):
        for language in ("en", "es;q=1, en;q=0.5"):
            same(*both(sites, path, Accept=BROWSER, **{"Accept-Language": language}), path)


def test_every_data_format_and_id(sites):
    static, _, _ = sites
    for rest in resource_names(sites):
        check_data_formats(sites, rest)
        for accept in (BROWSER, *RDF_ACCEPTS):
            a, b = both(sites, f"/id/{rest}", Accept=accept)
            assert a.status_code == b.status_code == 303, (rest, accept)
            assert urljoin(static, a.headers["Location"]) == urljoin(static, b.headers["Location"])
            assert "Accept" in a.headers.get("Vary", "")
    a, b = both(sites, "/id/country/atlantis", Accept=BROWSER)
    assert a.status_code == b.status_code == 404


def test_every_dump_plain_and_gzip(sites):
    for extension in ("ttl", "nt", "jsonld", "rdf", "trig", "nq"):
        path = f"/dump.{extension}"
        plain = both(sites, path, **{"Accept-Encoding": "identity"})
        same(*plain, path)
        check_gzip_and_revalidation(sites, path, plain)


def test_negotiated_documents(sites):
    for path in ("/.well-known/void", "/ontology", "/shapes", "/sparql"):
        for accept in (*RDF_ACCEPTS, "*/*"):
            same(*both(sites, path, Accept=accept), f"{path} {accept}")
    for path in ("/", "/robots.txt", "/sitemap.xml", "/static/site.css"):
        same(*both(sites, path), path)
