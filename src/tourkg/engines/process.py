"""The engine process: the one place the data lives, shared by every web worker of a server.

``python -m tourkg.engines.process`` reads its plan (JSON, one line on stdin), loads or opens the
prepared dataset, says ``ready`` on stdout and answers requests on a Unix socket, one thread per
connection; user queries run on threads of their own, one per query slot, below the connection threads
in priority (:data:`QUERY_NICE`), so that a flood of queries does not slow the look-ups of pages. Oxigraph
releases the GIL while it evaluates, so concurrent queries use every core on one copy of the data.

Why a process of its own: no pyoxigraph query can be interrupted from another thread, so the time limit
needs a process that can be killed. A watchdog thread stops this process the moment a user query
overruns (exit status :data:`EXIT_TIMEOUT`); the supervisor starts a new engine at once, which opens the
prepared on-disk snapshot in milliseconds when there is one, and clients retry the look-ups and queries
that were cut short by someone else's overrun.

What "prepared" means: loading the input files happens once per content hash (``tourkg.prepare``). The
statistics, the dumps and, for the in-memory engine, an on-disk snapshot are kept in the prepared folder,
so a restart on unchanged data parses, validates and renders nothing: it opens the snapshot and serves
while a background thread loads the in-memory copy and swaps it in.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from tourkg.engines import allocator, dumps, lookups, results, stats
from tourkg.engines.admission import Admission
from tourkg.engines.runner import Peer, QueryRunner
from tourkg.engines.searching import SearchHolder, start_side_build
from tourkg.files import file_lock, read_json, write_json

#: Exit status when a query overran its time limit and the engine stopped itself.
EXIT_TIMEOUT = 75
#: Exit status when the input files cannot be loaded (the supervisor reports the message and exits 2).
EXIT_DATA = 2
#: Marker file of a finished on-disk store (the prepared snapshot, or ``--store oxigraph:DIR``).
MARKER = "tourkg-dataset.json"
_WATCHDOG_TICK = 0.02
#: Paginated lists whose sorted values the engine keeps (see ``lookups.neighbours``).
LISTS_KEPT = 8
#: How much higher the nice value of the threads that run user queries is than the process's. The
#: connection threads, which answer the look-ups of pages and data, keep the process's, and the
#: background preparation runs 10 higher. Why: a query is CPU-bound and a look-up takes milliseconds;
#: at equal priority a flood of queries slowed every page that needs the engine. Measured on 100k
#: triples, 2 cores, 8 connections of ``COUNT(*)``, 60 never-rendered pages one after the other:
#: p50/p90 6.5-9.1/11-15 ms at +0, 3.7-4.2/5.7-8.8 ms at +10 and 3.8/6.5 ms at +5; the queries'
#: throughput the same within the noise (0.85-1.03x Oxigraph server either way).
QUERY_NICE = 5
#: How much higher the nice value of the background preparation is (the other dumps, the snapshot,
#: the in-memory copy).
BACKGROUND_NICE = 10
#: Longest wait for the statistics computed after start-up (a second or two on a million triples).
STATS_WAIT = 300.0
#: Longest wait for the supervisor's word that it serves (plan ``defer_rest``) before the rest of the
#: preparation starts anyway.
SERVING_WAIT = 30.0


def log(message: str) -> None:
    """One line on stderr, which the supervisor shares: the server's log."""
    print(f"tourkg engine: {message}", file=sys.stderr, flush=True)


class LoadError(Exception):
    """An input file does not parse; ``str()`` names the file, line and column."""


