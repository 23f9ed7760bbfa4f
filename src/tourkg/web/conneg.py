"""Content negotiation: pure functions over the ``Accept`` header, tested with a table.

Werkzeug's ``best_match`` honours q-values and specificity and, on ties, prefers the earlier offer, so
the order of each offers list is the server's preference. A missing or blank ``Accept`` is handled
explicitly here: it means "anything", and gets the route's declared default.
"""

from __future__ import annotations

from collections.abc import Sequence

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from tourkg import formats
from tourkg.errors import NotAcceptable
from tourkg.formats import Format
from tourkg.sparql import formats_for_name
from tourkg.store import QueryFormats

#: A cap on what we parse: a longer Accept header is absurd and is read as "anything".
MAX_ACCEPT_LENGTH = 4096


def negotiate(accept: str | None, offers: Sequence[str], default: str | None = None) -> str | None:
    """Return the offered media type that best matches ``accept``; ``None`` when none is acceptable.

    :param accept: the raw ``Accept`` header (``None`` when absent).
    :param offers: media types in the server's order of preference.
    :param default: what an absent or blank header gets (the first offer when not given).
    """
    if accept is None or not accept.strip() or len(accept) > MAX_ACCEPT_LENGTH:
        return default or offers[0]
    # Media-type parameters (``text/turtle; charset=utf-8``) do not change what we offer, but Werkzeug
    # would refuse to match them against a bare offer: keep only the type and its q-value.
    bare = ((value.split(";")[0].strip(), q) for value, q in parse_accept_header(accept, MIMEAccept))
    parsed = MIMEAccept(bare)
    return parsed.best_match(offers, default=None)


def choose_format(accept: str | None, override: str | None, candidates: Sequence[Format],
                  default: Format | None = None) -> Format:
    """Pick a format: ``format=`` (a short name or a media type) first, then ``Accept``.

    :raises NotAcceptable: nothing offered matches; the message lists what is offered.
    """
    offers = formats.media_types(candidates)
    if override:
        found = formats.by_name(override, candidates)
        if found is None:
            raise NotAcceptable(f"Unknown or unsupported format {override!r}.",
                                [f.name for f in candidates])
        return found
    chosen = negotiate(accept, offers, default.media_type if default else None)
    found = formats.by_media_type(chosen, candidates) if chosen else None
    if found is None:
        raise NotAcceptable(f"None of the media types in your Accept header ({accept}) is available here.",
                            offers)
    return found


#: What ``/sparql`` offers once a query is given, in the server's order of preference: results, then
#: graphs, then the HTML page. ``*/*`` (curl, most libraries) thus gets SPARQL JSON or Turtle, and only
#: a client that prefers HTML (a browser) gets the query page.
QUERY_OFFERS = (*formats.RESULTS, *formats.RDF, formats.HTML)
#: Without a query: the service description (RDF) first, then the query page.
SERVICE_OFFERS = (*formats.RDF, formats.HTML)


def wants_page(accept: str | None, override: str | None, offers: Sequence[Format] = QUERY_OFFERS) -> bool:
    """True when the client asked for the HTML query page (``format=html`` or HTML preferred)."""
    if override:
        return formats.by_name(override, [formats.HTML]) is not None
    chosen = negotiate(accept, formats.media_types(offers))
    return chosen is not None and formats.by_media_type(chosen, [formats.HTML]) is not None


def choose_query_formats(accept: str | None, override: str | None) -> QueryFormats:
    """The format for each result kind, from ``format=`` or else ``Accept``; ``None`` for a kind the client
    accepts nothing of (the store answers 406 if the query turns out to be of that kind).

    :raises NotAcceptable: ``format=`` names nothing, or ``Accept`` accepts no result format at all.
    """
    if override:
        return formats_for_name(override)

    def pick(candidates: Sequence[Format]) -> Format | None:
        chosen = negotiate(accept, formats.media_types(candidates))
        return formats.by_media_type(chosen, candidates) if chosen else None

    found = QueryFormats(results=pick(formats.RESULTS), graph=pick(formats.RDF))
    if found.results is None and found.graph is None:
        raise NotAcceptable(f"None of the media types in your Accept header ({accept}) is available here.",
                            formats.media_types(formats.RESULTS + formats.RDF))
    return found
