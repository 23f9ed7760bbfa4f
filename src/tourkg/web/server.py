"""Run the app under granian (a Rust HTTP server for Python), never Flask's development server.

The supervisor (this process) prepares the dataset and starts the engine process before any port is
bound, so bad data stops the start with a message; then granian forks the web workers, which hold no
data: they inherit the app and talk to the engine over a Unix socket. In each worker the fast path
(``web/fastpath.py``) answers repeated requests from prepared bytes before Flask routes.

Why granian: measured on this machine (docs/benchmarks.md), a WSGI callable returning prepared bytes
answers about 50,000 requests/s under granian and 6,800 under gunicorn's workers.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from typing import Any

from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server

from tourkg.config import Settings
from tourkg.dataset import OpenDataset, PendingDataset
from tourkg.ports import check_port, url_host
from tourkg.web import ENVIRON_KEY, Publisher, build_app
from tourkg.web.accesslog import AccessLog
from tourkg.web.generations import Switch
from tourkg.web.reload import Reloader

#: Most bytes granian buffers while reading a request head (HTTP/1 ``max_buffer_size``): URLs past 8 KB
#: are refused with 414 by the fast path, and headers beyond this are no request anyone needs.
MAX_REQUEST_HEAD = 65536


#: Connections a web worker holds at once. granian counts an idle keep-alive connection against it, so
#: it must be well above the clients' connection pools (found when a test session's idle connections
#: blocked new ones at 128).
CONNECTIONS = 1024
#: How long an idle keep-alive connection (or a slow client's request head) may take: as gunicorn's
#: keep-alive of 5 s, so idle connections do not pile up.
KEEP_ALIVE_MS = 5000


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
    """Check the port, point the dumps link, then run granian until it stops."""
    served: Any = AccessLog(switch) if access_log else switch
    check_port(settings.host, settings.port)  # preparing may take a while: still free?
    assert pub.dataset is not None
    if settings.dumps_link and pub.dataset.dumps_folder is not None:  # once the port is known to be ours
        from tourkg.dumps_link import point

        point(settings.dumps_link, pub.dataset.dumps_folder)
    server = Server(
        "tourkg", address=settings.host, port=settings.port, interface=Interfaces.WSGI,
        workers=settings.web_workers, blocking_threads=settings.web_threads, backlog=2048,
        backpressure=CONNECTIONS, http1_settings=HTTP1Settings(max_buffer_size=MAX_REQUEST_HEAD,
                                                               header_read_timeout=KEEP_ALIVE_MS),
        log_level=LogLevels.error, websockets=False, respawn_failed_workers=True, workers_kill_timeout=10,
    )

    def started() -> None:
        reloader.install_signal()  # after granian's own handlers: SIGHUP is ours (see web.generations)
        if watch:
            reloader.watch()
        threading.Thread(target=_announce, args=(settings, pub.dataset), daemon=True).start()

    def in_worker(*_: Any) -> Any:
        switch.in_worker()  # forked: follow reloads, and exit with the supervisor
        return served

    server.on_startup(started)
    server.on_shutdown(reloader.close)
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger("tourkg").setLevel(logging.INFO)
    server.serve(target_loader=in_worker, wrap_loader=False)


def _announce(settings: Settings, dataset: OpenDataset, wait: float = 60.0) -> None:
    """Say "serving on" once a connection really succeeds (granian's workers open their listening
    sockets after its start-up hooks have run), and tell the engine, which then renders what it had
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