class Engine:
    """The store, what is known about it, and the requests it answers."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.folder = Path(plan["prepared"])
        self.store: ox.Store = ox.Store()
        self.meta: dict[str, Any] = {}
        self.merged = False
        self.details_ready = threading.Event()
        #: Set once the web workers answer (op ``serving``): the rest of the preparation waits for it.
        self.serving = threading.Event()
        if not plan.get("defer_rest"):
            self.serving.set()
        self._lock = threading.Lock()
        self.dumps: dumps.DumpWriter | None = None
        self.search = SearchHolder(lambda: self.store, self.folder, log)
        self.lists: dict[Any, list[Any]] = {}  # the sorted values of the last few paginated lists
        limits = plan.get("admission") or {}
        self.admission = Admission(limits.get("slots") or os.cpu_count() or 2, limits.get("queue", 16),
                                   limits.get("max_wait", 3.0), limits.get("per_client", 0))
        #: The threads user queries run on (one per slot), below the look-ups in priority: see QUERY_NICE.
        self.queries = QueryRunner(self.admission,
                                   lambda request: results.execute(self.store, request, not self.merged),
                                   lambda: _lower_priority(QUERY_NICE))

    # -- start ----------------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the prepared dataset, or load the input files into it (first start)."""
        started = time.monotonic()
        self.meta = read_json(self.folder / "meta.json")
        mode, disk = self.plan["mode"], self.plan.get("disk_dir")
        copy = False  # the in-memory copy to load beside the snapshot, once everything else is set
        if mode == "disk":
            self.store = self._open_disk(Path(disk))
        elif self.meta.get("quads") is not None and _finished(self.folder / "store", self.plan["key"]):
            self.store = ox.Store.read_only(str(self.folder / "store"))
            self.meta["engine"] = "disk snapshot"
            copy = True
        else:
            self.store = ox.Store()
            self._load_inputs(self.store)
        self.merged = bool(self.meta["merged"])
        if "classes" not in self.meta:
            self.meta.update(stats.essentials(self.store, self.meta["quads"], self.merged))
        if all(key in self.meta for key in stats.DETAILS):
            self.details_ready.set()
        self.dumps = dumps.DumpWriter(self.store, self.folder / "dumps", self.plan["prefixes"], self.merged,
                                      self.meta["graphs"])
        self._save_meta()
        log(f"ready in {time.monotonic() - started:.2f} s: {self.meta['triples']:,} triples in "
            f"{len(self.meta['graphs'])} graphs ({self.meta.get('engine', 'in memory')}; memory allocator: "
            f"{allocator.in_use()})")
        if copy:  # last: on small data the copy is loaded and swapped in before this thread goes on, and
            # it reads what open() set (a copy started first was built without the merged default
            # graph, and a restarted engine of the tour answered ASK { ?s ?p ?o } with false)
            threading.Thread(target=self._load_memory_copy, name="memory-copy", daemon=True).start()

    def _open_disk(self, folder: Path) -> ox.Store:
        if _finished(folder, self.plan["key"]) and self.meta.get("quads") is not None:
            self.meta["engine"] = f"on disk, {folder}"
            return ox.Store.read_only(str(folder))
        if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
            raise LoadError(f"{folder} is not empty and holds no tourkg dataset: give an empty or new "
                            "directory to --store oxigraph:DIR (tourkg replaces what it finds there)")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / MARKER).write_text(json.dumps({"building": self.plan["key"]}))  # ours, even if cut short
        store = ox.Store(str(folder))
        self._load_inputs(store)
        store.optimize()
        (folder / MARKER).write_text(json.dumps({"key": self.plan["key"]}))
        self.meta["engine"] = f"on disk, {folder}"
        return store

    def _load_inputs(self, store: ox.Store) -> None:
        """Load every input file into its graph, then decide how the union default graph stays exact."""
        started = time.monotonic()
        self.search.side = start_side_build(self.plan, self.folder)  # on the other core, meanwhile
        sizes: dict[str, int] = {}
        quad_files = False
        for item in self.plan["inputs"]:
            before = len(store)
            _load_file(store, item, self.plan.get("rewrite"), self.plan.get("progress", False))
            if item.get("graph"):
                sizes[item["graph"]] = sizes.get(item["graph"], 0) + len(store) - before
            else:
                quad_files = True
        if quad_files:
            sizes = stats.graph_sizes(store)
        quads = len(store)
        merged = stats.has_shared_triples(store, sizes)
        if merged:  # Oxigraph 0.5's union repeats shared triples: store the merge as the default graph
            store.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
        elapsed = time.monotonic() - started
        self.meta = {"quads": quads, "merged": merged, "load_seconds": round(elapsed, 3)}
        if not quad_files:  # known from loading: no query needed
            self.meta["graph_sizes"] = sizes
        note = "; triples stated in several graphs: the union default graph is stored as their merge"
        log(f"loaded {quads:,} quads from {len(self.plan['inputs'])} files in {elapsed:.2f} s "
            f"({quads / max(elapsed, 1e-9):,.0f}/s)" + (note if merged else ""))

    def _load_memory_copy(self) -> None:
        """After opening the disk snapshot: load the in-memory copy (faster queries) and swap it in, below
        the requests in priority (the loader's threads inherit this thread's nice value), so the first
        requests after a restart are not slowed down by it."""
        _lower_priority(BACKGROUND_NICE)
        started = time.monotonic()
        try:
            memory = ox.Store()
            memory.bulk_load(path=str(self.folder / "dumps" / "dump.nq"), format=ox.RdfFormat.N_QUADS)
            if self.merged:
                memory.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
        except (OSError, SyntaxError, ValueError) as exc:
            log(f"keeping the disk snapshot: the in-memory copy failed to load ({exc})")
            return
        self.store = memory
        if self.dumps is not None:
            self.dumps.store = memory
        self.meta["engine"] = "in memory"
        gc.collect()
        _give_back_memory()
        log(f"in-memory copy swapped in after {time.monotonic() - started:.2f} s")

    # -- background preparation ----------------------------------------------------------------------
    def prepare_first(self) -> None:
        """What the first requests need, at full priority and in parallel (a query releases the GIL):
        the statistics (landing page, VoID), the N-Triples dump, the one most asked for, and the label
        search index (read back from the build beside the load on large data).

        The statistics' queries run one after the other, beside the dump: the dump is the longest job
        (1.4 s at 1M triples), and with the statistics on two threads of their own, three busy threads
        on two cores made it finish last."""
        assert self.dumps is not None
        with ThreadPoolExecutor(3) as pool:
            waits = [pool.submit(self._details), pool.submit(self.dumps.ensure, "nt"),
                     pool.submit(self.search.index)]
        for wait in waits:
            wait.result()

    def _details(self) -> None:
        if self.details_ready.is_set():
            return
        try:
            self.meta.update(stats.details(self.store, self.merged, self.meta, threads=1))
            self._save_meta()
        finally:  # whatever happened, nobody waits for ever (the counts then read as missing)
            self.details_ready.set()

    def prepare_rest(self) -> None:
        """The other dumps and the on-disk snapshot, below the requests in priority (each at most once)."""
        started = time.monotonic()
        assert self.dumps is not None
        self.dumps.render_all()
        if self.plan["mode"] == "memory" and not _finished(self.folder / "store", self.plan["key"]):
            self._build_snapshot()
        self.meta["prepared"] = True
        self._save_meta()
        log(f"prepared in {time.monotonic() - started:.2f} s more: every dump"
            + (" and the on-disk snapshot for fast restarts" if self.plan["mode"] == "memory" else ""))

    def _build_snapshot(self) -> None:
        with file_lock(self.folder / ".lock-store"):
            final = self.folder / "store"
            if _finished(final, self.plan["key"]):
                return
            partial = self.folder / "store.part"
            shutil.rmtree(partial, ignore_errors=True)
            snapshot = ox.Store(str(partial))
            snapshot.bulk_load(path=str(self.folder / "dumps" / "dump.nq"), format=ox.RdfFormat.N_QUADS)
            if self.merged:
                snapshot.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
            snapshot.optimize()
            snapshot.flush()
            del snapshot
            gc.collect()
            (partial / MARKER).write_text(json.dumps({"key": self.plan["key"]}))
            shutil.rmtree(final, ignore_errors=True)
            partial.replace(final)

    def _save_meta(self) -> None:
        keep = {k: v for k, v in self.meta.items() if k != "engine"}
        write_json(self.folder / "meta.json", keep)

    # -- requests ------------------------------------------------------------------------------------
    def handle(self, op: str, args: tuple) -> Any:
        """Answer one request (see ``client.EngineStore`` for the other side)."""
        store = self.store
        if op == "describe":
            return lookups.describe(store, *args)
        if op == "labels":
            return lookups.labels(store, *args)
        if op == "neighbours":
            with self._lock:
                lists = self.lists
            found = lookups.neighbours(store, *args, lists=lists)
            with self._lock:
                while len(self.lists) > LISTS_KEPT:
                    self.lists.pop(next(iter(self.lists)))
            return found
        if op == "select":
            return lookups.select(store, args[0], not self.merged)
        if op == "subjects_under":
            return lookups.subjects_under(store, args[0])
        if op == "search":
            return self.search.search(*args)
        if op == "search_entries":
            return self.search.index().to_json()
        if op == "ask_exists":
            return lookups.ask_exists(store, args[0], frozenset(self.meta["graphs"]))
        if op == "stats":
            if not self.details_ready.wait(STATS_WAIT):
                raise ValueError(f"the statistics are not computed yet after {STATS_WAIT:g} s")
            return {k: self.meta.get(k) for k in ("triples", "quads", "graphs", "classes", "properties",
                                                  "subjects", "objects", "graph_sizes")}
        if op == "dump":
            assert self.dumps is not None
            path, etag, size = self.dumps.ensure(*args)
            return str(path), etag, size
        if op == "serving":
            self.serving.set()
            return None
        if op == "status":
            return {"engine": self.meta.get("engine", "in memory"), "pid": os.getpid(),
                    "allocator": allocator.in_use(),
                    "prepared": bool(self.meta.get("prepared")), "queries": self.admission.state()}
        raise ValueError(f"unknown operation {op!r}")

    def watchdog(self) -> None:
        """Stop the process when a query overruns its time limit: nothing else can stop the work. Also
        refuses the queries that waited too long for a query thread."""
        while True:
            time.sleep(_WATCHDOG_TICK)
            now = time.monotonic()
            self.queries.expire(now)
            if self.queries.overdue(now):
                log("a query overran its time limit (query_timeout); stopping this engine process so the "
                    "work really stops (a new one starts at once)")
                os._exit(EXIT_TIMEOUT)


