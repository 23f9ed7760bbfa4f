"""The dumps link (setting ``dumps_link``): a symbolic link that always points at the prepared dumps of
the data being served, for a web server in front to send ``/dump.*`` itself.

Why: behind nginx, ``accel_redirect`` already lets nginx send a dump's bytes (with ``sendfile``), but
each request still makes a trip through tourkg to learn which file; on small dumps that trip is most of
the cost (measured on the 1k-triple dataset: 12,000–22,000 dump requests/s through tourkg against
25,000–60,000 from nginx alone). With the link, nginx answers ``/dump.*`` from the files, falling back
to tourkg (``try_files``) for a dump not rendered yet, and tourkg is not involved at all.

The link is replaced at once (a new link renamed over the old one) when the server starts and when a
reload swaps in new data, so nginx never sees a missing or half-made link; a file nginx is sending
stays readable after its prepared folder is evicted. The dumps of one prepared dataset never change,
so nginx's own ETag (size and time) is as good a validator as tourkg's.
"""

from __future__ import annotations

import os
from pathlib import Path

from tourkg.errors import StartupError


def check(link: str, store: str) -> None:
    """Refuse a ``dumps_link`` that cannot work, before anything is prepared.

    :raises StartupError: a remote engine (its dumps are rendered again as its data changes), or a path
        that is something other than a symbolic link (never replaced: it is not tourkg's).
    """
    if not link:
        return
    if store.startswith("sparql:"):
        raise StartupError("dumps_link needs local data (--store memory or oxigraph:DIR): a remote "
                           "engine's dumps are rendered again as its data changes.", 2)
    path = Path(link)
    if path.exists() and not path.is_symlink():
        raise StartupError(f"dumps_link: {link} exists and is not a symbolic link; tourkg replaces only a "
                           "link it made. Name a path that does not exist yet.", 2)


def point(link: str, folder: Path) -> None:
    """Make ``link`` point at ``folder``, replacing the link it was at once (rename is atomic)."""
    path = Path(link)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)  # the engine renders into it on first need
    aside = path.with_name(f".{path.name}.{os.getpid()}.new")
    aside.unlink(missing_ok=True)
    os.symlink(folder.resolve(), aside)
    os.replace(aside, path)
