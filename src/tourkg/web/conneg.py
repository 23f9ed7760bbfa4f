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
    parsed = parse_accept_header(accept, MIMEAccept)
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
