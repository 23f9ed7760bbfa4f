"""Shared fixtures: settings, app, test client, CLI runner, and real servers on loopback."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from tourkg.config import build_settings
from tourkg.web import build_publisher, create_app

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
# Prepared datasets of this test session live in a folder of their own (servers started by the tests
# inherit it): every session starts cold and leaves the user's cache alone.
os.environ.setdefault("TOURKG_CACHE_DIR", tempfile.mkdtemp(prefix="tourkg-test-cache-"))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A ``tourkg serve`` started by a test: its URL, process and log."""

    url: str
    proc: subprocess.Popen
    _log: Any

    def log(self) -> str:
        """What the server wrote on stderr so far (its log and access log). The web workers write their
        access-log lines together every ``FLUSH`` seconds: read once the file has stopped growing for a
        few of those (at most 10 s, for a server that never stops logging)."""
        from tourkg.web.accesslog import FLUSH

        deadline, size = time.monotonic() + 10, -1
        while time.monotonic() < deadline:
            self._log.seek(0, os.SEEK_END)
            if self._log.tell() == size:
                break
            size = self._log.tell()
            time.sleep(3 * FLUSH)
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


@contextlib.contextmanager
def server_process(*args: str, wait: float = 60.0, port: int | None = None,
                   env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """Start ``tourkg serve`` on a free loopback port (or ``port``), with ``env`` added to the
    environment; yield it; stop it.

    The server's log goes to a file: a pipe nobody reads would fill up and block the server."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "tourkg", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    server = ServerProcess(f"http://127.0.0.1:{port}", proc, errors)
    deadline = time.monotonic() + wait
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {server.log()}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(server.url + "/robots.txt", timeout=2).status_code < 500:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        errors.close()


@contextlib.contextmanager
def web_server(command: list[str], url: str, what: str, wait: float = 20.0) -> Iterator[str]:
    """Start a web server process (nginx, apache2) in the foreground; yield ``url`` once it answers
    there; stop it."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                requests.get(url + "/robots.txt", timeout=2)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not start: {proc.stderr.read().decode()}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def nginx_conf(work: Path, port: int, server: str, http: str = "") -> Path:
    """An nginx configuration running in the foreground from ``work``, with one ``server`` listening on
    loopback ``port`` (``server``: its directives; ``http``: more at the ``http`` level, such as an
    ``upstream``). nginx's workers run as this user (so they read this user's folders; ignored when not
    root)."""
    import getpass

    conf = work / "nginx.conf"
    conf.write_text(f"""user {getpass.getuser()}; worker_processes 1; pid {work}/nginx.pid;
error_log {work}/error.log; daemon off;
events {{ worker_connections 256; }}
http {{
  access_log off; sendfile on;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  {http}
  server {{
    listen 127.0.0.1:{port};
    {server}
  }}
}}
""")
    return conf


@contextlib.contextmanager
def running_server(*args: str, wait: float = 60.0, port: int | None = None) -> Iterator[str]:
    """Start ``tourkg serve`` on a free loopback port (or ``port``); yield its URL; stop it."""
    with server_process(*args, wait=wait, port=port) as server:
        yield server.url


@pytest.fixture(scope="session")
def tour_settings():
    """Settings for the shipped tour dataset."""
    return build_settings({})


@pytest.fixture(scope="session")
def tour_publisher(tour_settings):
    """The tour loaded and validated once for the whole session."""
    pub = build_publisher(tour_settings)
    yield pub
    pub.close()


@pytest.fixture(scope="session")
def tour_app(tour_settings, tour_publisher):
    """The Flask app on the tour."""
    return create_app(tour_settings, publisher_=tour_publisher)


@pytest.fixture()
def client(tour_app):
    """A Flask test client on the tour (for fast, in-process checks)."""
    return tour_app.test_client()


@pytest.fixture()
def runner():
    """A click CLI runner."""
    return CliRunner()


#: The engines the HTTP suite runs against: in memory (the default), on disk, and a remote SPARQL
#: endpoint (a real Oxigraph server holding the tour).
ENGINES = ("memory", "oxigraph", "sparql")


def oxigraph_binary() -> str:
    """The Oxigraph server that ``pip install oxigraph`` ships (beside this Python, or on PATH)."""
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if not found:
        pytest.fail("the oxigraph server is missing: pip install oxigraph (a test dependency)")
    return found


@contextlib.contextmanager
def oxigraph_server(nquads: Path | None = None, union: bool = False,
                    port: int | None = None) -> Iterator[str]:
    """``oxigraph serve`` on loopback, loaded with ``nquads``; yields its query URL; stops it."""
    port = port or free_port()
    command = [oxigraph_binary(), "serve", "--bind", f"127.0.0.1:{port}"]
    command += ["--union-default-graph"] if union else []
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(requests.ConnectionError):
                requests.get(base + "/query", params={"query": "ASK {}"}, timeout=2)
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("oxigraph serve did not start")
            time.sleep(0.1)
        if nquads is not None:
            with nquads.open("rb") as body:
                loaded = requests.post(base + "/store", data=body, timeout=60,
                                       headers={"Content-Type": "application/n-quads"})
            loaded.raise_for_status()
        yield base + "/query"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def tour_nquads(tmp_path_factory) -> Path:
    """The tour as N-Quads, as plain ``tourkg dump --format nq`` writes it."""
    target = tmp_path_factory.mktemp("tour") / "tour.nq"
    subprocess.run([sys.executable, "-m", "tourkg", "dump", "--format", "nq", "-o", str(target)], cwd=ROOT,
                   check=True, capture_output=True)
    return target


@contextlib.contextmanager
def tour_server(engine: str, folder: Path, nquads: Path | None, *args: str) -> Iterator[str]:
    """``tourkg serve`` on the tour with ``engine`` (memory, oxigraph or sparql)."""
    if engine == "memory":
        with running_server(*args) as url:
            yield url
    elif engine == "oxigraph":
        with running_server("--store", f"oxigraph:{folder / 'store'}", *args) as url:
            yield url
    else:
        with oxigraph_server(nquads) as endpoint:
            with running_server("--store", f"sparql:{endpoint}", *args) as url:
                yield url


class TourServers:
    """One tour server per engine for the whole session, started on first use, shared by the fixtures."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.stack = contextlib.ExitStack()
        self.urls: dict[str, str] = {}

    def url(self, engine: str) -> str:
        if engine not in self.urls:
            nquads = None
            if engine == "sparql":
                nquads = self.factory.mktemp("tour") / "tour.merged.nq"
                subprocess.run([sys.executable, "-m", "tourkg", "dump", "--format", "nq",
                                "--merged-default-graph",
                                "-o", str(nquads)], cwd=ROOT, check=True, capture_output=True)
            folder = self.factory.mktemp(engine)
            server = tour_server(engine, folder, nquads, "--query-timeout", "3")
            self.urls[engine] = self.stack.enter_context(server)
        return self.urls[engine]


@pytest.fixture(scope="session")
def tour_servers(tmp_path_factory) -> Iterator[TourServers]:
    """The per-engine tour servers of the session (stopped at its end)."""
    servers = TourServers(tmp_path_factory)
    with servers.stack:
        yield servers


@pytest.fixture(scope="session", params=ENGINES)
def live_url(request, tour_servers) -> str:
    """A real ``tourkg serve`` on the tour, on loopback, once per engine. The remote engine is a real
    Oxigraph server loaded as the README says (``tourkg dump --format nq --merged-default-graph``)."""
    return tour_servers.url(request.param)


@pytest.fixture(scope="session", params=ENGINES[:2])
def local_url(request, tour_servers) -> str:
    """The same servers, for the engines whose data tourkg prepares itself (memory and on disk): their
    dumps are tourkg's own prepared files, byte for byte what ``tourkg dump`` writes."""
    return tour_servers.url(request.param)


@pytest.fixture(scope="session")
def generic_url() -> Iterator[str]:
    """A real server on a dataset that is not the tour (the publisher is generic)."""
    with running_server("--data", str(DATA / "generic.ttl"), "--shapes", str(DATA / "generic.shapes.ttl"),
                        "--base-uri", "http://example.org/", "--data-base-uri", "http://example.org/") as url:
        yield url
