"""The label search index on the engine's side: built once per prepared dataset, kept in its folder.

Every label statement (``LABEL_IRIS``) of an IRI subject, in any named graph, and that subject's types.
Later starts (and engines restarted after a runaway query) read it back from ``search.pickle`` (the
built arrays: 0.3 s at 1M triples, where building took 2.4 s).

On a first start with large input files the index is built by a process of its own
(``python -m tourkg.engines.searching``), from a parse of the files running beside the engine's load:
Oxigraph loads Turtle on one core, so the other is free, and the index is ready when the load is
(measured on a million triples: 3.4 s of work beside a 4 s load, where building it from the store after
the load competed with the statistics and the N-Triples dump for 2.4 s). A thread would not do: it holds
the GIL the loading thread needs now and then, which slowed the load by a quarter. Small inputs, and any
case the side build fails, build from the store's indexes after the load.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from tourkg.engines.wire import LABEL_IRIS
from tourkg.files import write_atomic
from tourkg.search import Entry, SearchIndex

_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
#: The layout of ``search.pickle``: another one is rebuilt from the store, not misread.
FORMAT = 1
#: Labels searched beside the page-title ones: alternative names people type.
EXTRA_LABELS = ("http://www.w3.org/2004/02/skos/core#altLabel", "https://schema.org/alternateName")
#: Input files at least this large (in all) have their index built beside the load (a process start
#: costs more than building the index of a small dataset from the store). The environment variable
#: ``TOURKG_SEARCH_SIDE_BUILD_BYTES`` changes it (the tests set 0 to use it on a small dataset).
SIDE_BUILD_BYTES = 4 << 20


def entries(store: ox.Store) -> list[Entry]:
    """Every label of every IRI subject, with the subject's types."""
    labels: dict[str, set[tuple[str, str]]] = {}
    for predicate in (*LABEL_IRIS, *EXTRA_LABELS):
        for quad in store.quads_for_pattern(None, ox.NamedNode(predicate), None):
            subject, value = quad.subject, quad.object
            if isinstance(subject, ox.NamedNode) and isinstance(value, ox.Literal):
                labels.setdefault(subject.value, set()).add((value.value, value.language or ""))
    found = []
    for iri, names in labels.items():
        stated = store.quads_for_pattern(ox.NamedNode(iri), _RDF_TYPE, None)
        types = tuple(sorted({q.object.value for q in stated if isinstance(q.object, ox.NamedNode)}))
        found += [Entry(iri, label, lang, types) for label, lang in names]
    return found


def parsed_entries(inputs: list[dict[str, Any]], rewrite: list[str] | None = None) -> list[Entry]:
    """What :func:`entries` finds in the store, read from the input files instead (the engine's load plan
    ``inputs``: path, format, base IRI; ``rewrite``: the ``--base-uri`` move, as the load applies it).
    The same statements in any graph give the same entries: graphs play no part."""
    wanted = {ox.NamedNode(p) for p in (*LABEL_IRIS, *EXTRA_LABELS)}
    labels: dict[str, set[tuple[str, str]]] = {}
    types: dict[str, set[str]] = {}
    old, new = rewrite if rewrite and rewrite[0] != rewrite[1] else ("", "")
    parent = os.getppid()
    for item in inputs:
        parsed = ox.parse(path=item["path"], format=getattr(ox.RdfFormat, item["format"]),
                          base_iri=item["base_iri"])
        for n, statement in enumerate(parsed):
            if not n & 0xFFFF and os.getppid() != parent:  # the engine is gone: so is the need
                os._exit(1)
            predicate, subject = statement.predicate, statement.subject
            if not isinstance(subject, ox.NamedNode):
                continue
            if predicate == _RDF_TYPE:
                if isinstance(statement.object, ox.NamedNode):
                    types.setdefault(subject.value, set()).add(statement.object.value)
            elif predicate in wanted and isinstance(statement.object, ox.Literal):
                value = statement.object
                labels.setdefault(subject.value, set()).add((value.value, value.language or ""))
    found = []
    for iri, names in labels.items():
        kinds = tuple(sorted(_moved(t, old, new) for t in types.get(iri, ())))
        found += [Entry(_moved(iri, old, new), label, lang, kinds) for label, lang in names]
    return found


def _moved(iri: str, old: str, new: str) -> str:
    return new + iri[len(old):] if old and iri.startswith(old) else iri


