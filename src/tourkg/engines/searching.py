"""The label search index on the engine's side: built once per prepared dataset, kept in its folder.

Built from the store's indexes, not by SPARQL: every label statement (``LABEL_IRIS``) of an IRI subject,
in any named graph, and that subject's types. On a million triples this takes a second or two in the
background right after start-up; later starts (and engines restarted after a runaway query) read it
back from ``search.pickle`` (the built arrays: 0.3 s at 1M triples, where rebuilding took 1.2 s).
"""

from __future__ import annotations

import io
import pickle
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


class SearchHolder:
    """The index of one engine: read from the prepared folder, or built (once, by one thread)."""

    def __init__(self, store_of: Any, folder: Path) -> None:
        self.store_of, self.path = store_of, folder / "search.pickle"
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()

    def index(self) -> SearchIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = self._load_or_build()
        return self._index

    def _load_or_build(self) -> SearchIndex:
        try:
            return SearchIndex.from_arrays(_read_arrays(self.path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, pickle.UnpicklingError):
            pass
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
