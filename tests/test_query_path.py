"""The query hot path (``web/query_path.py``): a plain ``GET /sparql?query=…`` is answered without Flask's
routing, with exactly the answer the Flask view gives: same status, headers and body, for every query
form and format, every refusal, and the time limit. Against the tour in process, then a real server."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import pytest
import requests
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from tourkg import sparql
from tourkg.web import ENVIRON_KEY, sparql_views
from tourkg.web.accesslog import QUERY_SECONDS
from tourkg.web.conneg import wants_page
from tourkg.web.fastpath import FastPath
from tourkg.web.query_path import MAX_BODY, QUERY_ERROR, answer, answer_async, client_address, query_text

PANAMA = "https://w3id.org/tourkg/id/country/panama"
SELECT = f"SELECT ?p ?o WHERE {{ <{PANAMA}> ?p ?o }} ORDER BY ?p ?o"
QUERIES = {
    "select": SELECT,
    "count": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "ask": "ASK { ?s ?p ?o }",
    "construct": f"CONSTRUCT {{ <{PANAMA}> ?p ?o }} WHERE {{ <{PANAMA}> ?p ?o }}",
    "describe": f"DESCRIBE <{PANAMA}>",
    "bom": "\ufeffASK {}",
    "engine syntax error": "SELECT ?x WHERE { ?x ",
    "no form": "PREFIX ex: <http://example.org/>",
    "update": "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
    "service": "SELECT * { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
    "unknown function": "SELECT * { BIND(<urn:nope>(1) AS ?x) }",
}
ACCEPTS = (None, "*/*", "application/sparql-results+json", "application/sparql-results+xml", "text/csv",
           "text/tab-separated-values", "text/turtle", "application/ld+json", "application/n-triples",
           "application/rdf+xml", "text/csv, */*;q=0.1", "image/png", "text/html",
           "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")


def _fast_app(tour_app, tour_publisher):
    """What a web worker serves, minus the generations: the publisher set, then the fast path."""
    fast = FastPath(tour_app)

    def app(environ, start_response):
        environ[ENVIRON_KEY] = tour_publisher
        return fast(environ, start_response)
    return app


def _answer(client: Client, query: str, accept: str | None, *, raw: str | None = None, how: str = "get"):
    """Status, headers in their order (but ``Date``) and body; ``how``: by GET, by POST as a form
    (``raw``: the body), or by POST directly (``application/sparql-query``)."""
    headers = {"Accept": accept} if accept is not None else {}
    if how == "form":
        response = client.post("/sparql", data=raw if raw is not None else urlencode({"query": query}),
                               headers=headers, content_type=sparql.FORM_URLENCODED)
    elif how == "direct":
        response = client.post("/sparql", data=query.encode(), headers=headers,
                               content_type=sparql.SPARQL_QUERY)
    else:
        response = client.get("/sparql?" + (raw if raw is not None else urlencode({"query": query})),
                              headers=headers)
    kept = [(k, v) for k, v in response.headers.items() if k != "Date"]
    return response.status_code, kept, response.get_data()


@pytest.fixture()
def flask_calls(monkeypatch):
    """The requests the view read (each request Flask answers in full reads its parameters once)."""
    calls: list[str] = []
    original = sparql_views._collect

    def counted():
        calls.append("collect")
        return original()
    monkeypatch.setattr(sparql_views, "_collect", counted)
    return calls


@pytest.mark.parametrize("how", ["get", "form", "direct"])
@pytest.mark.parametrize("name", QUERIES)
@pytest.mark.parametrize("accept", ACCEPTS)
def test_answer_is_the_flask_views(tour_app, tour_publisher, flask_calls, name, accept, how):
    fast = Client(_fast_app(tour_app, tour_publisher))
    flask = tour_app.test_client()
    got = _answer(fast, QUERIES[name], accept, how=how)
    by_hot_path = not flask_calls
    assert got == _answer(flask, QUERIES[name], accept, how=how)
    if got[0] == 200 and not wants_page(accept, None):  # every answer but the page: the hot path's
        assert by_hot_path, (name, accept)


def test_unexpected_failure_is_flasks_500(tour_app, tour_publisher, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("engine bug")
    monkeypatch.setattr(tour_publisher.store, "query", broken)
    fast = Client(_fast_app(tour_app, tour_publisher))
    got = _answer(fast, QUERIES["ask"], "application/sparql-results+json")
    assert got[0] == 500 and b"engine bug" not in got[2]
    assert got == _answer(tour_app.test_client(), QUERIES["ask"], "application/sparql-results+json")


@pytest.mark.parametrize("raw", [
    "query=ASK%20%7B%7D&format=csv", "format=json&query=ASK%20%7B%7D",
    "query=ASK%20%7B%7D&query=ASK%20%7B%7D",
    "query=ASK%20%7B%7D&default-graph-uri=urn%3Ax", "query=%FF", "query=", "update=CLEAR%20ALL",
    "query=ASK+%7B+%3Fs+%3Fp+%3Fo+%7D", "query=ASK%20{}", "query=ASK%20%7B%7D;x=1",
])
def test_other_query_strings_get_the_flask_answer(tour_app, tour_publisher, raw):
    fast = Client(_fast_app(tour_app, tour_publisher))
    flask = tour_app.test_client()
    assert _answer(fast, "", "application/sparql-results+json", raw=raw) == _answer(
        flask, "", "application/sparql-results+json", raw=raw)


LONG = "ASK {} # " + "x" * (MAX_BODY + 10)


@pytest.mark.parametrize(("content_type", "body", "url"), [
    (sparql.FORM_URLENCODED, "query=ASK%20%7B%7D&format=csv", ""),
    (sparql.FORM_URLENCODED, "query=ASK%20%7B%7D&update=CLEAR%20ALL", ""),
    (sparql.FORM_URLENCODED, "query=ASK%20%7B%7D", "format=xml"),
    (sparql.FORM_URLENCODED, "query=ASK%20%7B%7D", "query=ASK%20%7B%7D"),
    (sparql.FORM_URLENCODED, "query=%FF", ""),
    (sparql.FORM_URLENCODED, "query=ASK {} # \u00e9", ""),
    (sparql.FORM_URLENCODED, "update=CLEAR%20ALL", ""),
    (sparql.FORM_URLENCODED, "", ""),
    (sparql.FORM_URLENCODED + "; charset=UTF-8", "query=ASK%20%7B%7D", ""),
    (sparql.FORM_URLENCODED, urlencode({"query": LONG}), ""),
    (sparql.SPARQL_QUERY, "ASK {}", "format=csv"),
    (sparql.SPARQL_QUERY, "ASK {}", "query=ASK%20%7B%7D"),
    (sparql.SPARQL_QUERY + "; charset=utf-8", "ASK { ?s ?p ?o }", ""),
    (sparql.SPARQL_QUERY, b"ASK {} # \xff", ""),
    (sparql.SPARQL_QUERY, LONG, ""),
    (sparql.SPARQL_UPDATE, "CLEAR ALL", ""),
    ("text/plain", "ASK {}", ""),
    (None, "ASK {}", ""),
])
def test_other_posts_get_the_flask_answer(tour_app, tour_publisher, flask_calls, content_type, body, url):
    """Flask answers them (but the two with a charset parameter, the hot path's), with the body the hot
    path read put back for it."""
    def answer(client):
        response = client.post("/sparql" + (f"?{url}" if url else ""), data=body, content_type=content_type,
                               headers={"Accept": "application/sparql-results+json"})
        kept = [(k, v) for k, v in response.headers.items() if k != "Date"]
        return response.status_code, kept, response.get_data()
    got = answer(Client(_fast_app(tour_app, tour_publisher)))
    by_hot_path = not flask_calls
    assert got == answer(tour_app.test_client())
    assert by_hot_path == ("charset" in (content_type or "") and got[0] == 200)


@pytest.mark.parametrize("terminated", [True, False])  # a server may say the stream ends with the body
def test_a_short_body_is_flasks(tour_app, tour_publisher, terminated):
    """A body shorter than its declared length: Flask reads what came, as it would have."""
    def answer(app):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/sparql", "QUERY_STRING": "",
                   "SERVER_NAME": "h", "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_HOST": "h",
                   "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": sparql.SPARQL_QUERY, "CONTENT_LENGTH": "100",
                   "wsgi.input": io.BytesIO(b"ASK {}"), "wsgi.errors": io.StringIO(),
                   "wsgi.input_terminated": terminated}
        seen = []
        body = b"".join(app(environ, lambda status, headers, exc_info=None: seen.append(status)))
        return seen, body
    assert answer(_fast_app(tour_app, tour_publisher)) == answer(tour_app.wsgi_app)


@pytest.fixture()
def view_calls(monkeypatch):
    """Every call of the view's query step; each query run by the store, counted."""
    calls: list[str] = []
    original = sparql_views._results

    def counted(query):
        calls.append(query.query)
        return original(query)
    monkeypatch.setattr(sparql_views, "_results", counted)
    return calls


def test_plain_query_never_reaches_the_view(tour_app, tour_publisher, view_calls):
    fast = Client(_fast_app(tour_app, tour_publisher))
    response = fast.get("/sparql", query_string={"query": QUERIES["count"]},
                        headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200 and int(response.json["results"]["bindings"][0]["n"]["value"]) > 100
    assert view_calls == []
    fast.get("/sparql", query_string={"query": QUERIES["count"], "format": "csv"})
    assert len(view_calls) == 1  # with another parameter: Flask


def test_failed_query_runs_once_and_flask_answers(tour_app, tour_publisher, monkeypatch):
    runs: list[str] = []
    store = tour_publisher.store
    original = store.query

    def counted(text, **kwargs):
        runs.append(text)
        return original(text, **kwargs)
    monkeypatch.setattr(store, "query", counted)
    fast = Client(_fast_app(tour_app, tour_publisher))
    response = fast.get("/sparql", query_string={"query": QUERIES["engine syntax error"]})
    assert response.status_code == 400 and "line 1" in response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert len(runs) == 1


def test_query_seconds_reach_the_access_log(tour_app, tour_publisher):
    fast = _fast_app(tour_app, tour_publisher)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/sparql", "QUERY_STRING": urlencode(
        {"query": "ASK {}"}), "HTTP_ACCEPT": "application/sparql-results+json", "wsgi.url_scheme": "http",
        "HTTP_HOST": "h", "SERVER_NAME": "h", "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1"}
    seen = []
    body = b"".join(fast(environ, lambda status, headers, exc_info=None: seen.append(status)))
    assert seen == ["200 OK"] and b'"boolean":true' in body and environ[QUERY_SECONDS] >= 0


