"""``tourkg export DIR``: the whole site as static files, byte for byte what the server answers.

Every representation is rendered by the server's own app (the same views, the same prepared folder, so
pages already rendered for the server are reused) for the public origin given with ``--site``, and
written under ``DIR`` at its own path: a page per language (``page/x.en.html``, ``page/x.es.html``),
every ``/data`` format, the dumps plain and gzipped with ``SHA256SUMS``, VoID, the ontology, the shapes
and the service description in every format, the sitemap, ``robots.txt``, the static assets and the
label search index split in shards for the browser. Beside them: ``nginx-site.conf`` (an include for a
``server`` block) and ``.htaccess`` (Apache) that do the content negotiation and the ``/id/…`` 303s
after the W3C *Best Practice Recipes for Publishing RDF Vocabularies*, and for hosts without any
configuration, ``id/x.html`` documents that send browsers on to the page and advertise the data.

Incremental: a file whose bytes are unchanged is not rewritten (so ``rsync`` and object-storage syncs
move only what changed), and every file is written aside and renamed, never seen half written.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape, unescape
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from tourkg import formats, metadata
from tourkg.describe import LANGUAGES
from tourkg.web import ENVIRON_KEY, Publisher, create_app
from tourkg.web.conneg import DOCUMENT_OFFERS, SERVICE_OFFERS

#: The extension of each negotiated document variant (``void.ttl``, ``ontology.html``, ...).
DOCUMENTS = {"/.well-known/void": DOCUMENT_OFFERS, "/ontology": DOCUMENT_OFFERS, "/shapes": DOCUMENT_OFFERS,
             "/sparql": SERVICE_OFFERS}
HERE = Path(__file__).resolve().parent
#: Processes rendering the resources of a large dataset (the engine process answers them all).
PROCESSES = 4
#: The list of the files an export wrote, in its folder: the next export removes those it no longer writes.
MANIFEST = ".tourkg-export-files"
#: The npm release of Oxigraph's WebAssembly build bundled by ``--with-in-browser-sparql``.
OXIGRAPH_NPM = "0.5.11"


class ExportError(Exception):
    """The export cannot be made as asked (a missing tool)."""


@dataclass
class Report:
    """What an export did."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file of this export, relative to its folder
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        return (f"{self.written + self.unchanged:,} files ({self.written:,} written, {self.unchanged:,} "
                f"unchanged, {self.removed:,} removed) in {time.monotonic() - self.started:.1f} s")


class Rendered(NamedTuple):
    """The app's answer to one request: its status code and body."""

    status_code: int
    data: bytes


