"""Blueprint ``search``: ``/search?q=…[&type=…]``, label search for people (HTML) and scripts (JSON).

Answered from the engine's search index (``tourkg.search``), built once with the data; never a SPARQL
scan. HTML for browsers, ``application/json`` for ``Accept: application/json`` (or ``format=json``),
which the header's search box uses for suggestions as you type.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request

from tourkg import formats
from tourkg.errors import BadRequest
from tourkg.search import MAX_LIMIT, MAX_QUERY, local_name
from tourkg.web import publisher
from tourkg.web.conneg import choose_format

bp = Blueprint("search", __name__)

OFFERS = (formats.HTML, formats.DATA_JSON)
#: Hits shown by default.
DEFAULT_LIMIT = 20
#: Longest ``type=`` value (an IRI at most).
MAX_TYPE = 500


def _arguments() -> tuple[str, str | None, int]:
    """``q``, ``type`` and ``limit``, checked.

    :raises BadRequest: a query or type too long, a limit that is not a number.
    """
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY:
        raise BadRequest(f"The search is {len(query)} characters long; at most {MAX_QUERY} are searched. "
                         "Type a name or a few words of it.")
    type_ = request.args.get("type", "").strip() or None
    if type_ is not None and len(type_) > MAX_TYPE:
        raise BadRequest(f"The type is longer than {MAX_TYPE} characters: give a class name such as country.")
    raw = request.args.get("limit", "")
    try:
        limit = int(raw) if raw else DEFAULT_LIMIT
    except ValueError:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return query, type_, limit


@bp.get("/search")
def search() -> Response:
    """Search names and labels; results ranked exact, prefix, whole word, word prefix."""
    fmt = choose_format(request.headers.get("Accept"), request.args.get("format"), OFFERS)
    query, type_, limit = _arguments()
    pub = publisher()
    hits = pub.store.search(query, type_, limit) if query else []
    paths = [pub.iris.page_path(hit.iri) for hit in hits]
    site = request.host_url.rstrip("/")
    results = [hit.as_json(site + path) for hit, path in zip(hits, paths, strict=True)]
    if fmt is formats.DATA_JSON:
        response = jsonify({"query": query, "type": type_, "results": results})
    else:
        for result, path in zip(results, paths, strict=True):
            result["page"] = path  # links within the site stay relative (and work in the static export)
        types = sorted({local_name(t) for hit in hits for t in hit.types})
        response = Response(render_template("search.html", lang="en", query=query, type=type_ or "",
                                            results=results, types=types, limit=limit),
                            content_type=formats.HTML.content_type)
    response.headers["Vary"] = "Accept"
    response.headers["Cache-Control"] = "no-cache"
    return response
