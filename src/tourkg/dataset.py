"""Open what is served: prepare the dataset (or find it prepared), pass the SHACL gate, start the engine,
and read the small documents served beside the data (ontology, shapes). Used by ``tourkg serve``, the
other commands and the tests alike.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import Graph

from tourkg import loader
from tourkg.config import Settings
from tourkg.engines.spawn import discard
from tourkg.errors import DataError, StartupError
from tourkg.prepare import Prepared, hold, prepare
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
    hold: Any = None  # the open file that marks the prepared folder as in use
    _closed: bool = field(default=False, repr=False)

    @property
    def repr_folder(self) -> Path | None:
        """Where rendered representations are shared between processes and restarts (local engines)."""
        return self.prepared.folder / "repr" if self.prepared else None

    @property
    def dumps_folder(self) -> Path | None:
        """Where the engine renders the dump files (local engines)."""
        return self.prepared.folder / "dumps" if self.prepared else None

    def serving(self) -> None:
        """The server answers: the engine may now render what it deferred (``defer_rest``)."""
        if self.engine is not None and not self._closed:
            try:
                self.store.serving()  # type: ignore[attr-defined] - the local engines' store
            except Exception as exc:  # noqa: BLE001 - a missed word only delays the rest (SERVING_WAIT)
                log.warning("tourkg: could not tell the engine that the server answers (%s): it renders "
                            "the other dumps and the snapshot on its own a little later", exc)

    def close(self) -> None:
        """Close the store and stop the engine process."""
        if self._closed:
            return
        self._closed = True
        self.store.close()
        if self.engine is not None:
            self.engine.stop()
        if self.hold is not None:
            self.hold.close()


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


class Unchanged(Exception):
    """A reload found the very files already served (same content hash): there is nothing to do."""


class PendingDataset:
    """A dataset being opened: the engine loads and the SHACL gate runs, each in a process of its own,
    while the caller goes on (the server imports its web framework meanwhile); :meth:`finish` waits.

    :param unless_key: raise :class:`Unchanged` instead when the files' key is this one (a reload).
    """

    def __init__(self, settings: Settings, unless_key: str | None = None, spare: Any = None,
                 defer_rest: bool = False) -> None:
        """``spare``: an engine process started beforehand (``engines.spawn``), used or discarded.
        ``defer_rest``: the engine renders what no first request needs (the other dumps, the snapshot)
        only after :meth:`OpenDataset.serving` (a server's first start)."""
        try:
            self._start(settings, unless_key, spare, defer_rest)
        except BaseException:
            engine = getattr(self, "engine", None)
            if engine is not None:  # the spare, if any, became this engine
                engine.stop()
            else:
                discard(spare)
            held = getattr(self, "hold", None)
            if held is not None:
                held.close()
            raise

    def _start(self, settings: Settings, unless_key: str | None, spare: Any, defer_rest: bool) -> None:
        self.settings = settings
        self.mode, argument = engine_mode(settings.store)
        self.argument = argument or ""
        self.prepared: Prepared | None = None
        self.engine: Any = None
        self.gate: _Gate | None = None
        if self.mode == "remote":
            discard(spare)
            return
        from tourkg.engines.client import EngineProcess

        try:
            self.prepared = prepare(settings)
        except DataError as exc:
            raise StartupError(f"Cannot load the data: {exc.message}", 2) from None
        if unless_key is not None and self.prepared.key == unless_key:
            raise Unchanged(unless_key)
        disk = None
        if self.mode == "disk":
            disk = _disk_folder(Path(self.argument), self.prepared.key, unless_key)
        self.hold = hold(self.prepared.folder)  # kept open while served: never evicted meanwhile
        self.engine = EngineProcess(self.prepared, self.mode, disk, spare, defer_rest)
        self.gate = _start_gate(self.prepared)

    def finish(self, meanwhile: Callable[[OpenDataset], None] | None = None) -> OpenDataset:
        """The opened dataset, once it conforms to the shapes.

        :param meanwhile: called with the dataset as soon as the engine is ready, while the SHACL gate
            may still be running (the server renders its first documents then): the gate is the longest
            part of a first start, and the dataset is closed again if it refuses the data.
        :raises StartupError: unreadable input (exit code 2) or data that does not conform (exit code 1).
        """
        if self.mode == "remote":
            dataset = _open_remote(self.settings, self.argument)
            try:
                if meanwhile is not None:
                    meanwhile(dataset)
            except BaseException:
                dataset.close()
                raise
            return dataset
        assert self.prepared is not None
        try:
            self.engine.wait_ready()
            self.engine.supervise()
            resolved = self.prepared.settings
            dataset = OpenDataset(resolved, self.engine.store(resolved), *_documents(resolved),
                                  prepared=self.prepared, engine=self.engine, hold=self.hold)
        except BaseException as exc:
            self._abandon()
            if isinstance(exc, DataError):
                raise StartupError(f"Cannot load the data: {exc.message}", 2) from None
            raise
        try:
            if meanwhile is not None:
                meanwhile(dataset)
            _finish_gate(self.prepared, self.gate)
        except BaseException as exc:
            try:
                dataset.close()
            finally:
                if self.gate is not None:
                    self.gate.kill()
            if isinstance(exc, DataError):
                raise StartupError(f"Cannot load the data: {exc.message}", 2) from None
            raise
        return dataset

    def _abandon(self) -> None:
        """Stop what was started: the engine, the gate, the hold on the prepared folder."""
        try:
            self.engine.stop()
        finally:
            if self.gate is not None:
                self.gate.kill()
            self.hold.close()


#: The file that marks a ``--store oxigraph:DIR`` folder as tourkg's (one subfolder per dataset inside).
DISK_MARKER = "tourkg-stores.json"


def _disk_folder(root: Path, key: str, keep: str | None) -> str:
    """The on-disk store of the dataset ``key`` under ``--store oxigraph:DIR``: ``DIR/KEY``, so that a
    reload builds the new store beside the one being served. Stores of other datasets are removed,
    except ``keep`` (the one served while a reload prepares the next).

    :raises StartupError: ``DIR`` holds something that is not tourkg's.
    """
    from tourkg.engines.process import MARKER

    root = root.expanduser().resolve()
    if root.exists() and any(root.iterdir()) and not (root / DISK_MARKER).exists():
        if not (root / MARKER).exists():  # neither this layout nor the single store of earlier versions
            raise StartupError(f"Cannot load the data: {root} is not empty and holds no tourkg dataset: "
                               "give an empty or new directory to --store oxigraph:DIR (tourkg replaces what "
                               "it finds there)", 2)
        shutil.rmtree(root)  # an earlier version's single store: rebuilt in the new layout
    root.mkdir(parents=True, exist_ok=True)
    (root / DISK_MARKER).write_text(json.dumps({"layout": "one folder per dataset key"}))
    for other in root.iterdir():
        if other.is_dir() and other.name not in (key, keep):
            shutil.rmtree(other, ignore_errors=True)
    return str(root / key)


def start_dataset(settings: Settings, spare: Any = None, defer_rest: bool = False) -> PendingDataset:
    """Start opening the dataset of ``settings`` (see :class:`PendingDataset`), in the engine process
    ``spare`` when one was started beforehand."""
    return PendingDataset(settings, spare=spare, defer_rest=defer_rest)


def open_dataset(settings: Settings) -> OpenDataset:
    """Prepare and open the dataset of ``settings``.

    :raises StartupError: unreadable input (exit code 2) or data that does not conform (exit code 1).
    """
    return start_dataset(settings).finish()


class _Gate:
    """The SHACL validation running in a forked child: it inherits the modules already imported (rdflib),
    so it starts in a fraction of the time a new interpreter takes, and the parent goes on meanwhile."""

    def __init__(self, settings: Settings) -> None:
        import pyshacl  # noqa: F401 - imported before the fork: the child, on the critical path, starts at once

        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: validate, write the verdict, leave without running any cleanup
            os.close(read)
            try:
                found = _validate_here(settings)
            except BaseException as exc:  # reported to the parent, which decides
                found = {"error": f"{type(exc).__name__}: {exc}"}
            with os.fdopen(write, "w") as out:
                out.write(json.dumps(found))
            os._exit(0)
        os.close(write)
        self.read: int | None = read

    def verdict(self) -> dict[str, Any]:
        assert self.read is not None
        read, self.read = self.read, None
        with os.fdopen(read) as source:
            text = source.read()
        os.waitpid(self.pid, 0)
        self.pid = 0  # reaped: the number may belong to another process from now on
        return json.loads(text or '{"error": "the validation stopped"}')

    def kill(self) -> None:
        """Stop the child if it still runs, reap it and close the pipe (at most once each)."""
        if self.pid:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(self.pid, 0)
            self.pid = 0
        if self.read is not None:
            with contextlib.suppress(OSError):
                os.close(self.read)
            self.read = None


def _validate_here(settings: Settings) -> dict[str, Any]:
    from tourkg.validate import validate

    try:
        report = validate(loader.load(settings, settings.data_base_uri, ontology=False))
    except DataError as exc:
        return {"error": exc.message}
    return {"conforms": report.conforms, "text": report.text}


def _start_gate(prepared: Prepared) -> _Gate | None:
    """Start the SHACL validation, unless disabled, shapeless or already decided for this content (the
    verdict is kept with the prepared dataset)."""
    settings = prepared.settings
    if not settings.validate or not settings.shapes or prepared.record.get("validation") is not None:
        return None
    return _Gate(settings)


def _finish_gate(prepared: Prepared, gate: _Gate | None) -> None:
    """Refuse data that does not conform to the shapes."""
    settings = prepared.settings
    if not settings.validate or not settings.shapes:
        return
    verdict = prepared.record.get("validation")
    if gate is not None:
        found = gate.verdict()
        if "error" in found:
            raise DataError(found["error"])
        verdict = {"conforms": found["conforms"], "text": found["text"]}
        prepared.save_record(validation=verdict)
    assert verdict is not None
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