def test_query_text_takes_only_a_lone_query_parameter():
    def environ(qs, method="GET", path="/sparql"):
        return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": qs}
    assert query_text(environ("query=ASK+%7B%7D")) == "ASK {}"
    assert query_text(environ("query=")) == ""
    assert query_text(environ("query=a&")) == "a"  # an empty pair is no parameter, for Flask either
    for other in ("query=a&format=csv", "format=csv&query=a", "query=a&query=b", "query=%FF", "queryx=a",
                  "query=\u00e9"):
        assert query_text(environ(other)) is None, other
    assert query_text(environ("query=a", method="POST")) is None  # a POST's query string: Flask's

    class Unread:
        def read(self, size=-1):
            if size:  # an invalid length is 0 for werkzeug too: nothing read, and Flask says so
                raise AssertionError("a body past MAX_BODY is left to Flask unread")
            return b""
    for length in (str(MAX_BODY + 1), "-1", "", "x", "+6", "1_2"):
        posted = {**environ("", method="POST"), "CONTENT_TYPE": sparql.SPARQL_QUERY, "CONTENT_LENGTH": length,
                  "wsgi.input": Unread()}
        assert query_text(posted) == (None if length == str(MAX_BODY + 1) else "")  # "": Flask's 400 next
    chunked = {**environ("", method="POST"), "CONTENT_TYPE": sparql.SPARQL_QUERY, "CONTENT_LENGTH": "6",
               "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": Unread()}
    assert query_text(chunked) is None
    posted = {**environ("", method="POST"), "CONTENT_TYPE": sparql.SPARQL_QUERY, "CONTENT_LENGTH": "6",
              "wsgi.input": io.BytesIO(b"ASK {}")}
    assert query_text(posted) == "ASK {}" and posted["wsgi.input"].read() == b"ASK {}"  # put back
    assert query_text(environ("query=a", method="HEAD")) is None
    assert query_text(environ("query=a", path="/sparql/")) is None


