"""Blueprint ``resources``: ``/id`` (303 only), ``/page`` (HTML), ``/data`` (RDF), and the catch-all that
maps any other path on our origin to the IRI ``{base}{path}``.

The 303 pattern follows W3C "Cool URIs for the Semantic Web" §4.3 and pubby's ``WebURIServlet``: the
IRI names the thing, so it never answers with a document itself but points to one.

What ``/id`` sends where (``ID_FORMATS`` is the server's order of preference):

* Browsers name ``text/html`` (or ``application/xhtml+xml``) explicitly with q=1 and ``*/*`` with a lower
  q, so they get the HTML page.
* ``Accept: */*`` alone, or no ``Accept`` at all, gets **Turtle**. Clients that state no preference are
  tools (curl, wget, scripts, crawlers) rather than people: browsers always ask for HTML. Turtle is the
  data itself, readable in a terminal, and the Linked Data convention is that an IRI yields its data.
  pubby made the same call so that ``curl`` sees RDF.
* ``text/*`` also prefers Turtle (it comes before HTML in the list); RDF types by q-value otherwise.
* Nothing acceptable (e.g. ``image/png`` only) is a 406 listing what is offered.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from tourkg import formats
from tourkg.describe import LANGUAGES, describe_resource, exists, list_values
from tourkg.errors import BadRequest, NotFound
from tourkg.extras import add_extras
from tourkg.formats import Format
from tourkg.namespaces import served_prefixes
from tourkg.schema_markup import schema_org
from tourkg.serialize import canonical, description_triples, serialize_canonical
from tourkg.web import publisher
from tourkg.web.conneg import DOCUMENT_OFFERS, choose_format
from tourkg.web.fastpath import CACHEABLE
from tourkg.web.responses import alternates, representation

bp = Blueprint("resources", __name__)

TURTLE = formats.BY_NAME["turtle"]
#: Representations of a resource document, in the server's preference order.
DATA_FORMATS: tuple[Format, ...] = formats.GRAPHS
#: ``/id`` offers: RDF first, so that ``*/*`` and a missing Accept get Turtle (see the module docstring).
ID_FORMATS: tuple[Format, ...] = DOCUMENT_OFFERS


def _not_found(iri: str) -> NotFound:
    return NotFound(f"<{iri}> is not in this dataset. Start from the home page, or search with SPARQL.")


def see_other(iri: str) -> Response:
    """303 to the page or the data document of ``iri``, chosen by ``Accept``.

    :raises NotFound: the IRI is not in the data.
    :raises NotAcceptable: neither HTML nor any RDF syntax is acceptable.
    """
    pub = publisher()
    if not exists(pub.store, iri):
        raise _not_found(iri)
    fmt = choose_format(request.headers.get("Accept"), None, ID_FORMATS, TURTLE)
    target = pub.iris.page_path(iri) if fmt is formats.HTML else pub.iris.data_path(iri, fmt.extension)
    response = redirect(target, 303)
    response.headers["Vary"] = "Accept"
    response.headers[CACHEABLE] = "1"
    return response


def _uri_argument() -> str:
    iri = request.args.get("uri", "").strip()
    if not iri:
        raise BadRequest("Give the resource's IRI in the 'uri' parameter, e.g. /page?uri=https://...")
    return iri


def _render_page(iri: str, lang: str) -> bytes:
    pub = publisher()
    view = describe_resource(pub.store, pub.iris, iri, lang)
    if view is None:
        raise _not_found(iri)
    add_extras(pub.store, pub.iris, view)
    # The page's own URL, relative: JSON-LD resolves it against the page, so the bytes do not depend on
    # the host the page was asked on and can be rendered once for every worker and host.
    jsonld = schema_org(view, pub.iris.page_path(iri))
    return render_template("page.html", view=view, lang=lang, jsonld=jsonld).encode()


def _render_list(iri: str, predicate: str, incoming: bool, offset: int, lang: str) -> bytes:
    found = list_values(publisher().store, publisher().iris, iri, predicate, incoming, offset, lang)
    if found is None:
        raise _not_found(iri)
    return render_template("list.html", listing=found, lang=lang).encode()


def _list_arguments() -> tuple[str, bool, int]:
    """``property``, ``direction`` (in or out) and ``offset`` of a paginated list of values."""
    predicate = request.args.get("property", "")
    direction = request.args.get("direction", "out")
    offset = request.args.get("offset", "0")
    if direction not in ("in", "out") or not offset.isdigit() or len(offset) > 9:
        raise BadRequest("A list of values takes property=IRI, direction=in or out, and offset=N (a number).")
    return predicate, direction == "in", int(offset)


def page(iri: str) -> Response:
    """The HTML page of ``iri`` in the reader's language (``Accept-Language``: es or en); with
    ``property=`` one page of that property's values (the "more" link of a resource with many)."""
    pub = publisher()
    lang = request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0])
    if "property" in request.args:
        predicate, incoming, offset = _list_arguments()
        body = pub.cached(("list", iri, predicate, incoming, offset, lang),
                          lambda: _render_list(iri, predicate, incoming, offset, lang), shared=True)
        return representation(body, formats.HTML.content_type, vary=("Accept-Language",),
                              headers={"Content-Language": lang})
    body = pub.cached(("page", iri, lang), lambda: _render_page(iri, lang), shared=True)
    links = alternates((f, pub.iris.data_path(iri, f.extension)) for f in DATA_FORMATS)
    return representation(body, formats.HTML.content_type, vary=("Accept-Language",), links=links,
                          headers={"Content-Language": lang})


