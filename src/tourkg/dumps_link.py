"""The dumps link (setting ``dumps_link``): a symbolic link that always points at the prepared dumps of
the data being served, for a web server in front to send ``/dump.*`` itself.

Why: behind nginx, ``accel_redirect`` already lets nginx send a dump's bytes (with ``sendfile``), but
each request still makes a trip through tourkg to learn which file; on small dumps that trip is most of
the cost (docs/benchmarks.md). With the link, nginx answers ``/dump.*`` from the files, passing the
request on to tourkg (``try_files``) for a dump not rendered yet, and tourkg is not involved at all.

The link is replaced at once (a new link renamed over the old one) when the server starts and when a
reload swaps in new data, so nginx never sees a missing or half-made link; a file nginx is sending
stays readable after its prepared folder is evicted. nginx's own validators are the file's size and
modification time (in seconds), not tourkg's hash of the bytes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tourkg.errors import StartupError


def check(link: str, store: str) -> None:
    """Refuse a ``dumps_link`` that cannot work, before anything is prepared (a link is made beside it and
    removed again, to prove that one can be made there).

    :raises StartupError: a remote engine (its dumps are rendered again as its data changes), a path that
        is something other than a symbolic link (never replaced: it may be the operator's), or a folder
        where no link can be made.
    """
    if not link:
        return
    if store.startswith("sparql:"):
        raise StartupError("dumps_link needs local data (--store memory or oxigraph:DIR): a remote "
                           "engine's dumps are rendered again as its data changes.", 2)
    path = Path(link)
    if path.exists() and not path.is_symlink():
        raise StartupError(f"dumps_link: {link} exists and is not a symbolic link; tourkg replaces only a "
                           "symbolic link. Name a path that does not exist yet.", 2)
    _make(path, Path(os.devnull), probe=True)


def point(link: str, folder: Path) -> None:
    """Make ``link`` point at ``folder``, replacing the link it was at once (rename is atomic).

    :raises StartupError: the link cannot be made (the message says why).
    """
    folder.mkdir(parents=True, exist_ok=True)  # the engine renders into it on first need
    _make(Path(link), folder.resolve())


def _make(path: Path, target: Path, probe: bool = False) -> None:
    """A new link beside ``path``, renamed over it (or, for a probe, removed again)."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        aside.unlink(missing_ok=True)
        os.symlink(target, aside)
        if probe:
            aside.unlink()
        else:
            os.replace(aside, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            aside.unlink()
        raise StartupError(f"dumps_link: cannot make the symbolic link {path}: {exc.strerror or exc}.",
                           2) from None
