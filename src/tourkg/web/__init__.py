"""The Flask app factory: blueprints, error handlers, CORS and security headers.

Per-app state lives in ``app.extensions["tourkg"]`` (a ``Publisher``) and is read through
:func:`publisher`; nothing else is global.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, has_request_context, request
from rdflib import Graph
from werkzeug.middleware.proxy_fix import ProxyFix

from tourkg.config import Settings, build_settings
from tourkg.dataset import OpenDataset, PendingDataset, open_dataset
from tourkg.errors import TourkgError
from tourkg.iris import IriMap
from tourkg.namespaces import PROV
from tourkg.store import Store
from tourkg.web.template_cache import bytecode_cache

#: Most representations kept in memory by ``Publisher.cached`` (per web worker).
CACHE_SIZE = 4096
#: The origin documents that name the server's own are rendered with; no request can come from it (the
#: ``.invalid`` top-level domain is reserved, RFC 2606).
ORIGIN_PLACEHOLDER = "http://origin.tourkg.invalid/"


@dataclass
class Publisher:
    """Everything the views need: the settings, the store and the IRI map of one app.

    ``repr_folder`` (the prepared dataset's ``repr/``) shares rendered representations between web
    workers and across restarts: a page is rendered once per dataset, not once per process. With a
    remote engine, whose data may change, nothing is shared and what is kept expires after ``ttl``.
    """

    settings: Settings
    store: Store
    iris: IriMap
    shapes: Graph
    ontology: Graph
    repr_folder: Path | None = None
    ttl: float | None = None
    dataset: OpenDataset | None = None
    #: The SPARQL endpoint VoID and the service description name: ``None``, this server's own ``/sparql``;
    #: otherwise that URL, or ``""`` for none (a static export, whose ``/sparql`` is only the query page).
    sparql_endpoint: str | None = None
    _cache: OrderedDict[Any, Any] = field(default_factory=OrderedDict)
    _pinned: dict[Any, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pinning: threading.Lock = field(default_factory=threading.Lock)
    _pin_locks: dict[Any, threading.Lock] = field(default_factory=dict)
    _recent: OrderedDict[Any, Any] = field(default_factory=OrderedDict)

    def cached(self, key: Any, compute: Any, pinned: bool = False, shared: bool = False) -> Any:
        """Compute a representation once: the data does not change while serving.

        ``pinned``: a fixed artifact, kept for good and computed by one thread only. Otherwise bounded
        (least recently used out), because some keys hold request values such as the Host header, and a
        flood of distinct ones must neither grow memory without end nor push the pinned artifacts out.
        ``shared``: bytes that do not depend on the request's host, kept in ``repr_folder`` too.
        """
        if pinned and self.ttl is None:
            if key in self._pinned:  # no lock once computed: one slow artifact never holds up the others
                return self._pinned[key]
            with self._pinning:
                lock = self._pin_locks.setdefault(key, threading.Lock())
            with lock:
                if key not in self._pinned:
                    self._pinned[key] = self._compute(key, compute, shared)
                return self._pinned[key]
        now = time.monotonic()
        with self._lock:
            if key in self._cache:
                value, born = self._cache[key]
                if self.ttl is None or now - born < self.ttl:
                    self._cache.move_to_end(key)
                    return value
        value = self._compute(key, compute, shared)
        with self._lock:
            self._cache[key] = (value, now)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return value

    def recent(self, key: Any, compute: Any, size: int = 16) -> Any:
        """A value kept only for the next few requests (an intermediate that several representations of
        one resource share, such as its canonical triples): bounded to ``size``, so it never grows."""
        with self._lock:
            if key in self._recent:
                return self._recent[key]
        value = compute()
        with self._lock:
            self._recent[key] = value
            while len(self._recent) > size:
                self._recent.popitem(last=False)
        return value

    def endpoint(self, own: str) -> str:
        """The SPARQL endpoint to name (VoID, the service description, the query page): ``own`` (this
        server's ``/sparql``) unless ``sparql_endpoint`` names another, or ``""`` for none."""
        return own if self.sparql_endpoint is None else self.sparql_endpoint

    def for_origin(self, key: Any, render: Any, site: str) -> bytes:
        """A document naming the server's own origin (the landing page, VoID, the sitemap): rendered
        once with a placeholder origin, shared between workers and restarts like a page, then given the
        origin this request came to (``render(origin)`` returns the bytes)."""
        body = self.cached(("any-origin", *key), lambda: render(ORIGIN_PLACEHOLDER), shared=True)
        return body.replace(ORIGIN_PLACEHOLDER.encode(), site.encode())

    def _compute(self, key: Any, compute: Any, shared: bool) -> Any:
        if not shared or self.repr_folder is None:
            return compute()
        path = self.repr_folder / hashlib.sha1(repr(key).encode()).hexdigest()
        try:
            return path.read_bytes()
        except OSError:
            pass
        value = compute()
        try:
            self.repr_folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
            partial.write_bytes(value)
            partial.replace(path)
        except OSError:  # a full disk costs speed, not correctness
            pass
        return value

    @classmethod
    def of(cls, dataset: OpenDataset, store: Store | None = None) -> Publisher:
        """The publisher of an opened dataset (``store`` replaces its store, for tests)."""
        remote = dataset.prepared is None
        folder = dataset.repr_folder / rendering_key(dataset.settings) if dataset.repr_folder else None
        return cls(settings=dataset.settings, store=store or dataset.store,
                   iris=IriMap(dataset.settings.base_uri), shapes=dataset.shapes, ontology=dataset.ontology,
                   repr_folder=folder, ttl=60.0 if remote else None, dataset=dataset)

    @classmethod
    def opened(cls, pending: PendingDataset, warm: Callable[[Publisher], None]) -> Publisher:
        """The publisher of ``pending`` once it conforms to the shapes, its first documents rendered by
        ``warm`` as soon as the engine is ready, while the SHACL gate may still run (the gate is the
        longest part of a first start; refused data is closed again)."""
        found: list[Publisher] = []

        def meanwhile(dataset: OpenDataset) -> None:
            found.append(cls.of(dataset))
            warm(found[0])

        pending.finish(meanwhile)
        return found[0]

    def close(self) -> None:
        """Stop what this publisher started (the engine process of its dataset)."""
        if self.dataset is not None:
            self.dataset.close()
        else:
            self.store.close()


_PACKAGE = Path(__file__).resolve().parents[1]


def rendering_key(settings: Settings) -> str:
    """What rendered pages depend on besides the data: the settings shown on them (title, licence, …),
    the example queries and tourkg's own code and templates. Pages are kept per key, so a restart with a
    new ``--title`` or a new release never serves pages rendered before."""
    digest = hashlib.sha256()
    for value in (settings.title, settings.description, settings.license, settings.publisher,
                  settings.proxy_hops, settings.base_uri):
        digest.update(repr(value).encode())
    examples = sorted(settings.examples.glob("*.rq")) if settings.examples else []
    for path in examples:
        digest.update(path.name.encode() + path.read_bytes())
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".html", ".css", ".js", ".rq", ".xml"):
            stat = path.stat()
            digest.update(f"{path.relative_to(_PACKAGE)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


#: WSGI environ key of the ``Publisher`` a request is answered with: set by the server for each request,
#: so a request that started before a reload finishes on the data it started with.
ENVIRON_KEY = "tourkg.publisher"


def publisher() -> Publisher:
    """The ``Publisher`` of this request (the server's current one when it began), else the app's."""
    if has_request_context():
        found = request.environ.get(ENVIRON_KEY)
        if found is not None:
            return found
    return current_app.extensions["tourkg"]


def build_publisher(settings: Settings, store: Store | None = None) -> Publisher:
    """Prepare, validate (unless disabled) and open the dataset of ``settings``.

    :raises StartupError: unreadable input (exit code 2) or non-conforming data (exit code 1).
    """
    return Publisher.of(open_dataset(settings), store)


#: Every origin may read every answer and every header of it. ``*`` in Expose-Headers is the Fetch
#: standard's wildcard for requests without credentials, which ``Allow-Origin: *`` already implies: it
#: exposes ETag, Link, Content-Disposition and Vary (and any header added later) in fewer bytes than
#: naming them, on every response.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "*",
}
_PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Content-Type, If-None-Match, If-Modified-Since",
    "Access-Control-Max-Age": "86400",
}
#: A comma-separated list of header names (RFC 9110 §5.1 tokens), as a preflight may ask for; nothing
#: else is echoed back, so a crafted value cannot inject into the response.
_HEADER_NAMES = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*")
MAX_REQUEST_HEADERS_LENGTH = 1024
_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def _finish(response: Response) -> Response:
    """CORS on everything (linked data is for every origin) and safe defaults for HTML."""
    response.headers.update(CORS_HEADERS)
    if request.method == "OPTIONS":
        _preflight(response)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def _preflight(response: Response) -> None:
    """Answer a CORS preflight (Fetch standard, CORS protocol): allow the methods and the headers the
    client will send. Browser tools send headers of their own (``Authorization`` for a proxy, ``X-...``),
    and a preflight that does not list one makes the browser drop the real request, so they are echoed.
    A successful preflight has no body, hence no Content-Type (Flask would say text/html)."""
    response.headers.update(_PREFLIGHT_HEADERS)
    asked = request.headers.get("Access-Control-Request-Headers", "").strip()
    if asked and len(asked) <= MAX_REQUEST_HEADERS_LENGTH and _HEADER_NAMES.fullmatch(asked):
        response.headers["Access-Control-Allow-Headers"] = asked
    if response.status_code in (200, 204):
        response.set_data(b"")
        response.headers.pop("Content-Type", None)


