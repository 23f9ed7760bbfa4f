"""Run the app under gunicorn (threaded workers, one process per core), never Flask's dev server.

The app is built once in the master, so bad data stops the start before any port is bound; each forked
worker then starts its own query worker processes. The listening socket is bound here, not by gunicorn,
which would retry a busy port five times, a second apart, before giving up; "serving on" is printed by
gunicorn's ``when_ready`` hook, once the server really listens.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from gunicorn.app.base import BaseApplication

from tourkg.config import Settings
from tourkg.errors import StartupError
from tourkg.web import create_app, publisher


class _Gunicorn(BaseApplication):
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


#: Longest request line (method, URL, version) gunicorn reads: its maximum short of unlimited. A GET URL
#: is thus limited to about 8 KB; longer queries must be POSTed, which SPARQL 1.1 Protocol §2.1 lets the
#: client choose. Unlimited (0) let a 20 MB GET keep a worker busy for 50 s before our own length check.
MAX_REQUEST_LINE = 8190


def options_for(settings: Settings, on_fork: Any, bind: str | None = None,
                on_exit: Any = lambda: None) -> dict[str, Any]:
    """gunicorn settings for ``settings``; ``bind`` overrides the address (``fd://N``, an already bound
    socket)."""
    return {
        "bind": bind or f"{settings.host}:{settings.port}",
        "workers": settings.web_workers,
        "threads": settings.web_threads,
        "worker_class": "gthread",
        "timeout": int(max(30, settings.query_timeout * 3)),
        "graceful_timeout": 5,
        "keepalive": 5,
        # Past this, gunicorn answers 400 itself; max_query_length (413) applies to POST bodies and to
        # shorter GETs. Mentioned in the service description's rdfs:comment.
        "limit_request_line": MAX_REQUEST_LINE,
        "limit_request_field_size": 8190,
        "post_fork": lambda _server, _worker: on_fork(),
        "worker_exit": lambda _server, _worker: on_exit(),  # a restarted web worker stops its queries
        "when_ready": lambda _server: print(f"tourkg: serving on http://{_url_host(settings.host)}:"
                                            f"{settings.port}/", flush=True),
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "warning",
    }


def run(settings: Settings) -> None:
    """Build the app (load, validate) and serve it until interrupted.

    :raises StartupError: when the data cannot be loaded or does not conform, or the port is taken.
    """
    app = create_app(settings)
    with app.app_context():
        store = publisher().store
    listener = bind_listener(settings.host, settings.port)
    # gunicorn takes the socket over by its descriptor and closes it when it stops: ours only lets go.
    descriptor = listener.detach()
    options = options_for(settings, getattr(store, "start_workers", lambda: None),
                          bind=f"fd://{descriptor}", on_exit=getattr(store, "close", lambda: None))
    _Gunicorn(app, options).run()


def _url_host(host: str) -> str:
    """``host`` as it goes in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def bind_listener(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` once, failing at once with a clear message when it is taken.

    :raises StartupError: the port is in use or the address is not available here (exit code 2).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.", 2) from None
    try:
        # As gunicorn does: a restart may bind while old connections linger in TIME_WAIT. A port with
        # a live listener is still refused (EADDRINUSE).
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        reason = "it is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise StartupError(f"Cannot listen on {host}:{port}: {reason}. Stop the other server or choose "
                           "another port with --port.", 2) from None
    return listener
