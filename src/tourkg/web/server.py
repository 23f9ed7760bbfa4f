"""Run the app under tourkg's HTTP server (``web/httpd.py``), never Flask's development server.

The supervisor (this process) prepares the dataset and starts the engine process before any port is
bound, so bad data stops the start with a message; then it forks the web workers, which hold no data:
they inherit the app and talk to the engine over a Unix socket. In each worker the event loop answers
prepared requests itself (the fast path, ``web/fastpath.py``) and hands the others to threads, where
Flask routes them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from typing import Any

from tourkg.config import Settings
from tourkg.dataset import OpenDataset, PendingDataset
from tourkg.ports import check_port, url_host
from tourkg.web import ENVIRON_KEY, Publisher, build_app
from tourkg.web.accesslog import AccessLog
from tourkg.web.generations import Switch
from tourkg.web.httpd import serve_forever
from tourkg.web.reload import Reloader


def wsgi_app(settings: Settings, pending: PendingDataset) -> tuple[Switch, Publisher]:
    """The WSGI callable served: health checks, then the current data generation's fast path in front
    of the Flask app. The app is built and its templates compiled while the engine loads and the SHACL
    gate runs; once the engine is ready, and while the gate may still run, the first documents are
    rendered, before the web workers fork, so that they inherit both."""
    app = build_app(settings)
    if pending.gate is not None:  # the SHACL gate takes a while: time enough to compile every template
        for name in app.jinja_env.list_templates(extensions=("html", "xml")):
            app.jinja_env.get_template(name)

    def warm(pub: Publisher) -> None:  # while the SHACL gate may still run: off the critical path
        app.extensions["tourkg"] = pub
        warm_up(app, pub)

    pub = Publisher.opened(pending, warm)
    return Switch(app, pub, forwarded=pub.settings.proxy_hops > 0), pub


#: Documents every visitor or crawler asks for first: prepared before the web workers fork, so they
#: inherit them (and the prepared folder keeps them for the next start).
WARM_UP = (("/", "text/html"), ("/.well-known/void", "text/turtle"))


def warm_up(app: Any, pub: Publisher) -> None:
    """Render the landing page and VoID once in the supervisor (their expensive part, the entry points
    and statistics, does not depend on the host asked)."""
    if pub.ttl is not None:  # a remote engine: its data may change, nothing is kept for long
        return
    client = app.test_client()
    for path, accept in WARM_UP:
        with contextlib.suppress(Exception):  # a failure here is met again, and reported, on request
            client.get(path, headers={"Accept": accept}, environ_base={ENVIRON_KEY: pub})


def run(settings: Settings, pending: PendingDataset, *, watch: bool = False, access_log: bool = True) -> None:
    """Finish opening the dataset (the engine has been loading meanwhile) and serve until interrupted;
    SIGHUP (or a changed file with ``watch``) reloads without downtime.

    :raises StartupError: when the data cannot be loaded or does not conform, the port is taken or the
        dumps link cannot be made (the engine is stopped then).
    """
    switch, pub = wsgi_app(settings, pending)
    assert pub.dataset is not None
    reloader = Reloader(settings, switch, pub.dataset, lambda new: warm_up(switch.app, new))
    try:
        _serve(settings, switch, reloader, pub, watch=watch, access_log=access_log)
    finally:
        reloader.close()
        switch.close()


def _serve(settings: Settings, switch: Switch, reloader: Reloader, pub: Publisher, *, watch: bool,
           access_log: bool) -> None:
    """Check the port, point the dumps link, then serve until SIGINT or SIGTERM."""
    served: Any = AccessLog(switch) if access_log else switch
    check_port(settings.host, settings.port)  # preparing may take a while: still free?
    assert pub.dataset is not None
    if settings.dumps_link and pub.dataset.dumps_folder is not None:  # once the port is known to be ours
        from tourkg.dumps_link import point

        point(settings.dumps_link, pub.dataset.dumps_folder)

    def started() -> None:
        reloader.install_signal()  # SIGHUP reloads (see web.generations)
        if watch:
            reloader.watch()
        threading.Thread(target=_announce, args=(settings, pub.dataset), daemon=True).start()

    def finished() -> None:
        flush = getattr(served, "flush", None)
        if flush is not None:
            flush()  # the access log's last lines

    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger("tourkg").setLevel(logging.INFO)
    try:
        serve_forever(served, host=settings.host, port=settings.port, workers=settings.web_workers,
                      threads=settings.web_threads, ready=switch.ready, epoch=switch.epoch,
                      replay_log=served if isinstance(served, AccessLog) else None,
                      in_worker=switch.in_worker, finished=finished, started=started,
                      max_body=2 * switch.app.config["MAX_CONTENT_LENGTH"])  # past the app's own 413
    finally:
        reloader.close()


def _announce(settings: Settings, dataset: OpenDataset, wait: float = 60.0) -> None:
    """Say "serving on" once a connection really succeeds (the workers open their listening sockets
    once forked), and tell the engine, which then renders what it had
    deferred so as to leave the CPU to the start."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((settings.host, settings.port), timeout=1):
                print(f"tourkg: serving on http://{url_host(settings.host)}:{settings.port}/", flush=True)
                break
        except OSError:
            time.sleep(0.02)
    dataset.serving()


if __name__ == "__main__":  # pragma: no cover - python -m tourkg.web.server is not an entry point
    sys.exit("use: tourkg serve")
