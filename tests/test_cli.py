"""The command line: entry points, serve's start-up gate, settings precedence."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from conftest import DATA, ROOT, free_port, running_server
from tourkg.config import CANONICAL_BASE, DEFAULT_DATA, build_settings


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tourkg", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_python_dash_m_shows_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert all(cmd in result.stdout for cmd in ("serve", "validate", "query", "dump"))


def test_serve_refuses_data_that_does_not_conform():
    result = run_cli("serve", "--port", str(free_port()), "--data", str(DATA / "generic-invalid.ttl"),
                     "--shapes", str(DATA / "generic.shapes.ttl"))
    assert result.returncode == 1
    assert "Every person needs a name." in result.stderr
    assert "--no-validate" in result.stderr


def test_serve_refuses_unreadable_data_naming_file_line_and_column():
    result = run_cli("serve", "--port", str(free_port()), "--data", str(DATA / "generic-syntax-error.ttl"))
    assert result.returncode == 2
    assert "generic-syntax-error.ttl:2:" in result.stderr


@pytest.mark.parametrize("store", ["memory", "sparql:http://127.0.0.1:9/sparql"])
def test_serve_refuses_a_dumps_link_it_cannot_keep(tmp_path, store):
    """A path that is not a link tourkg made is never replaced; a remote engine has no prepared dumps."""
    taken = tmp_path / "dumps"
    taken.mkdir()
    (taken / "keep.txt").write_text("the operator's")
    target = taken if store == "memory" else tmp_path / "link"
    result = run_cli("serve", "--port", str(free_port()), "--store", store, "--dumps-link", str(target))
    assert result.returncode == 2
    assert ("not a symbolic link" if store == "memory" else "needs local data") in result.stderr
    assert (taken / "keep.txt").read_text() == "the operator's" and not (tmp_path / "link").exists()


def test_serve_refuses_a_dumps_link_where_no_link_can_be_made(tmp_path):
    """Found before anything is prepared: exit status 2 and the reason, no traceback, nothing left."""
    (tmp_path / "a-file").write_text("")
    result = run_cli("serve", "--port", str(free_port()), "--cache-dir", str(tmp_path / "cache"),
                     "--dumps-link", str(tmp_path / "a-file" / "dumps"))
    assert result.returncode == 2 and "cannot make the symbolic link" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "cache").exists()


def test_serve_no_validate_serves_non_conforming_data():
    import requests

    args = ("--data", str(DATA / "generic-invalid.ttl"), "--shapes", str(DATA / "generic.shapes.ttl"),
            "--no-validate", "--base-uri", "http://example.org/", "--data-base-uri", "http://example.org/")
    with running_server(*args) as url:
        response = requests.get(url + "/id/person/nobody", headers={"Accept": "text/turtle"},
                                allow_redirects=False, timeout=10)
    assert response.status_code == 303


GENERIC = ("--data", str(DATA / "generic.ttl"), "--shapes", str(DATA / "generic.shapes.ttl"))


def test_serve_on_a_busy_port_fails_naming_it_and_never_claims_to_serve():
    port = free_port()
    with running_server(*GENERIC, port=port):
        result = run_cli("serve", "--port", str(port), *GENERIC)
    assert result.returncode != 0 and f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr
    assert "serving on" not in result.stdout + result.stderr


def test_serve_says_serving_once_it_listens():
    port = free_port()
    command = [sys.executable, "-m", "tourkg", "serve", "--port", str(port), *GENERIC]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as proc:
        try:
            line = proc.stdout.readline()
            with socket.create_connection(("127.0.0.1", port), timeout=10):
                pass  # listening by the time it says so
        finally:
            proc.terminate()
    assert line == f"tourkg: serving on http://127.0.0.1:{port}/\n"


def test_settings_defaults_are_the_tour():
    settings = build_settings({}, environ={})
    assert settings.data == DEFAULT_DATA and settings.base_uri == CANONICAL_BASE and settings.shapes


def test_settings_environment_overrides_defaults():
    assert build_settings({}, environ={"TOURKG_QUERY_TIMEOUT": "2.5"}).query_timeout == 2.5


def test_settings_flags_override_environment():
    settings = build_settings({"query_timeout": 4.0}, environ={"TOURKG_QUERY_TIMEOUT": "2.5"})
    assert settings.query_timeout == 4.0


def test_settings_other_data_drops_the_tour_shapes_and_ontology():
    settings = build_settings({"data": ["x.ttl"]}, environ={})
    assert settings.shapes == () and settings.ontology == ()


@pytest.mark.parametrize("given", ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"])
def test_settings_base_uri_ends_with_a_slash(given):
    assert build_settings({"base_uri": given}, environ={}).base_uri == "http://127.0.0.1:8080/"


def test_loader_infers_the_namespace_of_other_data():
    from tourkg import loader

    settings = build_settings({"data": [str(DATA / "generic.ttl")]}, environ={})
    loaded = loader.load(settings)
    assert loaded.base == "http://example.org/"
    assert {q.graph_name.value for q in loaded.quads} == {"http://example.org/id/graph/generic"}
    assert loader.resolve(settings, loaded).base_uri == "http://example.org/"


def test_behind_a_trusted_proxy_published_urls_name_the_public_origin(tour_settings, tour_publisher):
    from rdflib import Graph, URIRef

    from tourkg.web import create_app

    app = create_app(tour_settings.replace(proxy_hops=1), publisher_=tour_publisher)
    headers = {"Accept": "text/turtle", "X-Forwarded-Host": "data.example.org", "X-Forwarded-Proto": "https"}
    description = Graph().parse(data=app.test_client().get("/sparql", headers=headers).data, format="turtle")
    endpoint = URIRef("http://www.w3.org/ns/sparql-service-description#endpoint")
    assert {str(o) for o in description.objects(None, endpoint)} == {"https://data.example.org/sparql"}


def test_without_proxy_hops_forwarded_headers_are_ignored(client):
    from rdflib import Graph, URIRef

    headers = {"Accept": "text/turtle", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    description = Graph().parse(data=client.get("/sparql", headers=headers).data, format="turtle")
    endpoint = URIRef("http://www.w3.org/ns/sparql-service-description#endpoint")
    assert {str(o) for o in description.objects(None, endpoint)} == {"http://localhost/sparql"}


def test_serve_stops_cleanly_on_sigterm():
    import signal

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tourkg", "serve", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "serving on" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err
