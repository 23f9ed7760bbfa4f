"""Open what is served: prepare the dataset (or find it prepared), pass the SHACL gate, start the engine,
and read the small documents served beside the data (ontology, shapes). Used by ``tourkg serve``, the
other commands and the tests alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import Graph

from tourkg import loader
from tourkg.config import Settings
from tourkg.errors import DataError, StartupError
from tourkg.prepare import Prepared, prepare
from tourkg.store import Store

log = logging.getLogger(__name__)

REMOTE_PREFIX = "sparql:"
DISK_PREFIX = "oxigraph:"


@dataclass
class OpenDataset:
    """A served dataset: its settings (namespace resolved), store and documents, and what to stop."""

    settings: Settings
    store: Store
    shapes: Graph
    ontology: Graph
    prepared: Prepared | None = None
    engine: Any = None  # engines.client.EngineProcess for the local engines
    _closed: bool = field(default=False, repr=False)

    @property
    def repr_folder(self) -> Path | None:
        """Where rendered representations are shared between processes and restarts (local engines)."""
        return self.prepared.folder / "repr" if self.prepared else None

    def close(self) -> None:
        """Close the store and stop the engine process."""
        if self._closed:
            return
        self._closed = True
        self.store.close()
        if self.engine is not None:
            self.engine.stop()


def engine_mode(spec: str) -> tuple[str, str | None]:
    """``memory``, ``oxigraph:DIR`` or ``sparql:URL`` → (mode, argument).

    :raises StartupError: any other value.
    """
    if spec in ("", "memory"):
        return "memory", None
    for prefix, mode in ((DISK_PREFIX, "disk"), (REMOTE_PREFIX, "remote")):
        if spec.startswith(prefix) and spec[len(prefix):]:
            return mode, spec[len(prefix):]
    raise StartupError(f"Unknown store {spec!r}: use memory, oxigraph:DIR or sparql:URL.", 2)


def open_dataset(settings: Settings) -> OpenDataset:
    """Prepare and open the dataset of ``settings``.

    :raises StartupError: unreadable input (exit code 2) or data that does not conform (exit code 1).
    """
    mode, argument = engine_mode(settings.store)
    if mode == "remote":
        return _open_remote(settings, argument or "")
    from tourkg.engines.client import EngineProcess

    try:
        prepared = prepare(settings)
    except DataError as exc:
        raise StartupError(f"Cannot load the data: {exc.message}", 2) from None
    disk = str(Path(argument).expanduser().resolve()) if argument else None
    engine = EngineProcess(prepared, mode, disk)
    try:
        _gate(prepared)
        engine.wait_ready()
    except DataError as exc:
        engine.stop()
        raise StartupError(f"Cannot load the data: {exc.message}", 2) from None
    except BaseException:
        engine.stop()
        raise
    engine.supervise()
    resolved = prepared.settings
    return OpenDataset(resolved, engine.store(resolved), *_documents(resolved), prepared=prepared,
                       engine=engine)


def _gate(prepared: Prepared) -> None:
    """Refuse data that does not conform to the shapes; the verdict is kept with the prepared dataset,
    so unchanged data is validated once."""
    settings = prepared.settings
    if not settings.validate or not settings.shapes:
        return
    verdict = prepared.record.get("validation")
    if verdict is None:
        from tourkg.validate import validate

        report = validate(loader.load(settings, settings.data_base_uri))
        verdict = {"conforms": report.conforms, "text": report.text}
        prepared.save_record(validation=verdict)
    if not verdict["conforms"]:
        raise StartupError("The data does not conform to the shapes; refusing to start "
                           "(use --no-validate to serve it anyway).\n\n" + verdict["text"], 1)


def _documents(settings: Settings) -> tuple[Graph, Graph]:
    """The shapes and the ontology as graphs, in the served namespace (small files, parsed here)."""
    base, served = settings.data_base_uri, settings.base_uri
    try:
        shapes = loader.parse_files(settings.shapes, base, into=f"{base}id/graph/shapes")
        ontology = [q for path in settings.ontology for q in loader.parse_ontology(Path(path), base)]
    except DataError as exc:
        raise StartupError(f"Cannot load the data: {exc.message}", 2) from None
    return (loader.to_graph(loader.rewrite(shapes, base, served)),
            loader.to_graph(loader.rewrite(ontology, base, served)))


def _open_remote(settings: Settings, url: str) -> OpenDataset:
    """A dataset held by a remote SPARQL endpoint: tourkg holds no data, only the small documents."""
    from tourkg.engines.remote import RemoteStore

    store = RemoteStore(url, settings)
    if not settings.base_uri or not settings.data_base_uri:
        base = store.infer_base(f"http://{settings.host}:{settings.port}/")
        settings = loader.resolve(settings, base)
        store.settings = settings
    store.prefixes = _served(settings.base_uri)
    return OpenDataset(settings, store, *_documents(settings))


def _served(base: str) -> dict[str, str]:
    from tourkg.namespaces import served_prefixes

    return served_prefixes(base)