def create_app(settings: Settings | None = None, store: Store | None = None,
               publisher_: Publisher | None = None) -> Flask:
    """Create the WSGI app for ``settings`` (default: the tour).

    :param store: use this store instead of opening one from the settings' files.
    :param publisher_: reuse an already built ``Publisher`` (tests share one across apps).
    """
    settings = settings or build_settings()
    app = build_app(settings)
    app.extensions["tourkg"] = publisher_ or build_publisher(settings, store)
    return app


def build_app(settings: Settings) -> Flask:
    """The Flask app without its dataset (set ``app.extensions["tourkg"]`` before serving): the server
    builds it, and compiles its templates, while the dataset is still being opened."""
    from tourkg.web import dataset_views, errors, resource_views, search_views, sparql_views

    app = Flask(__name__)
    app.jinja_options = {**app.jinja_options, "bytecode_cache": bytecode_cache()}  # before jinja_env is made
    app.config["MAX_CONTENT_LENGTH"] = max(1 << 20, settings.max_query_length * 4)
    app.json.sort_keys = False
    if settings.proxy_hops:  # behind a reverse proxy: trust its forwarded origin, and only its
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                                x_host=settings.proxy_hops, x_port=settings.proxy_hops)
    app.register_blueprint(sparql_views.bp)
    app.register_blueprint(dataset_views.bp)
    app.register_blueprint(search_views.bp)
    app.register_blueprint(resource_views.bp)  # last: it holds the catch-all path route
    errors.register(app)
    app.after_request(_finish)
    app.context_processor(_dataset_context)
    return app


_LICENSE_NAMES = {"https://creativecommons.org/licenses/by/4.0/": "CC BY 4.0",
                  "https://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0"}


def _dataset_context() -> dict[str, Any]:
    """What every page's frame shows about the dataset: its licence and whether there is an ontology."""
    pub = publisher()
    license_iri = pub.settings.license
    try:
        provenance = pub.cached(("has-provenance",), lambda: bool(pub.store.select(
            f"SELECT ?g WHERE {{ ?g <{PROV.wasDerivedFrom}> ?source }} LIMIT 1")), pinned=True)
    except TourkgError:  # the engine is away: an error page must still render, without this line
        provenance = False
    return {"dataset": {"license": license_iri, "license_name": _LICENSE_NAMES.get(license_iri, license_iri),
                        "has_ontology": len(pub.ontology) > 0, "has_shapes": len(pub.shapes) > 0,
                        "has_provenance": provenance}}
