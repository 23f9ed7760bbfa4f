"""Starting an engine process, kept free of rdflib so that ``tourkg serve`` can start one first thing.

The engine's interpreter and its imports take about 0.15 s. Started before the supervisor imports
rdflib and prepares the dataset (0.5 s on a million triples), the engine is waiting for its plan by the
time the plan is known, so the load begins that much earlier. A spare that is never given a plan reads
end of file and leaves.

Only for large inputs: on the tour the load takes milliseconds and the engine is not what the start
waits for, while its imports beside the supervisor's slowed the tour's start (1.09 → 1.27 s, median of
six paired cold starts).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tourkg.engines.allocator import AUTO, engine_environment

#: Input files at least this large (in all) have their engine started before the supervisor's imports.
EARLY_BYTES = 4 << 20


def early_engine(settings: Any) -> subprocess.Popen | None:
    """An engine started now, for ``tourkg serve`` on large local data; None otherwise."""
    if settings.store.startswith("sparql:"):
        return None
    try:
        size = sum(os.stat(path).st_size for path in settings.data)
    except (OSError, TypeError):  # reported, with a message, by the preparation that follows
        return None
    return spawn(settings.engine_allocator) if size >= EARLY_BYTES else None


def spawn(allocator: str = AUTO) -> subprocess.Popen:
    """A new engine process, waiting for its plan (one JSON line) on stdin, with the memory allocator
    ``allocator`` (``engines.allocator``).

    :raises StartupError: ``allocator`` names no file.
    """
    return subprocess.Popen([sys.executable, "-m", "tourkg.engines.process"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, close_fds=True, env=engine_environment(allocator))


def discard(spare: subprocess.Popen | None) -> None:
    """A spare engine that will not be used: it leaves on end of file."""
    if spare is None:
        return
    if spare.stdin is not None and not spare.stdin.closed:
        spare.stdin.close()
    try:
        spare.wait(5)
    except subprocess.TimeoutExpired:
        spare.kill()
        spare.wait()
    if spare.stdout is not None:
        spare.stdout.close()