def data(iri: str, fmt: Format, negotiated: bool = False) -> Response:
    """The RDF description of ``iri`` in ``fmt``; ``Vary: Accept`` when the format was negotiated."""
    pub = publisher()
    if not exists(pub.store, iri):
        raise _not_found(iri)
    body = pub.cached(("data", iri, fmt.name), lambda: serialize_canonical(
        pub.recent(("canonical", iri), lambda: canonical(description_triples(pub.store, iri))), fmt,
        served_prefixes(pub.iris.base)), shared=True)
    others = [(f, pub.iris.data_path(iri, f.extension)) for f in DATA_FORMATS if f is not fmt]
    links = alternates([*others, (formats.HTML, pub.iris.page_path(iri))])
    return representation(body, fmt.content_type, vary=("Accept",) if negotiated else (), links=links)


@bp.get("/id/<path:rest>")
def dereference(rest: str) -> Response:
    """``/id/{type}/{slug}``: 303 to ``/page/...`` or ``/data/...{ext}``."""
    return see_other(publisher().iris.iri_for_id_path(rest))


@bp.get("/page/<path:rest>")
def page_by_path(rest: str) -> Response:
    """``/page/{type}/{slug}``."""
    return page(publisher().iris.iri_for_id_path(rest))


@bp.get("/page")
def page_by_uri() -> Response:
    """``/page?uri=IRI`` for IRIs outside ``{base}id/``."""
    return page(_uri_argument())


@bp.get("/data/<path:rest>")
def data_by_path(rest: str) -> Response:
    """``/data/{type}/{slug}.{ext}``: the extension names the format."""
    stem, _, extension = rest.rpartition(".")
    fmt = formats.by_extension(extension, DATA_FORMATS) if stem else None
    if fmt is None:
        known = ", ".join("." + f.extension for f in DATA_FORMATS)
        raise NotFound(f"/data/{rest} names no document: add one of the extensions {known}.")
    return data(publisher().iris.iri_for_id_path(stem), fmt)


@bp.get("/data")
def data_by_uri() -> Response:
    """``/data?uri=IRI[&format=ttl]``: ``format=`` first, then ``Accept`` (Turtle for ``*/*``)."""
    iri = _uri_argument()
    fmt = choose_format(request.headers.get("Accept"), request.args.get("format"), DATA_FORMATS, TURTLE)
    return data(iri, fmt, negotiated="format" not in request.args)


@bp.get("/<path:path>")
def by_path(path: str) -> Response:
    """Any other path on our origin names ``{base}{path}``: 303 when that IRI is in the data, else 404."""
    return see_other(publisher().iris.iri_for_path(path))
