"""Prepare once: what is served is identified by the content hash of its input files and settings.

The *prepared folder* ``{cache_dir}/{key}/`` holds everything computed from the inputs: the engine's
statistics (``meta.json``), the dumps, the on-disk snapshot for fast restarts, the rendered pages
(``repr/``) and this module's own record (``prepared.json``: the data's namespace, the SHACL verdict).
A restart on unchanged files finds them all and parses, validates and renders nothing; a changed byte
in any input (or another tourkg version) gives another key and so a fresh folder. Models: Datasette's
``inspect`` (counts computed once, immutable mode), QLever's index built once and served many times.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tourkg import __version__, formats, loader
from tourkg.config import Settings
from tourkg.errors import DataError
from tourkg.files import read_json, write_json
from tourkg.formats import Kind
from tourkg.namespaces import served_prefixes

#: Bumped when the prepared folder's layout or content changes: older folders are then ignored.
FORMAT_VERSION = 1
#: Prepared folders kept; older ones (by last use) are removed when a new one is made.
KEEP = 4


@dataclass(frozen=True)
class Prepared:
    """A dataset ready to be opened by an engine: its settings (namespace resolved), key and folder."""

    settings: Settings
    key: str
    folder: Path
    inputs: tuple[dict[str, Any], ...]
    record: dict[str, Any]

    @property
    def prefixes(self) -> dict[str, str]:
        """The prefixes documents are written with."""
        return served_prefixes(self.settings.base_uri)

    def save_record(self, **changes: Any) -> None:
        """Remember something about this dataset (namespace, SHACL verdict) for the next start."""
        self.record.update(changes)
        write_json(self.folder / "prepared.json", self.record)


def cache_root(settings: Settings) -> Path:
    """Where prepared datasets are kept: ``cache_dir``, else ``$XDG_CACHE_HOME/tourkg``, else
    ``~/.cache/tourkg``."""
    if settings.cache_dir:
        return Path(settings.cache_dir).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tourkg"


def prepare(settings: Settings) -> Prepared:
    """Find or make the prepared folder of ``settings``' files.

    :raises DataError: a file is missing, unreadable, of an unknown format, or (when the namespace must
        be inferred) does not parse.
    """
    if not settings.data:
        raise DataError("no data file given (use --data FILE)")
    for path in (*settings.data, *settings.ontology, *settings.shapes):
        _check_file(Path(path))
    root = cache_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    key = _key(settings, root)
    folder = root / key
    folder.mkdir(exist_ok=True)
    os.utime(folder)  # last use, for eviction
    _evict(root, keep=folder)
    record = read_json(folder / "prepared.json")
    base = settings.data_base_uri or record.get("base") or loader.data_base(settings)
    resolved = loader.resolve(settings, base)
    prepared = Prepared(resolved, key, folder, tuple(_inputs(resolved)), record)
    if record.get("base") != base:
        prepared.save_record(base=base)
    return prepared


def _check_file(path: Path) -> None:
    fmt = formats.by_extension(path.suffix)
    if fmt is None or fmt.kind not in (Kind.GRAPH, Kind.DATASET):
        raise DataError(f"unknown RDF file extension {path.suffix!r} (use .ttl, .nt, .trig, .nq, .jsonld, "
                        ".rdf or .owl)", str(path))
    if not path.is_file() or not os.access(path, os.R_OK):
        raise DataError("cannot read file: no such readable file", str(path))


def _inputs(settings: Settings) -> list[dict[str, Any]]:
    """The engine's loading plan: each data file into its graph (TriG and N-Quads keep theirs, their
    default graph going to the file's graph), the ontology into the graph its ``owl:Ontology`` names."""
    base = settings.data_base_uri
    items = []
    for path, kind in [(p, "data") for p in settings.data] + [(p, "ontology") for p in settings.ontology]:
        path = Path(path)
        fmt = formats.by_extension(path.suffix)
        assert fmt is not None and fmt.engine is not None
        own = loader.graph_name(path, base)
        if kind == "ontology":
            own = loader.ontology_graph(path, base) or own
        items.append({"path": str(path.resolve()), "format": fmt.engine, "base_iri": path.resolve().as_uri(),
                      "graph": own if fmt.kind is Kind.GRAPH or kind == "ontology" else None,
                      "file_graph": own})
    return items


def _key(settings: Settings, root: Path) -> str:
    """The content hash of everything the prepared folder is computed from."""
    described = {
        "format": FORMAT_VERSION, "tourkg": __version__,
        "data": [file_digest(Path(p), root) for p in settings.data],
        "ontology": [file_digest(Path(p), root) for p in settings.ontology],
        "shapes": [file_digest(Path(p), root) for p in settings.shapes],
        "names": [Path(p).stem for p in settings.data],  # graph names come from file names
        "base_uri": settings.base_uri, "data_base_uri": settings.data_base_uri,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:24]


def file_digest(path: Path, root: Path) -> str:
    """SHA-256 of a file's bytes, remembered by (path, size, modification time) so that a restart does
    not read a large file again just to find it unchanged."""
    index_path = root / "digests.json"
    index = read_json(index_path)
    stat = path.stat()
    name = str(path.resolve())
    known = index.get(name)
    if known and known[:2] == [stat.st_size, stat.st_mtime_ns]:
        return known[2]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    index[name] = [stat.st_size, stat.st_mtime_ns, digest.hexdigest()]
    write_json(index_path, index)
    return digest.hexdigest()


IN_USE = ".in-use"


def hold(folder: Path) -> Any:
    """Mark ``folder`` as in use for as long as the returned file stays open (a shared lock: any number
    of servers may use one prepared dataset; eviction needs the lock to itself)."""
    handle = (folder / IN_USE).open("a")
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


def _evict(root: Path, keep: Path) -> None:
    """Remove prepared folders beyond the :data:`KEEP` most recently used, never ``keep`` nor one that a
    running server, ``tourkg dump`` or ``tourkg query`` holds (see :func:`hold`)."""
    folders = []
    for path in root.iterdir():
        with contextlib.suppress(OSError):  # another process may be removing it right now
            if path.is_dir() and path != keep:
                folders.append((path.stat().st_mtime, path))
    for _mtime, old in sorted(folders, reverse=True)[KEEP - 1:]:
        with contextlib.suppress(OSError), (old / IN_USE).open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use
            shutil.rmtree(old, ignore_errors=True)