@pytest.mark.parametrize("hops", [0, 1, 2])
@pytest.mark.parametrize("forwarded", [None, "", "10.0.0.1", "10.0.0.1, 10.0.0.2", "a,b,c", " x ,  y ",
                                       '10.0.0.1, ""', '"", 10.0.0.1', ","])
def test_client_address_is_flasks_behind_proxy_fix(hops, forwarded):
    environ = {"REMOTE_ADDR": "127.0.0.9"}
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    seen = {}

    def app(env, start_response):
        seen["addr"] = env["REMOTE_ADDR"]
        return []
    fixed = ProxyFix(app, x_for=hops) if hops else app
    fixed(dict(environ), None)
    assert client_address(environ, hops) == seen["addr"]


# -- a real server ------------------------------------------------------------------------------------
#: Far too large to finish on the tour (its triples to the fourth power), and short enough for a URL.
RUNAWAY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@pytest.fixture(scope="module")
def limited_url():
    from conftest import running_server

    with running_server("--query-timeout", "2", "--workers", "1") as url:
        yield url


def test_time_limit_stops_a_get_query_and_the_server_goes_on(limited_url):
    json = {"Accept": "application/sparql-results+json"}
    response = requests.get(limited_url + "/sparql", params={"query": RUNAWAY}, headers=json, timeout=60)
    assert response.status_code == 503 and "query_timeout" in response.text
    assert response.headers["Retry-After"] and response.headers["Access-Control-Allow-Origin"] == "*"
    again = requests.get(limited_url + "/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers=json,
                         timeout=60)
    assert again.status_code == 200 and again.json()["boolean"] is True


