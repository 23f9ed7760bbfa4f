"""Blueprint ``dataset``: the landing page, dumps, VoID, ontology, shapes, sitemap and robots.txt.

Every body is computed once per app (the data never changes while serving) and served with a strong
ETag, so repeated downloads cost a hash comparison.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, url_for
from rdflib import Graph

from tourkg import formats, metadata
from tourkg.describe import LANGUAGES
from tourkg.documents import ontology_header, ontology_terms, outline
from tourkg.errors import NotFound
from tourkg.formats import Format
from tourkg.namespaces import served_prefixes
from tourkg.queries import examples
from tourkg.serialize import serialize_graph
from tourkg.web import publisher
from tourkg.web.conneg import DOCUMENT_OFFERS, choose_format
from tourkg.web.responses import alternates, file_representation, gzip_accepted, json_script, representation

bp = Blueprint("dataset", __name__)

TURTLE = formats.BY_NAME["turtle"]
#: RDF documents (VoID, shapes): Turtle first, so ``*/*`` gets Turtle.
RDF_OFFERS: tuple[Format, ...] = formats.GRAPHS
_DUMPS = {f.extension: f for f in metadata.DUMP_FORMATS}


@bp.app_template_filter("json_script")
def _json_script(data: object) -> str:
    return json_script(data)


def _serialize(graph: Graph, fmt: Format) -> bytes:
    """Stable bytes for a small description graph (VoID, ontology, shapes): same ETag in every worker."""
    return serialize_graph(graph, fmt, served_prefixes(publisher().iris.base))


_DOCUMENT_TEXT = {
    "void": ("Dataset description", "What this dataset is, in VoID and DCAT: size, classes and properties "
             "used, where to query and download it."),
    "shapes": ("SHACL shapes", "The constraints the data is validated with before it is served."),
}


def _render_document(key: str, graph: Graph, site: str) -> bytes:
    title, intro = _DOCUMENT_TEXT[key]
    triples = sorted(graph, key=str)
    jsonld = {"@context": "https://schema.org", "@type": "Dataset" if key == "void" else "CreativeWork",
              "name": title if key != "void" else publisher().settings.title, "description": intro,
              "url": site + request.path.lstrip("/")}
    return render_template("document.html", lang="en", title=title, intro=intro, path=request.path,
                           formats=RDF_OFFERS, outline=outline(triples, publisher().iris),
                           jsonld=jsonld).encode()


def _graph_document(key: str, graph_of: Callable[[str], Graph], fmt: Format,
                    variant: str | None = None) -> Response:
    """A small RDF document (VoID, shapes, ontology) in ``fmt`` or as HTML; ``graph_of(site)`` builds it
    for the serving origin ``site``; ``variant``: what else it depends on (kept apart under it)."""
    pub = publisher()
    if fmt is formats.HTML:
        body = pub.for_origin((key, variant, "html"),
                              lambda site: _render_document(key, graph_of(site), site), request.host_url)
        links = alternates((f, f"{request.path}?format={f.extension}") for f in RDF_OFFERS)
        return representation(body, formats.HTML.content_type, vary=("Accept",), links=links)
    body = pub.for_origin((key, variant, fmt.name), lambda site: _serialize(graph_of(site), fmt),
                          request.host_url)
    return representation(body, fmt.content_type, vary=("Accept",))


@bp.get("/")
def index() -> Response:
    """The landing page: what the dataset is, counts, entry points, example queries, dumps, license.

    In English only: its text is not translated, so Spanish labels inside it would be mislabelled."""
    pub = publisher()
    body = pub.for_origin(("index", pub.sparql_endpoint), lambda site: _render_index(LANGUAGES[0], site),
                          request.host_url)
    return representation(body, formats.HTML.content_type, headers={"Content-Language": LANGUAGES[0]},
                          links=[("/.well-known/void", "describedby", TURTLE.media_type)])


def _render_index(lang: str, site: str) -> bytes:
    pub = publisher()
    settings = pub.settings
    queries = [(e.title, e.text, "/sparql?" + urlencode({"query": e.text}))
               for e in examples(settings.examples)]
    downloads = [{"@type": "DataDownload", "encodingFormat": f.media_type,
                  "contentUrl": f"{site}dump.{f.extension}"} for f in _DUMPS.values()]
    jsonld = {"@context": "https://schema.org", "@type": "Dataset", "@id": metadata.dataset_iri(site),
              "name": settings.title, "description": settings.description, "url": site,
              "distribution": downloads, **({"license": settings.license} if settings.license else {})}
    entries = _entry_points(lang)  # first: the engine finishes its statistics meanwhile
    return render_template("index.html", lang=lang, stats=pub.store.stats(), queries=queries, jsonld=jsonld,
                           entries=entries, dumps=_DUMPS.values(), settings=settings, site=site,
                           live_endpoint=bool(pub.endpoint(site + "sparql"))).encode()


def _entry_points(lang: str) -> list[metadata.EntryPoint]:
    """The landing page's entry points, computed once per dataset (VoID takes its examples from them)."""
    pub = publisher()
    found = pub.cached(("entry-points", lang), lambda: pickle.dumps(
        metadata.entry_points(pub.store, pub.iris, lang)), shared=True)
    return pickle.loads(found)  # noqa: S301 - our own bytes, from the prepared folder


