"""Compiled templates kept between runs, the way Python keeps compiled modules in ``__pycache__``.

Jinja turns each template into Python code the first time it is used: for the twelve templates of the
site that is 0.1-0.2 s of CPU, on the critical path of every start (the supervisor compiles them while
the SHACL gate runs, on a machine whose other core the gate and the engine share). Jinja's bytecode
cache keeps the compiled code in files named after the template and checked against a checksum of its
source, so an edited template is compiled again and a stale one is never used; Jinja's own format
version and the Python version are checked too. The files live beside the package's compiled modules,
not in the dataset cache: they belong to the code, not to any dataset.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import jinja2
from jinja2 import BytecodeCache, FileSystemBytecodeCache
from jinja2.bccache import Bucket

#: Where the compiled templates go: ``web/__pycache__/templates-<jinja version>``.
FOLDER = Path(__file__).resolve().parent / "__pycache__" / f"templates-{jinja2.__version__}"


class _Cache(FileSystemBytecodeCache):
    """Reads compiled templates; writes them only when Python itself may write compiled code (not under
    ``PYTHONDONTWRITEBYTECODE``, as in many containers: there :func:`compile_all`, run by
    ``make`` beside ``compileall``, compiles them beforehand). A cache that cannot be written (a
    read-only installation) only means compiling at each start."""

    def __init__(self, folder: Path, write: bool) -> None:
        super().__init__(str(folder))
        self.write = write

    def load_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # unreadable: compiled as if absent
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: Bucket) -> None:
        if self.write:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)


def bytecode_cache(folder: Path = FOLDER) -> BytecodeCache | None:
    """The cache for the app's Jinja environment, or ``None`` when there is no folder and none may be
    made."""
    write = not sys.dont_write_bytecode
    if write:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            write = False
    return _Cache(folder, write) if folder.is_dir() else None


def compile_all(folder: Path = FOLDER) -> int:
    """Compile every template of the site into ``folder`` (whatever ``PYTHONDONTWRITEBYTECODE`` says, as
    ``python -m compileall`` does); return how many."""
    from tourkg.config import build_settings
    from tourkg.web import build_app

    folder.mkdir(parents=True, exist_ok=True)
    app = build_app(build_settings({}))
    app.jinja_env.bytecode_cache = _Cache(folder, write=True)
    names = app.jinja_env.list_templates()
    for name in names:
        app.jinja_env.get_template(name)
    return len(names)