def _lower_priority(by: int) -> None:
    """Raise the calling thread's nice value by ``by`` from the process's (a server started with
    ``nice`` keeps its order: queries, then preparation, below its requests). Only on Linux, where each
    thread has its own (anyone may raise theirs); elsewhere the call would name a whole process."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            base = os.getpriority(os.PRIO_PROCESS, os.getpid())
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, base + by))


def _give_back_memory() -> None:
    """Return freed heap pages to the system (glibc keeps them otherwise): after the snapshot is closed,
    its caches would go on counting against the process for good."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _load_file(store: ox.Store, item: dict[str, Any], rewrite: list[str] | None, progress: bool) -> None:
    """Load one file (``item``: path, engine format, target graph for triple formats, base IRI)."""
    path, fmt = Path(item["path"]), getattr(ox.RdfFormat, item["format"])
    graph = ox.NamedNode(item["graph"]) if item.get("graph") else None
    default = graph or ox.NamedNode(item["file_graph"])
    watcher = _Progress(path, item["format"]) if progress else None
    try:
        if rewrite and rewrite[0] != rewrite[1]:
            store.extend(_rewritten(ox.parse(path=str(path), format=fmt, base_iri=item["base_iri"]), default,
                                    *rewrite))
        else:
            store.bulk_load(path=str(path), format=fmt, base_iri=item["base_iri"], to_graph=graph)
            if graph is None:
                _move_default_graph(store, default)
    except SyntaxError as exc:
        place = (path, getattr(exc, "lineno", None), getattr(exc, "offset", None))
        where = ":".join(str(x) for x in place if x)
        raise LoadError(f"{where}: syntax error: {getattr(exc, 'msg', exc)}") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise LoadError(f"{path}: cannot load: {exc}") from None
    finally:
        if watcher is not None:
            watcher.stop()


