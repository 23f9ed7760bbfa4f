"""The dumps' ceiling under granian: a WSGI app with no logic at all, sending the files of a folder.

``make bench`` runs it under granian with tourkg's own worker settings, beside nginx sending the same
files, so that the table shows in one run what any app under granian can reach on those files: a small
file (at most 1 MB, as tourkg's fast path keeps them) is sent from memory, a larger one in blocks of
128 KB, as tourkg sends them. No conditional requests, ranges or CORS: only the bytes.

    TOURKG_CEILING_ROOT=folder granian --interface wsgi ceiling_app:app
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("TOURKG_CEILING_ROOT", "."))
_SMALL = 1 << 20
_BLOCK = 128 << 10
_kept: dict[str, bytes] = {}


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            yield block


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    name = environ.get("PATH_INFO", "/").lstrip("/")
    gzip = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
    path = ROOT / (name + ".gz" if gzip else name)
    if "/" in name or not name or not path.is_file():
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    size = path.stat().st_size
    headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
    if gzip:
        headers.append(("Content-Encoding", "gzip"))
    start_response("200 OK", headers)
    if size > _SMALL:
        return _blocks(path)
    data = _kept.get(str(path))
    if data is None:
        data = _kept[str(path)] = path.read_bytes()
    return [data]
