"""The dumps' ceiling under granian: a WSGI app with no logic at all, sending the files of a folder.

``make bench`` runs it under granian with tourkg's own worker settings, beside nginx sending the same
files, so that the table shows in one run what any app under granian can reach on those files. Every
answer is prepared when the app is imported: a small file (at most 1 MB, as tourkg's fast path keeps
them) is sent from memory, a larger one in blocks of 128 KB, as tourkg sends them. A request costs one
dictionary look-up: no file system call, no conditional requests, ranges, CORS or access log.

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
_NOT_FOUND = ("404 Not Found", [("Content-Length", "0")], b"", None)


def _prepare(root: Path) -> dict[tuple[str, bool], tuple[str, list[tuple[str, str]], bytes, Path | None]]:
    """(path, gzip wanted) → status, headers, body (small files) or the file to send in blocks."""
    answers = {}
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        if not path.is_file():
            continue
        gzip = path.suffix == ".gz"
        name = "/" + (path.name[:-3] if gzip else path.name)
        size = path.stat().st_size
        headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
        if gzip:
            headers.append(("Content-Encoding", "gzip"))
        small = size <= _SMALL
        body = path.read_bytes() if small else b""
        answers[(name, gzip)] = ("200 OK", headers, body, None if small else path)
    return answers


_ANSWERS = _prepare(ROOT)


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            yield block


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    gzip = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
    status, headers, body, path = _ANSWERS.get((environ.get("PATH_INFO", "/"), gzip), _NOT_FOUND)
    start_response(status, headers)
    return [body] if path is None else _blocks(path)
