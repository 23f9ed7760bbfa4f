"""Shared fixtures: settings, app, test client, CLI runner, and real servers on loopback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from tourkg.config import build_settings
from tourkg.web import build_publisher, create_app

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(*args: str, wait: float = 60.0, port: int | None = None) -> Iterator[str]:
    """Start ``tourkg serve`` (gunicorn) on a free loopback port (or ``port``); yield its URL; stop it."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "tourkg", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(url + "/robots.txt", timeout=2).status_code < 500:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture(scope="session")
def tour_settings():
    """Settings for the shipped tour dataset."""
    return build_settings({})


@pytest.fixture(scope="session")
def tour_publisher(tour_settings):
    """The tour loaded and validated once for the whole session."""
    pub = build_publisher(tour_settings)
    yield pub
    pub.store.close()


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


@pytest.fixture(scope="session")
def live_url() -> Iterator[str]:
    """A real ``tourkg serve`` on the tour, on loopback, for the whole session."""
    with running_server("--query-timeout", "3") as url:
        yield url


@pytest.fixture(scope="session")
def generic_url() -> Iterator[str]:
    """A real server on a dataset that is not the tour (the publisher is generic)."""
    with running_server("--data", str(DATA / "generic.ttl"), "--shapes", str(DATA / "generic.shapes.ttl"),
                        "--base-uri", "http://example.org/", "--data-base-uri", "http://example.org/") as url:
        yield url
