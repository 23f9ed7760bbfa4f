"""Read data, ontology and shapes files into quads and graphs, with one named graph per source file.

A triples file ``data/X.ttl`` becomes the named graph ``{base}id/graph/X``; a TriG or N-Quads file keeps
its named graphs and its default graph becomes ``{base}id/graph/X``. Keeping every statement in a named
graph is what lets PROV metadata say which source supports it.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import Graph, URIRef

from tourkg import formats
from tourkg.config import Settings
from tourkg.errors import DataError
from tourkg.formats import Kind
from tourkg.iris import rewrite_iri
from tourkg.namespaces import RDF, SD
from tourkg.store import to_rdflib

_RDF_TYPE = ox.NamedNode(str(RDF.type))
_ORIGIN = re.compile(r"^https?://[^/?#]+/")
_OWL_ONTOLOGY = ox.NamedNode("http://www.w3.org/2002/07/owl#Ontology")


@dataclass(frozen=True)
class Loaded:
    """Everything read from disk, in the data's own namespace (before base rewriting)."""

    quads: list[ox.Quad]
    ontology: list[ox.Quad]
    shapes: list[ox.Quad]
    base: str = ""  # the namespace the data files are written in


def graph_name(path: Path, base: str) -> str:
    """The named graph a file's (default-graph) triples go into."""
    return f"{base}id/graph/{path.stem.lower().replace('_', '-').replace(' ', '-')}"


def parse_file(path: Path, base: str, into: str | None = None) -> list[ox.Quad]:
    """Parse one RDF file; triples go into the graph ``into`` (default: the file's graph).

    :raises DataError: unreadable file or syntax error, with file, line and column.
    """
    fmt = formats.by_extension(path.suffix)
    if fmt is None or fmt.kind not in (Kind.GRAPH, Kind.DATASET):
        raise DataError(f"unknown RDF file extension {path.suffix!r} (use .ttl, .nt, .trig, .nq, .jsonld, "
                        ".rdf or .owl)", str(path))
    target = ox.NamedNode(into or graph_name(path, base))
    try:
        data = path.read_bytes()
        engine_format = getattr(ox.RdfFormat, fmt.engine or "")
        parsed = ox.parse(data, format=engine_format, base_iri=path.resolve().as_uri())
        quads = []
        for item in parsed:
            if isinstance(item, ox.Triple) or isinstance(item.graph_name, ox.DefaultGraph):
                quads.append(ox.Quad(item.subject, item.predicate, item.object, target))
            else:
                quads.append(item)
        return quads
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", str(path)) from None
    except SyntaxError as exc:
        line, column = getattr(exc, "lineno", None), getattr(exc, "offset", None)
        raise DataError(f"{fmt.label} syntax error: {exc.msg if hasattr(exc, 'msg') else exc}", str(path),
                        line, column) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot parse {fmt.label}: {exc}", str(path)) from None


def parse_ontology(path: Path, base: str) -> list[ox.Quad]:
    """Parse an ontology file into the named graph named by its own ``owl:Ontology`` IRI, so that the
    graph's name dereferences (to the ontology's documentation) like every other IRI in the dumps."""
    quads = parse_file(path, base)
    named = _declared_ontology(quads)
    if named is None:
        return quads
    return [ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode(named)) for q in quads]


def ontology_graph(path: Path, base: str) -> str | None:
    """The named graph of an ontology file: the IRI it declares as its one ``owl:Ontology``, if any."""
    return _declared_ontology(parse_file(path, base))


def _declared_ontology(quads: list[ox.Quad]) -> str | None:
    declared = {q.subject for q in quads if q.predicate == _RDF_TYPE and q.object == _OWL_ONTOLOGY}
    named = [d.value for d in declared if isinstance(d, ox.NamedNode)]
    return named[0] if len(named) == 1 else None


#: Statements read from the head of each data file to find its namespace (``infer_base``): enough to
#: be representative, and cheap on a file of any size.
SAMPLE_SIZE = 50_000