def _move_default_graph(store: ox.Store, graph: ox.NamedNode) -> None:
    """A TriG or N-Quads file's default-graph triples belong to the file's own graph."""
    if next(iter(store.quads_for_pattern(None, None, None, ox.DefaultGraph())), None) is not None:
        store.update(f"ADD DEFAULT TO {graph} ; CLEAR DEFAULT")


def _rewritten(items: Any, graph: Any, old: str, new: str) -> Any:
    """Quads with every IRI under ``old`` moved under ``new`` (``--base-uri``); slower than a bulk load,
    so only used when the served namespace differs from the data's."""
    def move(term: Any) -> Any:
        if isinstance(term, ox.NamedNode) and term.value.startswith(old):
            return ox.NamedNode(new + term.value[len(old):])
        return term

    for item in items:
        target = graph if isinstance(item, ox.Triple) or isinstance(item.graph_name, ox.DefaultGraph) else \
            item.graph_name
        yield ox.Quad(move(item.subject), move(item.predicate), move(item.object), move(target))


class _Progress:
    """Progress of a bulk load on a terminal: how far Oxigraph has read the file (its descriptor's
    position, from /proc), the rate, the ETA and an estimate of the triples, then an indexing note."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.total = path.resolve(), path.stat().st_size
        self.per_byte = _triples_per_byte(path, fmt)
        self.started = time.monotonic()
        self._reported_all = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if self.total > 4 << 20 and Path("/proc/self/fd").is_dir():
            self._thread.start()

    def _position(self) -> int | None:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == str(self.path):
                    with open(f"/proc/self/fdinfo/{fd}") as info:
                        return int(info.readline().split()[1])
            except (OSError, ValueError, IndexError):
                continue
        return None

    def _run(self) -> None:
        interval = 0.1  # the first tick comes early: a file of a few MB is read within a second
        while not self._stop.wait(interval):
            interval = 0.25
            done = self._position()
            elapsed = time.monotonic() - self.started
            if done is None:
                continue
            done = min(done, self.total)
            if done >= self.total and self._reported_all:
                read = self.total * self.per_byte
                text = f"indexing {self.path.name}: ≈{read:,.0f} triples read ({elapsed:.0f} s)"
            else:
                self._reported_all = done >= self.total
                rate = done / max(elapsed, 1e-9)
                eta = (self.total - done) / max(rate, 1)
                text = (f"loading {self.path.name}: {done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB "
                        f"({100 * done / self.total:.0f}%), ≈{done * self.per_byte:,.0f} triples, "
                        f"{rate * self.per_byte:,.0f} triples/s, ETA {eta:.0f} s (then indexing)")
            print(f"\r\x1b[2K{text}", end="", file=sys.stderr, flush=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            print("\r\x1b[2K", end="", file=sys.stderr, flush=True)


def _triples_per_byte(path: Path, fmt: str) -> float:
    """Statements per byte in the file's first 256 KB: the progress display's estimate of triples."""
    with path.open("rb") as handle:
        head = handle.read(256 << 10)
    cut = head.rfind(b"\n.") if fmt in ("TURTLE", "TRIG") else head.rfind(b"\n")
    count = 0
    try:
        part = head[: cut + 1] if cut > 0 else head
        for _ in ox.parse(part, format=getattr(ox.RdfFormat, fmt), lenient=True):
            count += 1
    except (SyntaxError, ValueError):
        pass
    return count / max(len(head), 1)


def _finished(folder: Path, key: str) -> bool:
    return read_json(folder / MARKER).get("key") == key


def _serve_connection(engine: Engine, conn: Connection) -> None:
    """Answer one client's requests in turn; a user query is handed to the query threads, which answer
    it (the client sends nothing more before its answer)."""
    peer = Peer(conn)
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):
            peer.hang_up()
            return
        try:
            if op == "query":
                engine.queries.submit(peer, *args)
                continue
            answer: tuple = ("ok", engine.handle(op, args))
        except LoadError as exc:
            answer = ("error", "data", str(exc))
        except (ValueError, SyntaxError) as exc:
            answer = ("error", "value", str(exc))
        except Exception as exc:  # reported to the caller, who logs it; the engine keeps serving
            answer = ("error", "internal", f"{type(exc).__name__}: {exc}")
        peer.reply(answer)


def _die_with_parent(interval: float = 0.5) -> None:
    """Exit when the supervisor is gone: an engine must never outlive its server."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _say(event: dict[str, Any]) -> None:
    sys.__stdout__.write(json.dumps(event) + "\n")
    sys.__stdout__.flush()


