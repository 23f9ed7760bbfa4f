"""Blueprint ``sparql``: the SPARQL 1.1 Protocol endpoint at ``/sparql`` and its query page.

Thin: the protocol rules live in ``tourkg.sparql``, the description in ``tourkg.service_description``,
the table in ``tourkg.result_table``. Here: read the request, pick the representation, build the
response (https://www.w3.org/TR/sparql11-protocol/#query-operation).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for

from tourkg import formats, sparql
from tourkg.errors import NotAcceptable, TourkgError
from tourkg.namespaces import served_prefixes
from tourkg.queries import Example, examples
from tourkg.result_table import TABLE_FORMATS, Cell, Table, shorten, to_table
from tourkg.service_description import describe_service, serialize_description
from tourkg.web import publisher
from tourkg.web.accesslog import QUERY_SECONDS, escape
from tourkg.web.conneg import SERVICE_OFFERS, choose_format, choose_query_formats, wants_page
from tourkg.web.query_path import QUERY_ERROR

bp = Blueprint("sparql", __name__)
log = logging.getLogger(__name__)

#: Methods of the query operation (Protocol §2.1) plus CORS preflight; anything else is 405 with this.
ALLOWED = ("GET", "HEAD", "POST", "OPTIONS")


@bp.route("/sparql", methods=ALLOWED)
def endpoint() -> Response:
    """Answer a query by ``Accept``/``format=``; without one, the query page or the service description."""
    if request.method == "OPTIONS":
        return Response(status=204, headers={"Allow": ", ".join(ALLOWED)})
    failed = request.environ.get(QUERY_ERROR)
    if failed is not None:  # the query hot path ran this query, and it failed: answered here
        raise failed
    page = wants_page(request.headers.get("Accept"), request.args.get("format"))
    try:
        query = _collect()
    except TourkgError as exc:
        if not page:
            raise
        return _page(_submitted_query(), error=exc)
    if query is None:
        return _no_query()
    return _page_with_results(query) if page else _results(query)


def _collect() -> sparql.QueryRequest | None:
    """Steps 1 and 2: the protocol parameters, then the rules on the text."""
    sparql.check_urlencoded_utf8(request.query_string, "URL")  # request.args has replaced bad bytes
    body = request.get_data(cache=True) if request.method == "POST" else b""
    found = sparql.collect_request(request.method, request.args.to_dict(flat=False), request.content_type,
                                   body)
    return None if found is None else sparql.check_query(found, publisher().settings.max_query_length)


def _submitted_query() -> str:
    """The query as sent (URL, form or direct body), for the page to keep after a refusal; lenient on
    encoding, since the refusal may be about just that."""
    if request.method == "POST" and request.mimetype == sparql.SPARQL_QUERY:
        return request.get_data(cache=True).decode("utf-8", "replace")
    return request.values.get("query", "")


def _results(query: sparql.QueryRequest) -> Response:
    """Step 3: evaluate and serialise in the negotiated format."""
    chosen = choose_query_formats(request.headers.get("Accept"), query.format)
    outcome = _timed(query, chosen)
    response = Response(outcome.body, content_type=outcome.format.content_type)
    response.headers["Vary"] = "Accept"
    return response


def _timed(query: sparql.QueryRequest, chosen: Any) -> Any:
    """Run the query for this client; the seconds it took (waiting for a slot included) go to the
    access log."""
    started = time.monotonic()
    try:
        return sparql.run_query(publisher().store, query, chosen, client=request.remote_addr)
    finally:
        request.environ[QUERY_SECONDS] = time.monotonic() - started


def _no_query() -> Response:
    """The query page for browsers; the service description (sd:endpoint = this URL) for RDF clients."""
    fmt = choose_format(request.headers.get("Accept"), request.args.get("format"), SERVICE_OFFERS)
    if fmt is formats.HTML:
        return _page(next((e.text for e in _examples()), STARTER_QUERY))
    pub = publisher()
    endpoint = pub.endpoint(request.base_url)  # the export may name a live endpoint elsewhere, or none
    if not endpoint:
        raise NotAcceptable("No SPARQL endpoint answers here (a static copy of the site): there is no "
                            "service description; the dumps hold the data.")
    body = pub.cached(("service-description", endpoint, fmt.name), lambda: serialize_description(
        describe_service(endpoint, pub.settings, pub.store), fmt))
    return Response(body, content_type=fmt.content_type, headers={"Vary": "Accept"})


def _page_with_results(query: sparql.QueryRequest) -> Response:
    """The query page with the answer as an HTML table, or with the error in place."""
    try:
        table = to_table(_timed(query, TABLE_FORMATS))
    except TourkgError as exc:
        return _page(query.query, error=exc)
    return _page(query.query, table=table, downloads=_downloads(query, table.form))


def _downloads(query: sparql.QueryRequest, form: str) -> list[tuple[formats.Format, str]]:
    """A link for every format this query's answer comes in: the same query with ``format=``."""
    dataset = {"default-graph-uri": list(query.default_graphs or ()),
               "named-graph-uri": list(query.named_graphs or ())}
    kinds = {"graph": formats.RDF, "ask": formats.BOOLEAN_RESULTS}.get(form, formats.RESULTS)
    return [(f, url_for("sparql.endpoint", query=query.query, format=f.name, **dataset)) for f in kinds]


#: What the query page's editor holds when the dataset ships no example queries.
STARTER_QUERY = "SELECT ?subject ?predicate ?object WHERE {\n  ?subject ?predicate ?object\n}\nLIMIT 25\n"


def _examples() -> list[Example]:
    """The examples, moved to the served base URI when it is not the one they are written in."""
    settings = publisher().settings
    if settings.base_uri == settings.data_base_uri:
        return list(examples(settings.examples))
    return [Example(e.slug, e.title, e.text.replace(settings.data_base_uri, settings.base_uri))
            for e in examples(settings.examples)]


def _page(text: str, *, table: Table | None = None, error: TourkgError | None = None,
          downloads: Sequence[tuple[formats.Format, str]] = ()) -> Response:
    """Render the query page (always escaped: every value goes through Jinja's autoescape)."""
    pub = publisher()
    if error is not None and error.status >= 500:  # shown in the page, but the operator must see it too
        log.warning("%s on the query page: %s", error.title, escape(error.message))
    known = served_prefixes(pub.settings.base_uri)  # once per page, not once per cell
    here = url_for("sparql.endpoint")  # the form's action, unless queries go to a live endpoint elsewhere
    body = render_template(
        "sparql.html", query_text=text, table=table, error=error, downloads=downloads,
        examples=_examples(), choices=formats.RESULTS + formats.RDF, selected=request.args.get("format"),
        link=_link, short=lambda iri: shorten(iri, known), settings=pub.settings,
        endpoint=pub.endpoint(request.base_url), action=pub.endpoint(here) or here)
    status = error.status if error else 200
    return Response(body, status=status, content_type="text/html; charset=utf-8", headers={"Vary": "Accept"})


def _link(cell: Cell) -> str | None:
    """Where an IRI cell links: its page here when local, the IRI itself for http(s), else nowhere."""
    if cell.kind != "iri":
        return None
    iris = publisher().iris
    if iris.is_local(cell.value):
        return iris.page_path(cell.value)
    return cell.value if cell.value.startswith(("http://", "https://")) else None