def sample(paths: Iterable[Path], limit: int = SAMPLE_SIZE) -> list[str]:
    """The IRIs of the named subjects among the first ``limit`` statements of each file (the parser
    streams, so a large file costs nothing more), for :func:`infer_base`. Only the subjects' text is
    kept: building a quad for each statement took half of the 0.3 s this costs a first start.

    :raises DataError: unreadable file or syntax error in the part read.
    """
    found: list[str] = []
    for path in paths:
        fmt = formats.by_extension(Path(path).suffix)
        engine_format = getattr(ox.RdfFormat, fmt.engine or "") if fmt else None
        if engine_format is None:
            raise DataError(f"unknown RDF file extension {Path(path).suffix!r}", str(path))
        try:
            parsed = ox.parse(path=str(path), format=engine_format, base_iri=Path(path).resolve().as_uri())
            found += [item.subject.value for item in itertools.islice(parsed, limit)
                      if isinstance(item.subject, ox.NamedNode)]
        except OSError as exc:
            raise DataError(f"cannot read file: {exc.strerror or exc}", str(path)) from None
        except SyntaxError as exc:
            raise DataError(f"syntax error: {getattr(exc, 'msg', exc)}", str(path),
                            getattr(exc, "lineno", None),
                            getattr(exc, "offset", None)) from None
    return found


def parse_files(paths: Iterable[Path], base: str, into: str | None = None) -> list[ox.Quad]:
    """Parse several files (see :func:`parse_file`)."""
    return [q for path in paths for q in parse_file(Path(path), base, into)]


def infer_base(iris: Iterable[str], fallback: str) -> str:
    """The namespace the data's subjects (``iris``) share: under their most common origin, the longest
    common path that ends in ``/``, cut before ``id/`` when the data follows the ``{base}id/{type}/{slug}``
    pattern (``http://example.org/id/person/ada`` → ``http://example.org/``); ``fallback`` without
    http(s) subjects."""
    iris = list(iris)
    origins = Counter(match.group(0) for match in map(_ORIGIN.match, iris) if match)
    if not origins:
        return fallback
    origin = origins.most_common(1)[0][0]
    shared = os.path.commonprefix([s for s in iris if s.startswith(origin)])
    shared = shared[: shared.rfind("/") + 1]
    cut = shared.find("/id/", len(origin) - 1)
    return shared[: cut + 1] if cut >= 0 else shared


def data_base(settings: Settings) -> str:
    """The namespace the data files are written in: ``data_base_uri``, else inferred from the head of
    each file (:func:`sample`), else the server's own origin."""
    if not settings.data:
        raise DataError("no data file given (use --data FILE)")
    return settings.data_base_uri or infer_base(sample(settings.data), f"http://{settings.host}:{settings.port}/")


def load(settings: Settings, base: str | None = None, ontology: bool = True) -> Loaded:
    """Read the data, ontology (unless not wanted) and shapes files named by ``settings`` in full (for
    SHACL validation), in the namespace ``base`` (default: :func:`data_base`)."""
    base = base or data_base(settings)
    quads = parse_files(settings.data, base)
    paths = settings.ontology if ontology else ()
    return Loaded(
        quads=quads,
        ontology=[q for path in paths for q in parse_ontology(Path(path), base)],
        shapes=parse_files(settings.shapes, base, into=f"{base}id/graph/shapes"),
        base=base,
    )


def resolve(settings: Settings, loaded: Loaded | str) -> Settings:
    """``settings`` with the inferred namespace (of ``loaded``, or given) filled in where it was left
    to the data."""
    if settings.base_uri and settings.data_base_uri:
        return settings
    base = loaded if isinstance(loaded, str) else loaded.base
    return settings.replace(base_uri=settings.base_uri or base, data_base_uri=settings.data_base_uri or base)


def to_graph(quads: Iterable[ox.Quad]) -> Graph:
    """The union of ``quads`` as one rdflib graph (for pyshacl and for serializing shapes)."""
    graph = Graph()
    for q in quads:
        graph.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    return graph


def validation_graph(quads: Sequence[ox.Quad]) -> Graph:
    """The union graph SHACL validates, plus ``G a sd:Graph`` for every named graph, so shapes can ask
    that each graph (and so each statement) has a resolvable source."""
    graph = to_graph(quads)
    for name in {q.graph_name for q in quads if isinstance(q.graph_name, ox.NamedNode)}:
        graph.add((URIRef(name.value), RDF.type, SD.Graph))
    return graph


def _rewrite_term(term: Any, old: str, new: str) -> Any:
    if isinstance(term, ox.NamedNode) and term.value.startswith(old):
        return ox.NamedNode(rewrite_iri(term.value, old, new))
    return term


def rewrite(quads: Iterable[ox.Quad], old_base: str, new_base: str) -> list[ox.Quad]:
    """Move every IRI under ``old_base`` to ``new_base`` (``--base-uri``)."""
    if old_base == new_base:
        return list(quads)
    return [ox.Quad(*(_rewrite_term(t, old_base, new_base) for t in (q.subject, q.predicate, q.object,
                                                                       q.graph_name))) for q in quads]
