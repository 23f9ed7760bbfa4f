"""The engine process's memory allocator: mimalloc, preloaded, when the system has it.

Why: Oxigraph allocates and frees small buffers for every solution it evaluates, from whichever of the
engine's many connection threads runs the query, and glibc's malloc is slow at that. Measured with
``tourkg serve`` on the benchmark's 100k-triple data, ``COUNT(*)`` at 8 connections, three paired runs:
50-59 answers/s with glibc's malloc, 69-74 with mimalloc, 64-69 with jemalloc (Oxigraph server: 65-78).
On a million triples, loading took 3.4 s instead of 4.4-4.8 s, for about 60 MB more resident memory
after the queries (jemalloc: 120 MB more, and no faster load).

pyoxigraph is a Python extension: it allocates with the interpreter's ``malloc``, which only a library
preloaded into a new process (``LD_PRELOAD``) can replace. The engine process gets it (and the index
build it starts beside a large load inherits it); the web workers, which allocate little, keep the C
library's. Without the library (no Debian package ``libmimalloc2.0``, or not Linux), or with an
``LD_PRELOAD`` the operator set, ``auto`` leaves the engine exactly as before.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from tourkg.errors import StartupError

#: The choices besides a library's path.
AUTO, SYSTEM = "auto", "system"
_NAMES = ("libmimalloc.so.2", "libmimalloc.so")


def _library_dirs() -> list[Path]:
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = [Path("/usr/lib") / multiarch, Path("/usr/local/lib") / multiarch] if multiarch else []
    return [*dirs, Path("/usr/lib64"), Path("/usr/lib"), Path("/usr/local/lib")]


def find_mimalloc() -> str | None:
    """The path of the system's mimalloc library, or ``None`` (never on other systems than Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    for folder in _library_dirs():
        for name in _NAMES:
            if (folder / name).is_file():
                return str(folder / name)
    return None


def engine_environment(choice: str, environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The environment of a new engine process for ``choice``: ``auto`` (mimalloc when found),
    ``system`` (the C library's) or the path of a library to preload; ``None``: the caller's own.

    :raises StartupError: ``choice`` names no file.
    """
    env = dict(os.environ if environ is None else environ)
    already = env.get("LD_PRELOAD", "").replace(":", " ").split()
    if choice in ("", SYSTEM):
        return None
    if choice == AUTO:
        library = find_mimalloc()
        if library is None or already:  # an allocator or tool the operator preloads stays alone
            return None
    elif not sys.platform.startswith("linux"):
        raise StartupError("The engine's memory allocator (--engine-allocator, engine_allocator) can only be "
                           "chosen on Linux: give auto or system.", 2)
    elif Path(choice).is_file():
        library = str(Path(choice).resolve())
    else:
        raise StartupError(f"The engine's memory allocator {choice!r} (--engine-allocator, engine_allocator) "
                           "is not a file: give auto, system or the path of an allocator library such as "
                           "libmimalloc.so.2.", 2)
    if library not in already:
        env["LD_PRELOAD"] = " ".join([library, *already])
    return env


def in_use(maps: Path = Path("/proc/self/maps")) -> str:
    """The allocator this process runs with, by the libraries mapped into it: for the engine's log."""
    try:
        text = maps.read_text()
    except OSError:
        return SYSTEM
    for name in ("mimalloc", "jemalloc", "tcmalloc"):
        if f"lib{name}" in text:
            return name
    return SYSTEM
