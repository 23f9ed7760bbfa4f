"""Small files shared between processes: written aside and renamed into place (nobody ever reads half
of one), read back leniently, and an exclusive lock between processes. Standard library only: the
engine process uses it too."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or an empty one when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` at once (the aside name is unique per process and thread)."""
    write_atomic(path, json.dumps(data, ensure_ascii=False, sort_keys=True).encode())


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` at once (the aside name is unique per process and thread)."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    partial.write_bytes(data)
    partial.replace(path)


class file_lock:  # noqa: N801 - used as a context manager, reads as a function
    """An exclusive lock between processes sharing a prepared folder (two servers on the same data)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        import fcntl

        self.handle = self.path.open("a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        self.handle.close()