def test_live_answers_are_the_flask_views(limited_url, tour_app):
    """On a real server, by GET, form POST and direct POST (the hot path): the answer the Flask
    view gives in process, header for header (but the server's own ``Date`` and ``Server``)."""
    flask = tour_app.test_client()

    def kept(headers):
        return [(k.lower(), v) for k, v in headers.items() if k.lower() not in ("date", "server")]
    for name in ("select", "count", "ask", "engine syntax error", "update"):  # a graph: in the store's order
        for accept in ("application/sparql-results+xml", "text/csv", "*/*"):
            headers = {"Accept": accept}
            query = QUERIES[name]
            url = limited_url + "/sparql"
            sent = [requests.get(url, params={"query": query}, headers=headers, timeout=60),
                    requests.post(url, data={"query": query}, headers=headers, timeout=60),
                    requests.post(url, data=query.encode(), timeout=60,
                                  headers={**headers, "Content-Type": sparql.SPARQL_QUERY})]
            reference = flask.get("/sparql", query_string={"query": query}, headers=headers)
            for got in sent:
                assert (got.status_code, kept(got.headers), got.content) == (
                    reference.status_code, kept(reference.headers), reference.get_data()), (name, accept)


# -- from the server's event loop ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def loop(tour_publisher):
    """One event loop for the module, as a web worker has one: the store's loop connections live on it
    (and are closed with it)."""
    import asyncio

    running = asyncio.new_event_loop()
    yield running
    tour_publisher.store._close_links()
    running.run_until_complete(asyncio.sleep(0))
    running.close()


def _environ(query: str, accept: str | None, how: str, publisher) -> dict:
    from werkzeug.test import EnvironBuilder

    headers = {"Accept": accept} if accept is not None else {}
    if how == "form":
        builder = EnvironBuilder("/sparql", method="POST", data=urlencode({"query": query}), headers=headers,
                                 content_type=sparql.FORM_URLENCODED)
    elif how == "direct":
        builder = EnvironBuilder("/sparql", method="POST", data=query.encode(), headers=headers,
                                 content_type=sparql.SPARQL_QUERY)
    else:
        builder = EnvironBuilder("/sparql", query_string=urlencode({"query": query}), headers=headers)
    environ = builder.get_environ()
    environ[ENVIRON_KEY] = publisher
    return environ