def main() -> None:
    """Entry point: plan on stdin, events on stdout, requests on the socket."""
    _die_with_parent()
    line = sys.stdin.readline()
    if not line.strip():  # a spare engine the supervisor did not need (see engines.spawn)
        return
    plan = json.loads(line)
    sys.stdout = sys.stderr  # a stray print must never corrupt the event stream
    engine = Engine(plan)
    try:
        engine.open()
    except LoadError as exc:
        engine.search.stop_side()
        _say({"event": "error", "message": str(exc)})
        sys.exit(EXIT_DATA)
    address = plan["socket"]
    with file_lock(Path(address + ".lock")):
        if os.path.exists(address):
            os.unlink(address)
        listener = Listener(address, "AF_UNIX", authkey=bytes.fromhex(plan["authkey"]))
    threading.Thread(target=engine.watchdog, name="watchdog", daemon=True).start()
    _say({"event": "ready", "meta": {k: v for k, v in engine.meta.items() if k in (
        "triples", "quads", "graphs", "merged", "engine")}, "pid": os.getpid()})
    threading.Thread(target=_prepare_in_background, args=(engine,), name="prepare", daemon=True).start()
    while True:
        try:
            conn = listener.accept()
        except (OSError, EOFError):  # a client that failed the handshake
            continue
        threading.Thread(target=_serve_connection, args=(engine, conn), daemon=True).start()


def _prepare_in_background(engine: Engine) -> None:
    try:
        engine.prepare_first()
    except Exception as exc:  # a request that needs them computes or waits for them again
        log(f"preparing the statistics or the N-Triples dump failed: {type(exc).__name__}: {exc}")
    # Below the requests in priority: on Linux a thread has its own nice value, and the threads Oxigraph
    # starts from it (RocksDB's) inherit it, so preparing never slows down serving.
    _lower_priority(BACKGROUND_NICE)
    # On a first start, not before the server answers: the other dumps and the snapshot are no route's
    # first need, and their CPU would go to the start (0.1 s of it on the tour, whose start is bound by
    # CPU); a request for one of these dumps meanwhile renders it at once.
    engine.serving.wait(SERVING_WAIT)
    try:
        engine.prepare_rest()
        _say({"event": "prepared"})
    except Exception as exc:  # the server keeps serving; a request that needs the artifact retries it
        log(f"background preparation failed: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
