"""Content negotiation: pure functions over the ``Accept`` header, tested with a table.

Werkzeug's ``best_match`` honours q-values and specificity and, on ties, prefers the earlier offer, so
the order of each offers list is the server's preference. A missing or blank ``Accept`` is handled
explicitly here: it means "anything", and gets the route's declared default.
"""

from __future__ import annotations

import functools
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


def _parse(accept: str) -> MIMEAccept:
    # Media-type parameters (``text/turtle; charset=utf-8``) do not change what we offer, but Werkzeug
    # would refuse to match them against a bare offer: keep only the type and its q-value.
    values = parse_accept_header(accept, MIMEAccept)
    return MIMEAccept((value.split(";")[0].strip(), q) for value, q in values)


def _absent(accept: str | None) -> bool:
    return accept is None or not accept.strip() or len(accept) > MAX_ACCEPT_LENGTH


def negotiate(accept: str | None, offers: Sequence[str], default: str | None = None) -> str | None:
    """Return the offered media type that best matches ``accept``; ``None`` when none is acceptable.

    :param accept: the raw ``Accept`` header (``None`` when absent).
    :param offers: media types in the server's order of preference.
    :param default: what an absent or blank header gets (the first offer when not given).
    """
    if _absent(accept):
        return default or offers[0]
    return _parse(accept).best_match(offers, default=None)


def _quality(parsed: MIMEAccept, media_types: tuple[str, ...]) -> float:
    """How much the client wants a format of these ``media_types`` (RFC 9110 §12.5.1): the quality of
    its canonical media type, the first (the most specific matching range wins, so ``text/turtle;q=0,
    */*`` refuses Turtle), raised only by an alias the client names itself (``application/json``). An
    alias never sneaks in through ``*/*``."""
    quality = parsed.quality(media_types[0])
    named = {value: q for value, q in parsed}
    for alias in media_types[1:]:
        quality = max(quality, named.get(alias, 0))
    return quality


def negotiate_format(accept: str | None, candidates: Sequence[Format],
                     default: Format | None = None) -> Format | None:
    """The format among ``candidates`` the client wants most (ties: the earlier candidate, the
    server's preference); ``default`` (else the first) when there is no usable Accept header; ``None``
    when every candidate is refused."""
    if _absent(accept):
        return default or candidates[0]
    assert accept is not None
    index = _best_index(accept, tuple(fmt.media_types for fmt in candidates))
    return None if index is None else candidates[index]


@functools.lru_cache(maxsize=1024)
def _best_index(accept: str, offers: tuple[tuple[str, ...], ...]) -> int | None:
    """Which of ``offers`` (each a format's media types) ``accept`` wants most; ``None``: none of them.

    Remembered for the last 1,024 headers and offers: a client sends the same ``Accept`` with every
    request, and parsing it and matching each candidate again was a third of the CPU a SPARQL request
    cost a web worker (a query request negotiates three result kinds and whether it wants the page:
    0.34 ms of a worker's CPU before, 0.22 ms after, measured in process on the tour with ``ASK {}``).
    The answer depends on nothing else, so keeping it changes no answer; at most 1,024 headers of at
    most 4 KB each are kept (longer ones count as absent)."""
    parsed = _parse(accept)
    best, best_quality = None, 0.0
    for index, media_types in enumerate(offers):
        quality = _quality(parsed, media_types)
        if quality > best_quality:
            best, best_quality = index, quality
    return best


def offered(candidates: Sequence[Format]) -> list[str]:
    """The canonical media types of ``candidates``, for a 406 message."""
    return [f.media_type for f in candidates]


def choose_format(accept: str | None, override: str | None, candidates: Sequence[Format],
                  default: Format | None = None) -> Format:
    """Pick a format: ``format=`` (a short name or a media type) first, then ``Accept``.

    :raises NotAcceptable: nothing offered matches; the message lists what is offered.
    """
    if override:
        found = formats.by_name(override, candidates)
        if found is None:
            raise NotAcceptable(f"Unknown or unsupported format {override!r}.",
                                [f.name for f in candidates])
        return found
    found = negotiate_format(accept, candidates, default)
    if found is None:
        raise NotAcceptable(f"None of the media types in your Accept header ({accept}) is available here.",
                            offered(candidates))
    return found


#: A resource or small document (``/id``, ``/ontology``, VoID, shapes): RDF first, so ``*/*``, curl and a
#: missing Accept get Turtle (the data itself); browsers name HTML and get the page.
DOCUMENT_OFFERS = (*formats.GRAPHS, formats.HTML)

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
    return negotiate_format(accept, offers) is formats.HTML


def choose_query_formats(accept: str | None, override: str | None) -> QueryFormats:
    """The format for each result kind, from ``format=`` or else ``Accept``; ``None`` for a kind the client
    accepts nothing of (the store answers 406 if the query turns out to be of that kind).

    :raises NotAcceptable: ``format=`` names nothing, or ``Accept`` accepts no result format at all.
    """
    if override:
        return formats_for_name(override)

    # ASK is negotiated among the formats that define a boolean, so "text/csv, */*;q=0.1" gets JSON
    # for ASK while SELECT gets CSV; "text/csv" alone gets a 406 for ASK.
    found = QueryFormats(results=negotiate_format(accept, formats.RESULTS),
                         graph=negotiate_format(accept, formats.RDF),
                         boolean=negotiate_format(accept, formats.BOOLEAN_RESULTS))
    if found.results is None and found.graph is None:
        raise NotAcceptable(f"None of the media types in your Accept header ({accept}) is available here.",
                            offered(formats.RESULTS + formats.RDF))
    return found