@pytest.mark.parametrize("how", ["get", "form", "direct"])
@pytest.mark.parametrize("name", QUERIES)
@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_event_loops_answer_is_the_threads(tour_publisher, loop, name, accept, how):
    """``answer_async`` (no thread: the engine's connection driven by the loop) takes the requests
    ``answer`` takes, and gives the same answer, or leaves the same error for Flask."""
    threaded, looped = (_environ(QUERIES[name], accept, how, tour_publisher) for _ in range(2))
    seen: list = []
    body = answer(threaded, lambda status, headers, exc_info=None: seen.extend([status, headers]))
    pending = answer_async(looped)
    if body is None and QUERY_ERROR not in threaded:  # not a plain query, or refused before running
        assert pending is None
        return
    assert pending is not None
    got = loop.run_until_complete(pending)
    if body is None:
        assert got is None and type(looped[QUERY_ERROR]) is type(threaded[QUERY_ERROR])
        assert str(looped[QUERY_ERROR]) == str(threaded[QUERY_ERROR])
    else:
        assert got == (seen[0], seen[1], list(body))
    assert looped[QUERY_SECONDS] >= 0


def test_a_store_without_aquery_is_answered_by_a_thread(tour_publisher):
    class Threaded:
        def __init__(self, store):
            self.query = store.query

    class Publisher:
        settings = tour_publisher.settings
        store = Threaded(tour_publisher.store)
    assert answer_async(_environ("ASK {}", None, "get", Publisher())) is None
    pending = answer_async(_environ("ASK {}", None, "get", tour_publisher))
    assert pending is not None
    pending.close()


def test_a_query_cut_by_the_engine_stopping_is_sent_again_to_the_new_engine(tmp_path, loop):
    """The engine stops for another query's overrun (here: killed) while a query waits for its answer
    on the loop: the query is sent again to the engine started in its place, and answered."""
    import asyncio
    import time

    from tourkg.config import build_settings
    from tourkg.dataset import PendingDataset

    dataset = PendingDataset(build_settings({"cache_dir": str(tmp_path)})).finish()
    values = " ".join(str(i) for i in range(300))
    query = "SELECT (COUNT(*) AS ?n) { " + " ".join(f"VALUES ?{v} {{ {values} }}" for v in "abc") + " }"
    try:
        first = dataset.engine._process.pid

        async def cut() -> object:
            json = sparql.formats_for_name("json")
            asking = asyncio.ensure_future(dataset.store.aquery(query, formats=json))
            await asyncio.sleep(0.3)
            assert not asking.done()  # still running: 27 million solutions
            dataset.engine._process.kill()
            return await asking
        started = time.monotonic()
        outcome = loop.run_until_complete(cut())
        assert b'"27000000"' in outcome.body and time.monotonic() - started < 30
        assert dataset.engine._process.pid != first  # answered by the new engine
    finally:
        dataset.close()


@pytest.fixture(scope="module")
def one_thread_url():
    from conftest import running_server

    with running_server("--query-timeout", "3", "--workers", "1", "--threads", "1") as url:
        yield url


def test_a_plain_query_is_answered_while_every_web_thread_waits(one_thread_url):
    """A query with a parameter more goes to Flask, in the worker's one thread, and runs to the time
    limit; a plain query meanwhile is answered from the event loop, without waiting for that thread."""
    import threading
    import time

    json = {"Accept": "application/sparql-results+json"}
    held = threading.Thread(target=requests.get, args=(one_thread_url + "/sparql",), kwargs={
        "params": {"query": RUNAWAY, "format": "json"}, "timeout": 60})
    held.start()
    time.sleep(0.5)
    started = time.monotonic()
    response = requests.get(one_thread_url + "/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers=json,
                            timeout=60)
    took = time.monotonic() - started
    held.join()
    assert response.status_code == 200 and response.json()["boolean"] is True
    assert took < 1.5, took  # not after the runaway's 3 s
