"""Reload in the supervisor: SIGHUP or a changed file (``--watch``) prepares the files aside and, when
they load and conform, publishes them to every web worker at once (``web.generations``).

The same rules as at start-up decide (``dataset.PendingDataset``): files that do not parse or do not
conform are refused, the reason (file, line, shape) is logged, and the data already served stays. Files
whose content has not changed (same content hash) are not prepared again. The old engine process is
stopped once no request can still use it: after the longest a query may wait and run.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from tourkg.config import Settings
from tourkg.dataset import OpenDataset, PendingDataset, Unchanged
from tourkg.dumps_link import point
from tourkg.errors import StartupError
from tourkg.web import Publisher
from tourkg.web.generations import RELOADING, SERVING, Switch

log = logging.getLogger("tourkg")

#: How often ``--watch`` looks at the files, and how long they must stay unchanged before a reload
#: (an editor or a copy writes in several steps).
WATCH_POLL = 0.5
SETTLE = 0.5


class Reloader:
    """Runs reloads one at a time in a thread of the supervisor; :meth:`request` asks for one."""

    def __init__(self, settings: Settings, switch: Switch, dataset: OpenDataset, warm_up: Any) -> None:
        self.settings, self.switch, self.dataset, self.warm_up = settings, switch, dataset, warm_up
        self._wanted = threading.Event()
        self._stopped = False
        self._retired: list[OpenDataset] = []
        self._lock = threading.Lock()
        self.done = 0  # reloads finished (swapped, unchanged or refused): for tests and logs
        threading.Thread(target=self._run, name="tourkg-reload", daemon=True).start()

    def request(self) -> None:
        """Ask for a reload (signal-safe: only sets an event)."""
        self._wanted.set()

    def install_signal(self) -> None:
        """SIGHUP reloads (called in the supervisor's main thread once the workers are forked)."""
        signal.signal(signal.SIGHUP, lambda *_: self.request())

    def watch(self) -> None:
        """Reload when a data, shapes or ontology file changes (``--watch``)."""
        threading.Thread(target=self._watch, name="tourkg-watch", daemon=True).start()

    def _files(self) -> list[Path]:
        s = self.settings
        return [Path(p) for p in (*s.data, *s.shapes, *s.ontology)]

    def _stamps(self) -> tuple:
        stamps = []
        for path in self._files():
            try:
                stat = path.stat()
                stamps.append((str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino))
            except OSError:
                stamps.append((str(path), None))
        return tuple(stamps)

    def _watch(self) -> None:
        seen = self._stamps()
        while not self._stopped:
            time.sleep(WATCH_POLL)
            now = self._stamps()
            if now == seen:
                continue
            time.sleep(SETTLE)
            while (latest := self._stamps()) != now:  # still being written
                now = latest
                time.sleep(SETTLE)
            seen = now
            log.info("tourkg: a data file changed; reloading")
            self.request()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopped:
                return
            try:
                self.reload()
            except Exception:  # noqa: BLE001 - a reload never brings the server down
                log.exception("tourkg: reload failed; still serving the data loaded before")
            finally:
                self.done += 1

    def reload(self) -> None:
        """Prepare the files aside, then swap them in at once (or refuse them, keeping the old data)."""
        started = time.monotonic()
        self.switch.set_state(RELOADING)
        try:
            current = self.dataset.prepared.key if self.dataset.prepared is not None else None
            try:
                pub = Publisher.opened(PendingDataset(self.settings, unless_key=current), self.warm_up)
            except Unchanged:
                log.warning("tourkg: reload: the files are unchanged; nothing to do")
                return
            except StartupError as exc:
                log.error("tourkg: reload refused, still serving the data loaded before: %s", exc.message)
                return
            dataset = pub.dataset
            assert dataset is not None
            if self.settings.dumps_link and dataset.dumps_folder is not None:
                try:  # first: a link that cannot be moved refuses the reload, and nginx goes on sending
                    # the dumps of the data served (the new ones go out as the workers switch, in a poll)
                    point(self.settings.dumps_link, dataset.dumps_folder)
                except StartupError as exc:
                    dataset.close()
                    log.error("tourkg: reload refused, still serving the data loaded before: %s", exc.message)
                    return
            number = self.switch.publish(dataset, pub)
            old, self.dataset = self.dataset, dataset
            behind = self.switch.wait_workers(number)
            if behind:
                log.warning("tourkg: web workers %s have not switched to data generation %s yet",
                            ", ".join(map(str, behind)), number)
            log.warning("tourkg: reloaded in %.2f s: now serving data generation %s",
                        time.monotonic() - started, number)
            self._retire(old)
        finally:
            self.switch.set_state(SERVING)

    def _retire(self, old: OpenDataset) -> None:
        """Stop the old engine once no request can still use it: the workers switch within a poll, and
        a request that started on the old data ends within the longest query wait and time limit."""
        s = self.settings
        grace = s.query_timeout + s.query_queue_wait + 5.0
        with self._lock:
            self._retired.append(old)
        timer = threading.Timer(grace, self._close, args=(old,))
        timer.daemon = True
        timer.start()

    def _close(self, old: OpenDataset) -> None:
        with self._lock:
            if old not in self._retired:
                return
            self._retired.remove(old)
        with contextlib.suppress(Exception):
            old.close()

    def close(self) -> None:
        """The server stops: stop the current engine and any old one not stopped yet."""
        self._stopped = True
        self._wanted.set()
        with self._lock:
            retired, self._retired = self._retired, []
        for old in (*retired, self.dataset):
            with contextlib.suppress(Exception):
                old.close()