class Exporter:
    """Renders through the app and writes files (see the module docstring)."""

    def __init__(self, pub: Publisher, target: Path, site: str, *, sparql_endpoint: str | None = None,
                 in_browser_sparql: bool = False, processes: int | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.pub, self.target = pub, target
        self.processes = processes
        self.in_browser_sparql = in_browser_sparql
        self.site = site.rstrip("/") + "/"
        self.sparql_endpoint = sparql_endpoint
        # VoID and the service description name the live endpoint, or none: the export's own /sparql is
        # only the query page (a static file answers no query).
        pub.sparql_endpoint = sparql_endpoint or ""
        self.app = create_app(pub.settings, publisher_=pub)
        origin = urlsplit(self.site)
        port = origin.port or (443 if origin.scheme == "https" else 80)
        self._environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "SERVER_NAME": origin.hostname or "",
                         "SERVER_PORT": str(port), "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": origin.netloc,
                         "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0), "wsgi.url_scheme": origin.scheme,
                         "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
                         "wsgi.run_once": False, ENVIRON_KEY: pub}
        self.report = Report()
        self._folders: set[Path] = set()  # folders known to exist (one mkdir each, not one per file)
        self.progress = progress or (lambda _line: None)
        self._last = 0.0

    # -- rendering ---------------------------------------------------------------------------------
    def get(self, path: str, accept: str = "*/*", **headers: str) -> Rendered:
        """What the app answers a GET of ``path`` (with its query string) on the public origin: called
        as a WSGI server calls it, with the environ built directly (Werkzeug's test client cost more
        than a data document's rendering, for nearly a million requests at 1M triples)."""
        where, _, query = path.partition("?")
        environ = {**self._environ, "PATH_INFO": unquote(where).encode().decode("latin-1"),
                   "QUERY_STRING": query, "HTTP_ACCEPT": accept, "wsgi.input": io.BytesIO()}
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        captured: list[str] = []

        def start_response(status: str, _headers: list, _exc_info: Any = None) -> Callable[[bytes], None]:
            captured.append(status)
            return lambda _data: None

        body = self.app(environ, start_response)
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return Rendered(int(captured[-1].split(" ", 1)[0]), data)

    def body(self, path: str, accept: str = "*/*", **headers: str) -> bytes | None:
        response = self.get(path, accept, **headers)
        if response.status_code != 200:
            self.report.skipped.append(f"{path} ({response.status_code})")
            return None
        return response.data

    # -- writing -----------------------------------------------------------------------------------
    def write(self, relative: str, data: bytes) -> None:
        """Write ``DIR/relative`` unless it already holds these bytes; aside, then renamed."""
        self.report.files.append(relative.lstrip("/"))
        path = self.target / relative.lstrip("/")
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                self.report.unchanged += 1
                return self._tick()
        except OSError:
            pass
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(path)
        self.report.written += 1
        self._tick()

    def copy(self, source: Path, relative: str) -> None:
        """Copy a (possibly large) file in blocks, unless the target is the same bytes."""
        self.report.files.append(relative.lstrip("/"))
        path = self.target / relative.lstrip("/")
        if path.exists() and path.stat().st_size == source.stat().st_size and _same(source, path):
            self.report.unchanged += 1
            return self._tick()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        shutil.copyfile(source, partial)
        partial.replace(path)
        self.report.written += 1
        self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last > 1.0:
            self._last = now
            self.progress(f"export: {self.report.written + self.report.unchanged:,} files so far")

    # -- the site ----------------------------------------------------------------------------------
    def run(self) -> Report:
        self.target.mkdir(parents=True, exist_ok=True)
        paths = self._page_paths()
        self._landing_and_lists()
        self._resources(paths)
        self._documents()
        self._dumps()
        self._static()
        if self.in_browser_sparql:
            self._oxigraph_wasm()
        self._search()
        self._configuration()
        self._prune()
        return self.report

    def _prune(self) -> None:
        """Remove the files an earlier export wrote that this one did not (a resource gone from the
        data: its pages, data and ``/id`` document must go too, or the web server would go on serving
        them). Only files listed in the earlier export's :data:`MANIFEST` are touched, never anything
        else in the folder; the new list is written last, so an interrupted export prunes next time."""
        manifest = self.target / MANIFEST
        try:
            before = set(manifest.read_text(encoding="utf-8").splitlines())
        except OSError:
            before = set()
        now = set(self.report.files)
        for relative in sorted(before - now):
            path = self.target / relative
            if ".." in Path(relative).parts or not path.is_file():
                continue  # never outside the folder; already gone
            path.unlink()
            self.report.removed += 1
            with contextlib.suppress(OSError):  # its folder too, once empty
                path.parent.rmdir()
        listed = "".join(f"{name}\n" for name in sorted(now)).encode()
        with contextlib.suppress(OSError):
            if manifest.read_bytes() == listed:
                return  # unchanged, like any other file of the export
        partial = manifest.with_name(f"{manifest.name}.{os.getpid()}.part")
        partial.write_bytes(listed)
        partial.replace(manifest)

    def _resources(self, paths: list[str]) -> None:
        """Every resource's pages, data and /id document; in several processes for a large dataset
        (forked here: they share the engine, and each writes its own files)."""
        workers = self.processes or (min(PROCESSES, os.cpu_count() or 1) if len(paths) >= 200 else 1)
        if workers == 1:
            self._resource_slice(paths, 0, 1)
            return
        children = []
        for number in range(workers):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # a child: its share, then its report, and out without any cleanup
                os.close(read)
                try:
                    self.report = Report()
                    self._resource_slice(paths, number, workers)
                    outcome = {"written": self.report.written, "unchanged": self.report.unchanged,
                               "skipped": self.report.skipped, "files": self.report.files}
                except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails
                    outcome = {"error": f"{type(exc).__name__}: {exc}"}
                with os.fdopen(write, "w") as out:
                    out.write(json.dumps(outcome))
                os._exit(0)
            os.close(write)
            children.append((pid, read))
        errors = []
        for pid, read in children:
            with os.fdopen(read) as source:
                text = source.read()
            os.waitpid(pid, 0)
            outcome = json.loads(text or '{"error": "an export process stopped"}')
            if "error" in outcome:
                errors.append(outcome["error"])
                continue
            self.report.written += outcome["written"]
            self.report.unchanged += outcome["unchanged"]
            self.report.skipped += outcome["skipped"]
            self.report.files += outcome["files"]
        if errors:
            raise ExportError("exporting the resources failed: " + "; ".join(errors))

    def _resource_slice(self, paths: list[str], number: int, workers: int) -> None:
        mine = paths[number::workers]
        for done, path in enumerate(mine):
            self._resource(path)
            if number == 0 and done % 500 == 0:
                self.progress(f"export: resource {done * workers + 1:,} of {len(paths):,}")

    def _page_paths(self) -> list[str]:
        return [self.pub.iris.page_path(i) for i in metadata.page_iris(self.pub.store, self.pub.iris)]

    def _landing_and_lists(self) -> None:
        for path, name in (("/", "index.html"), ("/robots.txt", "robots.txt")):
            data = self.body(path, "text/html" if path == "/" else "*/*")
            if data is not None:
                self.write(name, data)
        sitemap = self.body("/sitemap.xml")
        if sitemap is not None:
            self.write("sitemap.xml", sitemap)
            number = 1
            while (part := self.get(f"/sitemap-{number}.xml")).status_code == 200:
                self.write(f"sitemap-{number}.xml", part.data)
                number += 1

    def _resource(self, page: str) -> None:
        rest = page[len("/page/"):]
        for lang in LANGUAGES:
            data = self.body(page, "text/html", **{"Accept-Language": lang})
            if data is not None:
                self.write(f"page/{rest}.{lang}.html", data)
                if lang == LANGUAGES[0]:  # for hosts without configuration that serve /x from x.html
                    self.write(f"page/{rest}.html", data)
                self._lists(page, rest, lang, data)
        for fmt in formats.GRAPHS:
            data = self.body(f"/data/{rest}.{fmt.extension}")
            if data is not None:
                self.write(f"data/{rest}.{fmt.extension}", data)
        self.write(f"id/{rest}.html", self._id_document(rest))

    def _lists(self, page: str, rest: str, lang: str, html: bytes) -> None:
        """The paginated lists a hub resource's page links to (``?property=…&direction=…&offset=…``),
        each page of them: written as ``page/x@QUERY.lang.html``, which the web server configurations
        answer for ``/page/x?QUERY``."""
        link = re.compile(rb'href="' + re.escape(page.encode()) + rb'\?(property=[^"]+)"')
        todo = [unescape(m.group(1).decode()) for m in link.finditer(html)]
        seen: set[str] = set()
        while todo:
            query = todo.pop()
            if query in seen:
                continue
            seen.add(query)
            listed = self.body(f"{page}?{query}", "text/html", **{"Accept-Language": lang})
            if listed is None:
                continue
            self.write(f"page/{rest}@{query}.{lang}.html", listed)
            todo += [unescape(m.group(1).decode()) for m in link.finditer(listed)]

    def _id_document(self, rest: str) -> bytes:
        """For hosts without configuration: ``/id/x`` as a document that sends browsers to the page and
        advertises every data document."""
        page = escape(f"/page/{rest}")
        alternates = "".join(f'<link rel="alternate" type="{f.media_type}" '
                             f'href="{escape(f"/data/{rest}.{f.extension}")}">\n' for f in formats.GRAPHS)
        return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                f'<meta http-equiv="refresh" content="0; url={page}">\n<link rel="canonical" href="{page}">\n'
                f'{alternates}<title>See {page}</title>\n</head>\n<body>\n<p>This resource is described at '
                f'<a href="{page}">{page}</a>.</p>\n</body>\n</html>\n').encode()

    def _documents(self) -> None:
        for path, offers in DOCUMENTS.items():
            if path == "/ontology" and not len(self.pub.ontology):
                continue
            if path == "/shapes" and not len(self.pub.shapes):
                continue
            for fmt in offers:
                if path == "/sparql" and fmt is not formats.HTML and not self.sparql_endpoint:
                    continue  # no endpoint to describe (the app answers 406; the web server too)
                data = self.body(path, fmt.media_type)
                if data is None:
                    continue
                if path == "/sparql" and fmt is formats.HTML and self.in_browser_sparql:
                    script = b'<script type="module" src="/static/sparql-in-browser.js"></script>\n</head>'
                    data = data.replace(b"</head>", script, 1)
                self.write(f"{path.lstrip('/')}.{fmt.extension}", data)

    def _dumps(self) -> None:
        sums = []
        for fmt in metadata.DUMP_FORMATS:
            for packed in (False, True):
                dump = self.pub.store.dump(fmt, gzipped=packed)
                name = f"dump.{fmt.extension}" + (".gz" if packed else "")
                self.copy(dump.path, name)
                sums.append(f"{_sha256(self.target / name)}  {name}\n")
        self.write("SHA256SUMS", "".join(sums).encode())

    def _static(self) -> None:
        for source in sorted((HERE / "web" / "static").iterdir()):
            if source.is_file():
                self.copy(source, f"static/{source.name}")
        data = self.body("/search", "text/html")  # the results page, which search.js fills in the browser
        if data is not None:
            self.write("search.html", data)

    def _oxigraph_wasm(self) -> None:
        """Oxigraph's WebAssembly build (npm package ``oxigraph``) for the in-browser query page."""
        npm = shutil.which("npm")
        if npm is None:
            raise ExportError("--with-in-browser-sparql needs npm (Node.js) to fetch the oxigraph package.")
        with tempfile.TemporaryDirectory() as work:
            done = subprocess.run([npm, "pack", f"oxigraph@{OXIGRAPH_NPM}", "--silent"], cwd=work,
                                  capture_output=True, text=True, timeout=300)
            packed = sorted(Path(work).glob("oxigraph-*.tgz"))
            if done.returncode != 0 or not packed:
                reason = done.stderr.strip()[-300:]
                raise ExportError(f"npm could not fetch oxigraph@{OXIGRAPH_NPM}: {reason}")
            with tarfile.open(packed[0]) as archive:
                archive.extractall(work, filter="data")
            for name in ("web.js", "web_bg.wasm", "package.json", "README.md"):
                self.copy(Path(work) / "package" / name, f"static/oxigraph/{name}")

    def _search(self) -> None:
        index = self.pub.store.search_index()
        manifest = {}
        for name, (kind, ids) in index.shards().items():
            rows = [[*index.row(i), self.pub.iris.page_path(index.entries[i].iri)] for i in ids]
            self.write(f"search/index/{name}.json", json.dumps(rows, ensure_ascii=False,
                                                               separators=(",", ":")).encode())
            manifest[name] = kind
        self.write("search/index/shards.json", json.dumps(manifest, sort_keys=True).encode())

    def _configuration(self) -> None:
        self.write("nginx-site.conf", (HERE / "export_nginx.conf").read_bytes())
        self.write(".htaccess", (HERE / "export_htaccess").read_bytes())
        self.write(".nojekyll", b"")  # GitHub Pages: serve .well-known/ and _-named files as they are


def _same(a: Path, b: Path) -> bool:
    with a.open("rb") as one, b.open("rb") as other:
        while True:
            block = one.read(1 << 20)
            if block != other.read(1 << 20):
                return False
            if not block:
                return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export(pub: Publisher, target: Path, site: str, sparql_endpoint: str | None = None,
           in_browser_sparql: bool = False, processes: int | None = None) -> Report:
    """Export the site of ``pub`` into ``target`` for the public origin ``site``.

    :raises ExportError: ``in_browser_sparql`` without npm, or npm failing.
    """
    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
    return Exporter(pub, target, site, sparql_endpoint=sparql_endpoint, in_browser_sparql=in_browser_sparql,
                    processes=processes, progress=say).run()
