"""Cacheable representations: strong ETag, Last-Modified, conditional GET (304), Vary and Link headers.

RFC 9110 §8.8 (validators) and §13 (conditional requests); Werkzeug's ``make_conditional`` applies the
precedence rules (``If-None-Match`` wins over ``If-Modified-Since``). The data never changes while
serving, so a hash of the body is a strong validator and the data files' newest mtime is Last-Modified.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Response, request, send_file
from markupsafe import Markup

from tourkg.formats import Format
from tourkg.store import Dump
from tourkg.web import publisher
from tourkg.web.fastpath import CACHEABLE, FILE

#: The code and templates that shape every body: a new release changes representations too.
_PACKAGE = Path(__file__).resolve().parents[1]


def _mtime(paths: tuple[Path, ...]) -> datetime:
    code = [p for p in _PACKAGE.rglob("*") if p.suffix in (".py", ".html", ".css", ".js", ".rq", ".xml")]
    stamps = [p.stat().st_mtime for p in (*paths, *code) if p.exists()]
    return datetime.fromtimestamp(int(max(stamps, default=0)), UTC)


def last_modified(pub: Any) -> datetime:
    """When what the representations are made of last changed: the data, ontology and shapes files, and
    tourkg's own code and templates (so an upgrade never answers 304 with an old body). Read once per
    publisher: a reload brings a new publisher, and so the new files' time."""
    settings = pub.settings
    return pub.cached(("last-modified",), lambda: _mtime(tuple(settings.data) + tuple(settings.ontology)
                                                         + tuple(settings.shapes)), pinned=True)


@lru_cache(maxsize=1024)
def etag_of(body: bytes) -> str:
    """A strong validator: a hash of the bytes. Cached because bodies are cached objects too, and the
    lookup (on an object whose hash Python keeps) is far cheaper than hashing a whole dump again."""
    return hashlib.sha256(body).hexdigest()[:40]


def link_header(links: Iterable[tuple[str, str, str]]) -> str:
    """A ``Link`` header value from ``(href, rel, media type)`` triples (RFC 8288)."""
    return ", ".join(f'<{href}>; rel="{rel}"' + (f'; type="{mt}"' if mt else "") for href, rel, mt in links)


def representation(body: bytes, content_type: str, *, vary: Sequence[str] = (),
                   links: Iterable[tuple[str, str, str]] = (),
                   headers: dict[str, str] | None = None) -> Response:
    """A 200 response for ``body`` that answers conditional requests with 304."""
    response = Response(body, content_type=content_type)
    response.set_etag(etag_of(body))
    response.last_modified = last_modified(publisher())
    if vary:
        response.headers["Vary"] = ", ".join(vary)
    link = link_header(links)
    if link:
        response.headers["Link"] = link
    response.headers.update(headers or {})
    response.headers[CACHEABLE] = "1"  # the same bytes for the same request: the fast path may replay it
    return response.make_conditional(request)


def file_representation(dump: Dump, content_type: str, headers: dict[str, str]) -> Response:
    """A prepared file (a dump): Range, HEAD and conditional requests by Werkzeug; the fast path sends
    later copies straight from the file. Behind nginx with ``accel_redirect`` set, nginx sends it."""
    accel = accel_location(dump)
    if accel is not None:  # nginx sends the file; its gzip_static picks the .gz beside it
        kept = {k: v for k, v in headers.items() if k not in ("Content-Encoding", "Vary")}
        response = Response(b"", content_type=content_type, headers=kept)
        response.headers["X-Accel-Redirect"] = accel
        response.headers[CACHEABLE] = "1"
        return response
    response = send_file(dump.path, mimetype=content_type, etag=dump.etag, conditional=True,
                         last_modified=last_modified(publisher()), max_age=None)
    response.headers["Content-Type"] = content_type  # Werkzeug would add a second charset to text/*
    response.headers.update(headers)
    if publisher().ttl is None:  # a remote engine's dump is rendered again later, at the same path
        response.headers[FILE] = str(dump.path)
    return response


def alternates(fmt_links: Iterable[tuple[Format, str]]) -> list[tuple[str, str, str]]:
    """``Link: rel="alternate"`` entries for every other representation of the same resource."""
    return [(href, "alternate", fmt.media_type) for fmt, href in fmt_links]


def accel_location(dump: Dump) -> str | None:
    """The internal nginx location of ``dump`` (under ``accel_redirect``, which nginx maps to the
    cache folder), or ``None`` when tourkg sends it itself."""
    pub = publisher()
    prefix = pub.settings.accel_redirect
    if not prefix or pub.repr_folder is None:
        return None
    from tourkg.prepare import cache_root

    plain = dump.path.with_name(dump.path.name.removesuffix(".gz"))
    try:
        inside = plain.resolve().relative_to(cache_root(pub.settings).resolve())
    except ValueError:
        return None
    return prefix.rstrip("/") + "/" + inside.as_posix()


def gzip_accepted() -> bool:
    """True when the client accepts gzip (absent, or refused with q=0, is no: RFC 9110 §12.5.3)."""
    return request.accept_encodings["gzip"] > 0


def json_script(data: Any) -> Markup:
    """JSON for a ``<script type="application/ld+json">`` block: ``<``, ``>`` and ``&`` are escaped as
    ``\\u003c`` etc., so no string in the data can close the script element (as Django's json_script)."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for the script-data context