@bp.get("/dump.<extension>")
def dump(extension: str) -> Response:
    """The whole dataset, byte for byte what ``tourkg dump --format EXT`` writes; gzip on request."""
    fmt = _DUMPS.get(extension)
    if fmt is None:
        raise NotFound(f"No dump in .{extension}; available: " + ", ".join(f"/dump.{e}" for e in _DUMPS))
    packed = gzip_accepted()
    prepared = publisher().store.dump(fmt, gzipped=packed)
    headers = {"Content-Disposition": f'attachment; filename="tourkg.{extension}"', "Vary": "Accept-Encoding"}
    if packed:
        headers["Content-Encoding"] = "gzip"
    return file_representation(prepared, fmt.content_type, headers)


@bp.get("/.well-known/void")
def void() -> Response:
    """VoID + DCAT description (Turtle unless the client asks for another RDF syntax)."""
    pub = publisher()
    fmt = choose_format(request.headers.get("Accept"), request.args.get("format"), DOCUMENT_OFFERS, TURTLE)
    return _graph_document("void", lambda site: metadata.void_graph(
        pub.store, pub.iris, pub.settings, site, _entry_points(LANGUAGES[0]), pub.endpoint(site + "sparql")),
        fmt, variant=pub.sparql_endpoint)


@bp.get("/ontology")
def ontology() -> Response:
    """The ontology: HTML documentation for browsers, the ontology itself in RDF otherwise."""
    pub = publisher()
    if not len(pub.ontology):
        raise NotFound("No ontology is published with this dataset (tourkg serve --ontology FILE adds one).")
    fmt = choose_format(request.headers.get("Accept"), request.args.get("format"), DOCUMENT_OFFERS, TURTLE)
    if fmt is not formats.HTML:
        return _graph_document("ontology", lambda _site: pub.ontology, fmt)
    body = pub.cached(("ontology-html",), _render_ontology, pinned=True)
    links = alternates((f, f"/ontology?format={f.extension}") for f in RDF_OFFERS)
    return representation(body, formats.HTML.content_type, vary=("Accept",), links=links)


def _render_ontology() -> bytes:
    pub = publisher()
    header = ontology_header(pub.ontology)
    terms = ontology_terms(pub.ontology, pub.iris)
    defined = [{"@type": "DefinedTerm", "@id": t.iri, "name": t.labels.get("en", t.anchor)} for t in terms]
    jsonld = {"@context": "https://schema.org", "@type": "DefinedTermSet", "@id": header["iri"],
              "name": header["title"], "hasDefinedTerm": defined}
    return render_template("ontology.html", lang="en", header=header, terms=terms, formats=RDF_OFFERS,
                           jsonld=jsonld).encode()


@bp.get("/shapes")
def shapes() -> Response:
    """The SHACL shapes the data is validated with (Turtle unless asked otherwise)."""
    fmt = choose_format(request.headers.get("Accept"), request.args.get("format"), DOCUMENT_OFFERS, TURTLE)
    return _graph_document("shapes", lambda _site: publisher().shapes, fmt)


#: Most URLs in one sitemap file (sitemaps.org protocol 0.9); past it, /sitemap.xml is a sitemap index.
SITEMAP_SIZE = 50_000


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """Every page URL (sitemaps.org protocol 0.9): one sitemap, or an index of sitemaps of
    :data:`SITEMAP_SIZE` URLs each for a large dataset."""
    pub = publisher()
    body = pub.for_origin(("sitemap",), lambda site: _render_sitemap(None, site), request.host_url)
    return representation(body, "application/xml; charset=utf-8")


@bp.get("/sitemap-<int:number>.xml")
def sitemap_part(number: int) -> Response:
    """One part of a large dataset's sitemap (numbered from 1)."""
    pub = publisher()
    total = len(_sitemap_paths())
    if total <= SITEMAP_SIZE or not 1 <= number <= (total - 1) // SITEMAP_SIZE + 1:
        raise NotFound(f"There is no sitemap part {number}; /sitemap.xml lists them.")
    body = pub.for_origin(("sitemap", number), lambda site: _render_sitemap(number, site), request.host_url)
    return representation(body, "application/xml; charset=utf-8")


def _sitemap_paths() -> list[str]:
    pub = publisher()

    def paths() -> list[str]:
        pages = ["/", url_for("dataset.ontology")] if len(pub.ontology) else ["/"]
        return pages + [pub.iris.page_path(i) for i in metadata.page_iris(pub.store, pub.iris)]
    return pub.cached(("sitemap-paths",), paths, pinned=True)


def _render_sitemap(number: int | None, origin: str) -> bytes:
    site = origin.rstrip("/")
    paths = _sitemap_paths()
    if number is None and len(paths) > SITEMAP_SIZE:
        parts = [f"/sitemap-{n}.xml" for n in range(1, (len(paths) - 1) // SITEMAP_SIZE + 2)]
        return render_template("sitemap.xml", site=site, paths=parts, index=True).encode()
    chunk = paths if number is None else paths[(number - 1) * SITEMAP_SIZE: number * SITEMAP_SIZE]
    return render_template("sitemap.xml", site=site, paths=chunk, index=False).encode()


@bp.get("/robots.txt")
def robots() -> Response:
    """Allow everything and point crawlers to the sitemap."""
    # The query endpoint is for people and programs asking questions, not for crawling: every page
    # links a DESCRIBE query, and crawling those would only load the engine.
    # Health checks are for load balancers, not for an index.
    body = (f"User-agent: *\nDisallow: /sparql\nDisallow: /healthz\nDisallow: /readyz\nAllow: /\n"
            f"Sitemap: {request.host_url}sitemap.xml\n").encode()
    return representation(body, "text/plain; charset=utf-8")
