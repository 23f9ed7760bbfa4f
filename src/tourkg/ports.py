"""Is the port free? Asked before anything is prepared, so a busy port fails the start at once."""

from __future__ import annotations

import errno
import socket

from tourkg.errors import StartupError


def check_port(host: str, port: int) -> None:
    """Fail at once, with a clear message, when ``host:port`` cannot be listened on (taken, or not an
    address of this machine). The check binds without ``SO_REUSEPORT``, so another server's listener
    is found even when it shares ports.

    :raises StartupError: exit code 2.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        probe = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.", 2) from None
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no owner
        probe.bind(address)
    except OSError as exc:
        reason = "it is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise StartupError(f"Cannot listen on {host}:{port}: {reason}. Stop the other server or choose "
                           "another port with --port.", 2) from None
    finally:
        probe.close()


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host
