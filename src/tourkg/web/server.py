"""Run the app under gunicorn (threaded workers, one process per core), never Flask's dev server.

The app is built once in the master, so bad data stops the start before any port is bound; each forked
worker then starts its own query worker processes.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from tourkg.config import Settings
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


def options_for(settings: Settings, on_fork: Any) -> dict[str, Any]:
    """gunicorn settings for ``settings``."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.web_workers,
        "threads": settings.web_threads,
        "worker_class": "gthread",
        "timeout": int(max(30, settings.query_timeout * 3)),
        "graceful_timeout": 5,
        "keepalive": 5,
        # gunicorn caps the request line at 8190 bytes unless unlimited (0); a long GET query must reach
        # our own max_query_length check and get its 413, not gunicorn's bare 400.
        "limit_request_line": 0,
        "limit_request_field_size": 8190,
        "post_fork": lambda _server, _worker: on_fork(),
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "warning",
    }


def run(settings: Settings) -> None:
    """Build the app (load, validate) and serve it until interrupted.

    :raises StartupError: when the data cannot be loaded or does not conform.
    """
    app = create_app(settings)
    with app.app_context():
        store = publisher().store
    print(f"tourkg: serving on http://{settings.host}:{settings.port}/", flush=True)
    _Gunicorn(app, options_for(settings, getattr(store, "start_workers", lambda: None))).run()
