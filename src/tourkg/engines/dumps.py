"""Dump files, rendered once per prepared dataset by the engine and then sent as files.

Each dump is written aside (``.part``) and renamed into place with its ETag (a SHA-256 of the bytes,
``.etag``) beside it, so no process ever sees a partial file and the bytes never change for the same
prepared dataset: every web worker, every restart and ``tourkg dump`` serve the same file. A dump is
never held in memory: Oxigraph writes it to the file, gzip streams it in blocks.

Triple formats (Turtle, N-Triples, JSON-LD, RDF/XML) hold the RDF merge of all graphs, each triple once;
dataset formats (TriG, N-Quads) hold every named graph.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mmap
import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import pyoxigraph as ox

from tourkg import jsonld
from tourkg.files import file_lock

#: file extension → pyoxigraph format name, in the order the background renderer prepares them:
#: N-Triples first (the dump most asked for), then N-Quads (what a restarting engine reloads, and where
#: the prefixes in use are looked up).
ENGINE_FORMATS = {"nt": "N_TRIPLES", "nq": "N_QUADS", "ttl": "TURTLE", "trig": "TRIG", "jsonld": "JSON_LD",
                  "rdf": "RDF_XML"}
DATASET_EXTENSIONS = ("nq", "trig")
#: N-Quads with the merge of the named graphs in the default graph: what to load into an engine whose
#: union default graph repeats a triple once per graph holding it (Oxigraph 0.5), so that its default
#: graph holds each triple once and tourkg's remote engine uses it as it is (``tourkg dump
#: --merged-default-graph``).
MERGED_NQ = "merged.nq"
_BLOCK = 1 << 20


def file_name(extension: str, gzipped: bool = False) -> str:
    """``dump.ttl`` or ``dump.ttl.gz``."""
    return f"dump.{extension}" + (".gz" if gzipped else "")


def read_etag(path: Path) -> str | None:
    """The ETag recorded beside a finished dump, or ``None`` when the dump is not there yet."""
    try:
        return path.with_name(path.name + ".etag").read_text().strip() if path.exists() else None
    except OSError:
        return None


class DumpWriter:
    """Renders the dumps of one store into ``folder``, each at most once, on demand or in order."""

    def __init__(self, store: ox.Store, folder: Path, prefixes: dict[str, str], merged: bool,
                 graphs: list[str]) -> None:
        self.store, self.folder, self.prefixes = store, folder, prefixes
        self.merged, self.graphs = merged, graphs
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._used: dict[str, str] | None = None

    def ensure(self, extension: str, gzipped: bool = False) -> tuple[Path, str, int]:
        """The path, ETag and size of a dump, rendering it now if needed (other threads asking for the
        same dump wait for this one).

        ``merged.nq`` is N-Quads for loading into another engine: the named graphs plus, when some triple
        is in several of them, their merge as the default graph (see :data:`MERGED_NQ`).
        """
        if extension == MERGED_NQ and not self.merged:
            return self.ensure("nq", gzipped)
        name = file_name(extension, gzipped)
        path = self.folder / name
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            etag = read_etag(path)
            if etag is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                source = self.ensure(extension)[0] if gzipped else None
                with file_lock(self.folder / f".lock-{name}"):  # another server on the same data
                    etag = read_etag(path)
                    if etag is None and source is not None:
                        etag = finish_file(path, lambda out: gzip_file(source, out))
                    elif etag is None:
                        etag = finish_file(path, lambda out: self._render(extension, out))
            return path, etag, path.stat().st_size

    def render_all(self, stop: threading.Event | None = None) -> None:
        """Every dump, plain then gzipped (the background job after start-up)."""
        for gzipped in (False, True):
            for extension in ENGINE_FORMATS:
                if stop is not None and stop.is_set():
                    return
                self.ensure(extension, gzipped)

    def used_prefixes(self) -> dict[str, str]:
        """The prefixes whose namespace occurs in the data, found in the N-Quads dump."""
        if self._used is None:
            path = self.ensure("nq")[0]
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if not size:
                    self._used = {}
                else:
                    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                        self._used = {p: ns for p, ns in self.prefixes.items() if data.find(ns.encode()) >= 0}
        return self._used

    def _render(self, extension: str, out: BinaryIO) -> None:
        if extension == MERGED_NQ:  # the store as it is: named graphs and the merge in the default graph
            self.store.dump(out, ox.RdfFormat.N_QUADS)
            return
        fmt = getattr(ox.RdfFormat, ENGINE_FORMATS[extension])
        prefixes = None if extension in ("nq", "nt") else self.used_prefixes()
        if extension == "jsonld":
            write_jsonld(self._triples(), self.used_prefixes(), out)
        elif extension in DATASET_EXTENSIONS:
            if self.merged:  # the default graph holds a merge: write the named graphs only
                ox.serialize(self._named_quads(), out, fmt, prefixes=prefixes)
            else:
                self.store.dump(out, fmt, prefixes=prefixes)
        elif self.merged:
            self.store.dump(out, fmt, from_graph=ox.DefaultGraph(), prefixes=prefixes)
        elif len(self.graphs) == 1:
            self.store.dump(out, fmt, from_graph=ox.NamedNode(self.graphs[0]), prefixes=prefixes)
        else:
            ox.serialize(self._triples(), out, fmt, prefixes=prefixes)

    def _named_quads(self) -> Iterator[ox.Quad]:
        for graph in self.graphs:
            yield from self.store.quads_for_pattern(None, None, None, ox.NamedNode(graph))

    def _triples(self) -> Iterator[ox.Triple]:
        """Each triple of the merge once: the stored merge, or the graphs one after the other (no triple
        is in two of them, or the merge would have been stored)."""
        if self.merged:
            quads = self.store.quads_for_pattern(None, None, None, ox.DefaultGraph())
        else:
            quads = self._named_quads()
        for q in quads:
            yield ox.Triple(q.subject, q.predicate, q.object)


def finish_file(path: Path, write: Any) -> str:
    """Write through ``write(handle)`` into ``path.part``, hash it, then publish ETag and file."""
    partial = path.with_name(path.name + ".part")
    with partial.open("wb") as out:
        write(out)
    digest = hashlib.sha256()
    with partial.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    etag = digest.hexdigest()[:40]
    marker = path.with_name(path.name + ".etag")
    marker.write_text(etag + "\n")
    partial.replace(path)
    return etag


def gzip_file(source: Path, out: BinaryIO) -> None:
    # A fixed mtime and no file name: the same bytes every time, so the ETag holds across rebuilds.
    with source.open("rb") as src, gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=6,
                                                 mtime=0) as packed:
        while block := src.read(_BLOCK):
            packed.write(block)


def write_jsonld(triples: Iterator[ox.Triple], prefixes: dict[str, str], out: BinaryIO) -> None:
    """Stream JSON-LD with an inline prefix context: one node object per run of a subject's triples
    (JSON-LD 1.1 §4.1.5 compact IRIs), so a million triples never sit in memory as a document."""
    used = {p: ns for p, ns in sorted(prefixes.items()) if p not in ("_", "http", "https")}
    compact = lru_cache(maxsize=1 << 16)(jsonld.compactor(used))
    out.write(b'{"@context": ' + json.dumps(used, ensure_ascii=False).encode() + b', "@graph": [')
    node: dict[str, Any] | None = None
    current: Any = None
    first = True
    for triple in triples:
        if node is None or triple.subject != current:
            if node is not None:
                out.write((b"\n " if first else b",\n ") + json.dumps(node, ensure_ascii=False).encode())
                first = False
            current = triple.subject
            node = {"@id": _node_id(triple.subject, compact)}
        _add_value(node, triple, compact)
    if node is not None:
        out.write((b"\n " if first else b",\n ") + json.dumps(node, ensure_ascii=False).encode())
    out.write(b"\n]}\n")


_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _node_id(term: Any, compact: Any) -> str:
    return f"_:{term.value}" if isinstance(term, ox.BlankNode) else compact(term.value)


def _add_value(node: dict[str, Any], triple: ox.Triple, compact: Any) -> None:
    obj, predicate = triple.object, triple.predicate.value
    if predicate == _RDF_TYPE and isinstance(obj, ox.NamedNode):
        node.setdefault("@type", []).append(compact(obj.value))
        return
    if isinstance(obj, ox.Literal):
        value: dict[str, Any] = {"@value": obj.value}
        if obj.language:
            value["@language"] = obj.language
        elif obj.datatype.value != _XSD_STRING:
            value["@type"] = compact(obj.datatype.value)
    else:
        value = {"@id": _node_id(obj, compact)}
    node.setdefault(compact(predicate), []).append(value)
