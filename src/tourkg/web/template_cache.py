"""Compiled templates kept between runs, the way Python keeps compiled modules in ``__pycache__``.

Jinja turns each template into Python code the first time it is used: for the twelve templates of the
site that is 0.1-0.2 s of CPU, on the critical path of every start (the supervisor compiles them while
the SHACL gate runs, on a machine whose other core the gate and the engine share). Jinja's bytecode
cache keeps the compiled code in files named after the template and checked against a checksum of its
source, so an edited template is compiled again; Jinja checks its own format version and the Python
version. What Jinja does not check is the code around the templates, compiled into them too (filters
that take the context, autoescaping, the environment's options): so the folder is named after the
size and time of Jinja's, Flask's and every ``tourkg.web`` module, where the
environment is made, and a change there starts a new folder (the old ones are removed). The files live
beside the package's compiled modules, not in the dataset cache: they belong to the code, not to any
dataset.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sys
from pathlib import Path

import flask
import jinja2
from jinja2 import BytecodeCache, FileSystemBytecodeCache
from jinja2.bccache import Bucket

_WEB = Path(__file__).resolve().parent


def _code_key() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in (Path(flask.__file__), Path(jinja2.__file__), *sorted(_WEB.glob("*.py"))):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


#: Where the compiled templates go: ``web/__pycache__/templates-<key of the code around them>``.
FOLDER = _WEB / "__pycache__" / f"templates-{_code_key()}"


class _Cache(FileSystemBytecodeCache):
    """Reads compiled templates; writes them only when Python itself may write compiled code (not under
    ``PYTHONDONTWRITEBYTECODE``, as in many containers: there :func:`compile_all`, run by
    ``make`` beside ``compileall``, compiles them beforehand). A cache that cannot be written (a
    read-only installation) only means compiling at each start."""

    def __init__(self, folder: Path, write: bool) -> None:
        super().__init__(str(folder))
        self.write = write

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - unreadable or corrupt: compiled as if absent
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        if self.write:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)


def bytecode_cache(folder: Path = FOLDER) -> BytecodeCache | None:
    """The cache for the app's Jinja environment, or ``None`` when there is no folder and none may be
    made."""
    write = not sys.dont_write_bytecode
    if write and not folder.is_dir():
        try:
            _make(folder)
        except OSError:
            write = False
    return _Cache(folder, write) if folder.is_dir() else None


def _make(folder: Path) -> None:
    """Make ``folder``, removing the folders of code that is gone."""
    folder.mkdir(parents=True, exist_ok=True)
    for other in folder.parent.glob("templates-*"):
        if other != folder:
            shutil.rmtree(other, ignore_errors=True)


def compile_all(folder: Path = FOLDER) -> int:
    """Compile every template of the site into ``folder`` (whatever ``PYTHONDONTWRITEBYTECODE`` says, as
    ``python -m compileall`` does); return how many."""
    from tourkg.config import build_settings
    from tourkg.web import build_app

    _make(folder)
    app = build_app(build_settings({}))
    app.jinja_env.bytecode_cache = _Cache(folder, write=True)
    names = app.jinja_env.list_templates()
    for name in names:
        app.jinja_env.get_template(name)
    return len(names)
