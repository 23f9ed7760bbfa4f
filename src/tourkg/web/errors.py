"""The only place that turns exceptions into HTTP responses.

Plain text for machine routes (``/sparql``, ``/data``, dumps) and for clients that do not prefer HTML;
an HTML page for browsers elsewhere. Unknown exceptions become 500, logged, with no traceback in the body.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from tourkg.errors import NotAcceptable, TourkgError
from tourkg.web.accesslog import escape
from tourkg.web.conneg import negotiate

log = logging.getLogger(__name__)

_MACHINE_PREFIXES = ("/sparql", "/data", "/dump", "/.well-known")


def wants_html() -> bool:
    """True when the client prefers HTML to plain text (browsers do; curl's ``*/*`` does not)."""
    if request.path.startswith(_MACHINE_PREFIXES) and request.path != "/sparql":
        return False
    return negotiate(request.headers.get("Accept"), ["text/plain", "text/html"]) == "text/html"


def error_response(status: int, title: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """Build the error response in the representation the client prefers."""
    if wants_html():
        body = render_template("error.html", status=status, title=title, message=message)
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
    else:
        response = Response(f"{status} {title}\n\n{message}\n", status=status,
                            content_type="text/plain; charset=utf-8")
    response.headers["Vary"] = "Accept"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register(app: Flask) -> None:
    """Install the error handlers on ``app``."""

    @app.errorhandler(TourkgError)
    def handle_tourkg_error(exc: TourkgError) -> Response:
        if exc.status >= 500:
            log.warning("%s on %s %s: %s", exc.title, request.method, escape(request.full_path),
                        escape(exc.message))
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry or 5)} if exc.status in (429, 503) else {}
        if isinstance(exc, NotAcceptable) and exc.offers:
            headers["X-Available-Formats"] = ", ".join(exc.offers)
        return error_response(exc.status, exc.title, exc.message, headers)

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException) -> Response:
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        return error_response(exc.code or 500, exc.name, exc.description or exc.name, headers)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", escape(request.method), escape(request.full_path))
        return error_response(500, "Internal Server Error",
                              "Something went wrong on our side; it has been logged.")
