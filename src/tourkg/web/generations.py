"""One prepared dataset served at a time, and the next swapped in at once: reload without downtime.

The supervisor prepares a new dataset aside (its own engine process, SHACL gate, prepared folder) while
the web workers go on serving the current one. Then it *publishes* it: a handoff file says how to reach
the new engine, and a generation number in memory shared with every worker (an anonymous shared
mapping made before the supervisor forks them) goes up by one. Each worker's watcher thread sees the number
change, builds the new ``Publisher`` and its fast path, and swaps them in with one assignment: a request
takes the current generation when it starts (``environ["tourkg.publisher"]``) and finishes on it, so no
request sees a mix of two datasets, an error or a cold engine. The old engine is stopped once every
request that could still use it is over (its time limits have passed).

Why not respawn the workers instead: on Linux each worker listens on its own ``SO_REUSEPORT`` socket,
and the connections queued on a worker being replaced are reset unless the
``net.ipv4.tcp_migrate_req`` sysctl is set; a swap inside the workers drops no connection.

``/healthz`` and ``/readyz`` are answered here, before any generation or framework: they must answer
even when the data is being swapped, and cost nothing.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import pickle
import struct
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tourkg.dataset import OpenDataset
from tourkg.iris import IriMap
from tourkg.web import ENVIRON_KEY, Publisher, rendering_key
from tourkg.web.fastpath import REPLAYABLE, FastPath

log = logging.getLogger("tourkg")

#: How often a worker looks at the generation number (its watcher thread) and at its parent.
POLL = 0.05
#: Layout of the shared memory: generation number, state (:data:`SERVING`, :data:`RELOADING`).
_LAYOUT = struct.Struct("QB")
SERVING, RELOADING = 0, 1
#: Where :meth:`Switch.ready` leaves the generation that will answer.
_GENERATION = "tourkg.generation"


@dataclass
class Handoff:
    """How a worker opens a published dataset (pickled into a private file by the supervisor)."""

    number: int
    settings: Any
    shapes: Any
    ontology: Any
    repr_folder: Path | None
    engine: tuple[str, bytes, dict[str, Any], dict[str, str]] | None  # address, authkey, meta, prefixes
    remote: str | None  # the remote engine's URL


def handoff_of(number: int, dataset: OpenDataset) -> Handoff:
    """What a worker needs to serve ``dataset``."""
    engine = None
    if dataset.engine is not None:
        process = dataset.engine
        engine = (process.address, process.authkey, process.meta, process.prepared.prefixes)
    remote = getattr(dataset.store, "url", None) if engine is None else None
    return Handoff(number, dataset.settings, dataset.shapes, dataset.ontology, dataset.repr_folder, engine,
                   remote)


def publisher_of(handoff: Handoff) -> Publisher:
    """The publisher a worker serves a handed-off dataset with (it owns no process of it)."""
    settings = handoff.settings
    if handoff.engine is not None:
        from tourkg.engines.client import EngineStore

        address, authkey, meta, prefixes = handoff.engine
        store: Any = EngineStore(address, authkey, meta, prefixes, settings.query_timeout,
                                 settings.max_result_rows, settings.query_queue_wait)
        folder = handoff.repr_folder / rendering_key(settings) if handoff.repr_folder else None
        return Publisher(settings=settings, store=store, iris=IriMap(settings.base_uri),
                         shapes=handoff.shapes, ontology=handoff.ontology, repr_folder=folder)
    from tourkg.engines.remote import RemoteStore
    from tourkg.namespaces import served_prefixes

    assert handoff.remote is not None
    store = RemoteStore(handoff.remote, settings)
    store.prefixes = served_prefixes(settings.base_uri)
    return Publisher(settings=settings, store=store, iris=IriMap(settings.base_uri), shapes=handoff.shapes,
                     ontology=handoff.ontology, ttl=60.0)


@dataclass
class Generation:
    """What a worker serves for one dataset: its publisher and the fast path of its prepared answers."""

    number: int
    publisher: Publisher
    handler: FastPath


class Switch:
    """The WSGI callable the web workers serve: health, then the current generation's fast path and Flask."""

    def __init__(self, app: Any, first: Publisher, *, forwarded: bool = False) -> None:
        self.app, self.forwarded = app, forwarded
        self.shared = mmap.mmap(-1, _LAYOUT.size)  # anonymous and shared: every forked worker sees it
        self.folder = Path(tempfile.mkdtemp(prefix="tourkg-generations-"))  # private (0700)
        self.current = self._generation(0, first)
        self.supervisor = os.getpid()
        self.ready_check: Callable[[Publisher], str | None] = _engine_ready
        self._watching = 0  # pid of the process whose watcher runs

    def _generation(self, number: int, pub: Publisher) -> Generation:
        return Generation(number, pub, FastPath(self.app, forwarded=self.forwarded, ttl=pub.ttl))

    # -- shared state ------------------------------------------------------------------------------
    def _read(self) -> tuple[int, int]:
        return _LAYOUT.unpack_from(self.shared, 0)

    def set_state(self, state: int) -> None:
        number, _ = self._read()
        _LAYOUT.pack_into(self.shared, 0, number, state)

    @property
    def reloading(self) -> bool:
        return self._read()[1] == RELOADING

    # -- supervisor side ---------------------------------------------------------------------------
    def publish(self, dataset: OpenDataset, pub: Publisher) -> int:
        """Hand ``dataset`` to every worker (and serve it here too); returns its generation number."""
        number = self._read()[0] + 1
        path = self.folder / f"{number}.pickle"
        partial = path.with_suffix(".part")
        partial.write_bytes(pickle.dumps(handoff_of(number, dataset)))
        partial.replace(path)  # complete before the number says it exists
        self.current = self._generation(number, pub)
        _LAYOUT.pack_into(self.shared, 0, number, self._read()[1])
        for old in self.folder.glob("*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
        return number

    def wait_workers(self, number: int, timeout: float = 10.0) -> list[int]:
        """Wait until every web worker serves generation ``number`` (each says so in a file of its own,
        ``ack-PID``); returns the pids of those that did not within ``timeout``. A worker builds the new
        generation before it switches, so "every worker" comes a little after the first one: without
        waiting, two requests in a row could meet the new data and then the old."""
        deadline = time.monotonic() + timeout
        while True:
            behind = [pid for pid, seen in self._acks().items() if seen < number]
            if not behind or time.monotonic() > deadline:
                return behind
            time.sleep(POLL / 5)

    def _acks(self) -> dict[int, int]:
        """The generation each live worker last said it serves (files of gone workers are removed)."""
        found = {}
        for path in self.folder.glob("ack-*"):
            pid = int(path.name[4:])
            if not _child_of(pid, self.supervisor):
                path.unlink(missing_ok=True)
                continue
            with contextlib.suppress(OSError, ValueError):
                found[pid] = int(path.read_text())
        return found

    def _ack(self) -> None:
        """Worker side: say which generation this worker serves."""
        path = self.folder / f"ack-{os.getpid()}"
        partial = self.folder / f".ack-{os.getpid()}"
        with contextlib.suppress(OSError):
            partial.write_text(str(self.current.number))
            partial.replace(path)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            for path in self.folder.iterdir():
                path.unlink()
            self.folder.rmdir()

    # -- worker side -------------------------------------------------------------------------------
    def in_worker(self) -> Switch:
        """Called in each web worker once forked: start its watcher thread, which
        follows the generation number and stops the worker when the supervisor is gone."""
        if self._watching != os.getpid():
            self._watching = os.getpid()
            self._ack()  # before the watcher can follow (and acknowledge) a newer generation
            threading.Thread(target=self._watch, name="tourkg-generations", daemon=True).start()
        return self

    def _watch(self) -> None:
        while True:
            time.sleep(POLL)
            if os.getppid() != self.supervisor:  # the supervisor is gone (even SIGKILL): so is this worker
                os._exit(0)
            number, _ = self._read()
            if number != self.current.number:
                try:
                    self._follow(number)
                except Exception:  # noqa: BLE001 - keep serving the current data; say why
                    log.exception("could not switch to data generation %s; still serving %s", number,
                                  self.current.number)
                    time.sleep(1.0)

    def _follow(self, number: int) -> None:
        handoff: Handoff = pickle.loads((self.folder / f"{number}.pickle").read_bytes())
        self.current = self._generation(handoff.number, publisher_of(handoff))
        self._ack()

    # -- requests ----------------------------------------------------------------------------------
    def ready(self, environ: dict[str, Any]) -> bool:
        """Whether the request is answered at once, with no waiting (``/healthz``, a prepared answer):
        the server's event loop then answers it itself. The generation that said so answers it."""
        path = environ.get("PATH_INFO")
        if path == "/healthz":
            return True
        if path == "/readyz":
            return False  # asks the engine
        generation = self.current
        if generation.handler.ready(environ):
            environ[_GENERATION] = generation
            if environ.get(REPLAYABLE):  # the same answer for as long as this generation is served
                environ[REPLAYABLE] = generation.number
            return True
        return False

    def epoch(self) -> int:
        """The number of the data generation served: an answer replayed by the server is good while it
        is the one the answer came from."""
        return self.current.number

    def asynchronous(self, environ: dict[str, Any]) -> Awaitable[Any] | None:
        """The answer of a plain query request from the server's event loop (``FastPath.asynchronous``),
        with the current generation's data; ``None``: a thread answers it, with the same generation."""
        if environ.get("PATH_INFO") != "/sparql":
            return None
        generation = self.current
        environ[ENVIRON_KEY] = generation.publisher
        environ[_GENERATION] = generation  # for the thread, if the answer falls back to Flask
        return generation.handler.asynchronous(environ)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == "/healthz" or path == "/readyz":
            return self._health(path, environ, start_response)
        # this request's data, whatever is swapped in meanwhile
        generation = environ.pop(_GENERATION, None) or self.current
        environ[ENVIRON_KEY] = generation.publisher
        return generation.handler(environ, start_response)

    def _health(self, path: str, environ: dict[str, Any],
                start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, body = "200 OK", "ok\n"
        if path == "/readyz":
            problem = "reloading: a new version of the data is being prepared\n" if self.reloading else None
            problem = problem or self.ready_check(self.current.publisher)
            if problem:
                status, body = "503 Service Unavailable", problem
            else:
                body = f"ready: data generation {self.current.number}\n"
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            status, body = "405 Method Not Allowed", "Use GET or HEAD.\n"
        data = body.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data))),
                   ("Cache-Control", "no-store"), ("Access-Control-Allow-Origin", "*"),
                   ("X-Content-Type-Options", "nosniff"), ("X-Robots-Tag", "noindex")]
        if status.startswith("405"):
            headers.append(("Allow", "GET, HEAD"))
        elif status.startswith("503"):
            headers.append(("Retry-After", "1"))
        start_response(status, headers)
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [data]


def _child_of(pid: int, parent: int) -> bool:
    """True when ``pid`` is a live process whose parent is ``parent`` (a web worker of this server, not
    a process that reuses the number of a gone one)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and int(fields[1]) == parent


def _engine_ready(pub: Publisher) -> str | None:
    """Why the engine cannot answer now (restarting, unreachable), or None when it can."""
    status = getattr(pub.store, "status", None)
    try:
        if status is not None:
            status(wait=1.0)
        else:
            pub.store.ask_exists(pub.settings.base_uri)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with the reason
        return f"not ready: the query engine does not answer ({getattr(exc, 'message', exc)})\n"
    return None
