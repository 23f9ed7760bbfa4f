"""Limits and safety on a real server: the time limit really stops a query while others are answered,
no outbound request for SERVICE, and 413 past the length and size limits. The server keeps serving."""

import socket
import threading
import time

import pytest
import requests
from tests.conftest import running_server

TIMEOUT = 2.0
#: A cross product far too large to finish: 1000^4 combinations counted.
RUNAWAY = """SELECT (COUNT(*) AS ?n) {
  VALUES ?a { %s } VALUES ?b { %s } VALUES ?c { %s } VALUES ?d { %s }
}""" % ((" ".join(str(i) for i in range(1000)),) * 4)
SIMPLE = "ASK { ?s ?p ?o }"
JSON = {"Accept": "application/sparql-results+json"}


@pytest.fixture(scope="module")
def limited_url():
    with running_server("--query-timeout", str(TIMEOUT), "--max-result-rows", "50", "--max-query-length",
                        "40000") as url:
        yield url


def ask(url):
    response = requests.get(url + "/sparql", params={"query": SIMPLE}, headers=JSON, timeout=30)
    return response.status_code == 200 and response.json()["boolean"] is True


def test_runaway_query_is_stopped_at_the_limit(limited_url):
    response = requests.post(limited_url + "/sparql", data={"query": RUNAWAY}, headers=JSON, timeout=60)
    assert response.status_code == 503 and "query_timeout" in response.text


def test_simple_query_answers_fast_during_a_runaway(limited_url):
    runaway = threading.Thread(target=requests.post, args=(limited_url + "/sparql",),
                               kwargs={"data": {"query": RUNAWAY}, "timeout": 60})
    runaway.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert ask(limited_url)
    assert time.monotonic() - started < TIMEOUT / 3
    runaway.join()


def test_next_query_works_after_a_timeout(limited_url):
    requests.post(limited_url + "/sparql", data={"query": RUNAWAY}, headers=JSON, timeout=60)
    assert ask(limited_url)


def test_get_url_over_8kb_is_refused_and_the_server_keeps_serving(limited_url):
    query = "ASK {}" + " " * 9000  # under max_query_length: only the URL's length is at fault
    response = requests.get(limited_url + "/sparql", params={"query": query}, headers=JSON, timeout=30)
    assert 400 <= response.status_code < 500
    assert ask(limited_url)


def test_post_is_not_bound_by_the_url_limit(limited_url):
    query = "ASK {}" + " " * 9000
    response = requests.post(limited_url + "/sparql", data={"query": query}, headers=JSON, timeout=30)
    assert response.json()["boolean"] is True


def test_get_under_8kb_over_max_query_length_is_413(tour_settings, tour_publisher):
    from tourkg.web import Publisher, create_app

    settings = tour_settings.replace(max_query_length=100)
    pub = Publisher(settings, tour_publisher.store, tour_publisher.iris, tour_publisher.shapes,
                    tour_publisher.ontology)
    app = create_app(settings, publisher_=pub)
    response = app.test_client().get("/sparql", query_string={"query": "ASK {}" + " " * 200})
    assert response.status_code == 413 and "max_query_length" in response.text


def test_service_makes_no_outbound_request(limited_url):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(1.0)
    port = listener.getsockname()[1]
    query = f"SELECT * {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}"
    response = requests.get(limited_url + "/sparql", params={"query": query}, timeout=30)
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()
    assert response.status_code == 403


def test_service_silent_is_refused_too(limited_url):
    query = "SELECT * { SERVICE SILENT <http://127.0.0.1:9/x> { ?s ?p ?o } }"
    assert requests.get(limited_url + "/sparql", params={"query": query}, timeout=30).status_code == 403


def test_query_too_long_is_413(limited_url):
    query = "ASK {}" + " " * 40_001
    response = requests.post(limited_url + "/sparql", data={"query": query}, timeout=30)
    assert response.status_code == 413 and "max_query_length" in response.text
    assert ask(limited_url)


def test_too_many_rows_is_413(limited_url):
    query = "SELECT ?s ?p ?o { ?s ?p ?o }"
    response = requests.get(limited_url + "/sparql", params={"query": query}, timeout=30)
    assert response.status_code == 413 and "max_result_rows" in response.text
    assert ask(limited_url)


def test_too_many_triples_is_413(limited_url):
    response = requests.get(limited_url + "/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                            timeout=30)
    assert response.status_code == 413


def test_rows_under_the_limit_are_fine(limited_url):
    query = "SELECT ?s { ?s ?p ?o } LIMIT 50"
    response = requests.get(limited_url + "/sparql", params={"query": query}, headers=JSON, timeout=30)
    assert len(response.json()["results"]["bindings"]) == 50