def start_side_build(plan: dict[str, Any], folder: Path) -> subprocess.Popen | None:
    """Start building the index of ``folder``'s dataset beside the load, when the inputs are large and
    no index is kept yet (see the module docstring)."""
    try:
        if (folder / "search.pickle").exists():
            return None
        threshold = int(os.environ.get("TOURKG_SEARCH_SIDE_BUILD_BYTES", SIDE_BUILD_BYTES))
        if sum(Path(item["path"]).stat().st_size for item in plan["inputs"]) < threshold:
            return None
        job = {"inputs": plan["inputs"], "rewrite": plan.get("rewrite"), "out": str(folder / "search.pickle")}
        side = subprocess.Popen([sys.executable, "-m", "tourkg.engines.searching"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL)
        assert side.stdin is not None
        side.stdin.write(json.dumps(job).encode())
        side.stdin.close()
        return side
    except (OSError, KeyError, TypeError):  # the index is then built from the store, as for small data
        return None


class SearchHolder:
    """The index of one engine: read from the prepared folder, or built (once, by one thread)."""

    def __init__(self, store_of: Any, folder: Path, log: Any = None) -> None:
        self.store_of, self.path, self.log = store_of, folder / "search.pickle", log
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()
        #: The process building the index beside the load, if one was started.
        self.side: subprocess.Popen | None = None

    def stop_side(self) -> None:
        """The load failed: the side build has nothing to do."""
        if self.side is not None:
            self.side.kill()
            self.side.wait()
            self.side = None

    def index(self) -> SearchIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = self._load_or_build()
        return self._index

    def _load_or_build(self) -> SearchIndex:
        side_failed = None
        if self.side is not None:  # it writes the file read below, or fails and the store is used
            side_failed = self.side.wait() or None
            self.side = None
            if self.log is not None and not side_failed:
                self.log("search index built beside the load")
        try:
            return SearchIndex.from_arrays(_read_arrays(self.path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, pickle.UnpicklingError):
            pass
        if self.log is not None and side_failed:
            self.log(f"search index: the build beside the load failed (exit status {side_failed}); "
                     "building it from the store")
        index = SearchIndex(entries(self.store_of()))
        try:
            write_atomic(self.path, _arrays_bytes(index.to_arrays()))
        except OSError:  # a full disk costs a rebuild on the next start, not an answer
            pass
        return index

    def search(self, query: str, type_: str | None, limit: int) -> list[list[Any]]:
        hits = self.index().search(query, type_, limit)
        return [[h.iri, h.label, h.lang, list(h.types), h.rank] for h in hits]


def _arrays_bytes(arrays: dict[str, list[Any]]) -> bytes:
    """The arrays as a header and one pickle each (see :func:`_read_arrays`)."""
    out = io.BytesIO()
    pickle.dump({"version": FORMAT, "names": list(arrays)}, out, protocol=pickle.HIGHEST_PROTOCOL)
    for values in arrays.values():
        pickle.dump(values, out, protocol=pickle.HIGHEST_PROTOCOL)
    return out.getvalue()


def _read_arrays(path: Path) -> dict[str, list[Any]]:
    """Read what :func:`_arrays_bytes` wrote, one array at a time: one unpickling holds the GIL from start
    to end, and a single one of the whole index (0.3 s at 1M triples) held every other thread of the
    engine that long, the first requests after a restart included.

    :raises ValueError: another layout; (OSError, pickle errors) a missing or damaged file.
    """
    with path.open("rb") as source:
        header = pickle.load(source)  # noqa: S301 - our own file, in the prepared folder
        if not isinstance(header, dict) or header.get("version") != FORMAT:
            raise ValueError("another layout of the search index")
        arrays = {}
        for name in header["names"]:
            arrays[name] = pickle.load(source)  # noqa: S301
            time.sleep(0)  # let the request threads in between
    return arrays


def main() -> None:
    """The side build: a job (JSON on stdin) → the index written to its ``out`` file; exits 1 when the
    files do not parse (the engine's load reports why)."""
    job = json.loads(sys.stdin.read())
    try:
        index = SearchIndex(parsed_entries(job["inputs"], job.get("rewrite")))
    except (SyntaxError, OSError, ValueError, UnicodeDecodeError):
        sys.exit(1)
    write_atomic(Path(job["out"]), _arrays_bytes(index.to_arrays()))


if __name__ == "__main__":
    main()
