"""Logs (issue 8): one access-log line per request in the Common Log Format with the duration and the
query time for SPARQL, and no request can forge or split a log line. A real server on loopback."""

import http.client
import re
import signal
import time
from urllib.parse import urlsplit

import pytest
import requests
from tests.conftest import server_process

#: host ident user [date] "method target protocol" status bytes seconds query
LINE = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
                  r'"(\S+) (\S+) (\S+)" (\d{3}) (\d+) (\d+\.\d{4}) (-|query=\d+\.\d{4})$')


@pytest.fixture(scope="module")
def logged():
    with server_process() as server:
        url = server.url
        requests.get(url + "/page/country/panama")
        requests.get(url + "/page/country/panama")  # the second from the prepared answer
        requests.post(url + "/sparql", data={"query": "ASK { ?s ?p ?o }"},
                      headers={"Accept": "application/sparql-results+json"})
        requests.get(url + "/dump.nt", headers={"Accept-Encoding": "identity"})
        requests.get(url + "/no/such/thing")
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        # a path that decodes to a line break and a fake log line, and a quote and a backslash
        conn.request("GET", "/page/x%0A127.0.0.1%20-%20-%20[forged]%22%5C%00%C3%A9")
        conn.getresponse().read()
        conn.close()
        requests.get(url + "/healthz")
        yield server.log()


def access_lines(log):
    return [line for line in log.splitlines() if line.startswith("127.0.0.1 - - [")]


def test_one_line_per_request_in_the_common_log_format(logged):
    lines = access_lines(logged)
    assert len(lines) >= 7
    for line in lines:
        assert LINE.match(line), line


def test_fields_say_what_happened(logged):
    lines = access_lines(logged)
    page = [LINE.match(x) for x in lines if '"GET /page/country/panama HTTP/1.1"' in x]
    assert len(page) == 2 and all(m.group(6) == "200" and int(m.group(7)) > 1000 for m in page)
    query = next(LINE.match(x) for x in lines if '"POST /sparql' in x)
    assert query.group(6) == "200" and query.group(9).startswith("query=")
    dump = next(LINE.match(x) for x in lines if "/dump.nt" in x)
    assert int(dump.group(7)) > 10_000  # a streamed body is counted as it goes
    assert any('"GET /no/such/thing HTTP/1.1" 404' in x for x in lines)
    assert any('/healthz HTTP/1.1" 200' in x for x in lines)


def test_a_crafted_request_cannot_forge_or_split_a_line(logged):
    assert not any(line.startswith("127.0.0.1 - - [forged]") for line in logged.splitlines())
    crafted = [line for line in access_lines(logged) if "forged" in line]
    assert len(crafted) == 1 and LINE.match(crafted[0])
    assert "\\x0a" in crafted[0] and "\\x22" in crafted[0] and "\\x5c" in crafted[0]


def _lines_of(requests_made: list[dict], headers: list[tuple[str, str]], tmp_path) -> list[str]:
    """The access log middleware alone, in front of an app answering with ``headers``."""
    from tourkg.web.accesslog import AccessLog

    def app(environ, start_response):
        start_response("200 OK", headers)
        return [b"x" * 7]

    path = tmp_path / "access.log"
    with path.open("ab") as out:
        log = AccessLog(app, out.fileno())
        for environ in requests_made:
            log(dict(environ), lambda status, sent, exc_info=None: None)
        log.flush()
    return path.read_text().splitlines()


def test_a_repeated_request_is_logged_with_its_own_fields(tmp_path):
    """Escaped request lines and content lengths are kept between requests: each line still says what
    its own request asked (method, target, query string, client) and what was sent."""
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/page/country/panama", "QUERY_STRING": "",
            "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"}
    made = [base, base, {**base, "QUERY_STRING": "lang=es"}, {**base, "REQUEST_METHOD": "HEAD"},
            {**base, "REMOTE_ADDR": "10.0.0.9"}, {**base, "PATH_INFO": "/x\n\"forged"}, base]
    lines = _lines_of(made, [("Content-Type", "text/html"), ("Content-Length", "7")], tmp_path)
    assert len(lines) == 7 and all(LINE.match(x) for x in lines)
    requested = [LINE.match(x).group(1, 3, 4) for x in lines]
    assert requested == [("127.0.0.1", "GET", "/page/country/panama")] * 2 + [
        ("127.0.0.1", "GET", "/page/country/panama?lang=es"), ("127.0.0.1", "HEAD", "/page/country/panama"),
        ("10.0.0.9", "GET", "/page/country/panama"), ("127.0.0.1", "GET", "/x\\x0a\\x22forged"),
        ("127.0.0.1", "GET", "/page/country/panama")]
    assert all(LINE.match(x).group(7) == "7" for x in lines)


def test_many_distinct_requests_are_all_logged_right(tmp_path):
    """Past the number of request lines kept, the store is emptied and filled again, never wrong."""
    from tourkg.web import accesslog

    made = [{"REQUEST_METHOD": "GET", "PATH_INFO": f"/page/n{i}", "QUERY_STRING": "", "REMOTE_ADDR": "::1",
             "SERVER_PROTOCOL": "HTTP/1.1"} for i in range(accesslog._KEPT + 10)]
    lines = _lines_of(made + made[:3], [("content-length", "7")], tmp_path)
    targets = [LINE.match(x).group(4) for x in lines]
    assert targets == [m["PATH_INFO"] for m in made + made[:3]]


def test_the_size_logged_is_the_one_each_answer_declared(tmp_path):
    """Header lists are looked up by identity: a new list with another length is read again."""
    from tourkg.web.accesslog import AccessLog

    answers = iter([[("Content-Length", "11")], [("Content-Length", "22")], [("Content-Type", "text/plain")]])

    def app(environ, start_response):
        start_response("200 OK", next(answers))
        return [b"abc"]

    path = tmp_path / "access.log"
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "REMOTE_ADDR": "::1",
               "SERVER_PROTOCOL": "HTTP/1.1"}
    with path.open("ab") as out:
        log = AccessLog(app, out.fileno())
        for _ in range(3):
            list(log(dict(environ), lambda status, sent, exc_info=None: None))
        log.flush()
    assert [LINE.match(x).group(7) for x in path.read_text().splitlines()] == ["11", "22", "3"]


def test_long_targets_are_logged_but_not_kept(tmp_path):
    """A long URL is escaped for its own line and not kept, so crafted long URLs cannot grow the store."""
    from tourkg.web import accesslog

    long_path = "/page/" + "a" * (accesslog._KEPT_TARGET + 1)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": long_path, "QUERY_STRING": "", "REMOTE_ADDR": "::1",
               "SERVER_PROTOCOL": "HTTP/1.1"}
    with (tmp_path / "access.log").open("ab") as out:
        log = accesslog.AccessLog(lambda env, start: start("200 OK", [("Content-Length", "0")]) or [b""],
                                  out.fileno())
        log(dict(environ), lambda status, sent, exc_info=None: None)
        log({**environ, "PATH_INFO": "/page/short"}, lambda status, sent, exc_info=None: None)
        log.flush()
    assert [key[2] for key in log._requests] == ["/page/short"]
    assert long_path in (tmp_path / "access.log").read_text()


def test_replayed_prepared_answers_are_logged_with_their_own_size(tmp_path):
    """The fast path tells the access log the length of the prepared answer it replays: each line says
    the size of its own answer, for two answers replayed in turn, a HEAD and a 304."""
    from tourkg.web.accesslog import AccessLog
    from tourkg.web.fastpath import CACHEABLE, FastPath

    def app(environ, start_response):
        body = b"x" * (5 if environ["PATH_INFO"] == "/a" else 123)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                                  ("ETag", f'"{len(body)}"'), (CACHEABLE, "1")])
        return [body]

    base = {"REQUEST_METHOD": "GET", "QUERY_STRING": "", "REMOTE_ADDR": "::1", "SERVER_PROTOCOL": "HTTP/1.1"}
    made = [{**base, "PATH_INFO": p} for p in ("/a", "/b", "/a", "/b", "/a")]
    made += [{**base, "PATH_INFO": "/b", "REQUEST_METHOD": "HEAD"},
             {**base, "PATH_INFO": "/b", "HTTP_IF_NONE_MATCH": '"123"'}]
    path = tmp_path / "access.log"
    with path.open("ab") as out:
        log = AccessLog(FastPath(app), out.fileno())
        for environ in made:
            b"".join(log(dict(environ), lambda status, sent, exc_info=None: None))
        log.flush()
    logged = [LINE.match(x).group(4, 6, 7) for x in path.read_text().splitlines()]
    assert logged == [("/a", "200", "5"), ("/b", "200", "123"), ("/a", "200", "5"), ("/b", "200", "123"),
                      ("/a", "200", "5"), ("/b", "200", "123"), ("/b", "304", "0")]


def _environ(path: str = "/page/country/panama") -> dict:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "REMOTE_ADDR": "::1",
            "SERVER_PROTOCOL": "HTTP/1.1"}


def _answer(environ, start_response):
    start_response("200 OK", [("Content-Length", "3")])
    return [b"abc"]


def test_lines_are_written_together_in_whole_lines_of_at_most_pipe_buf(tmp_path, monkeypatch):
    """Lines wait and go out together: each write is whole lines, at most PIPE_BUF bytes (so the kernel
    never interleaves two workers' writes to a pipe), in the order of the requests, none lost."""
    from tourkg.web import accesslog

    writes: list[bytes] = []
    monkeypatch.setattr(accesslog.AccessLog, "_send", lambda self, data: writes.append(bytes(data)))
    log = accesslog.AccessLog(_answer, 2)
    paths = [f"/page/n{i}" + "x" * (i % 50) for i in range(300)]
    for path in paths:
        log(_environ(path), lambda status, sent, exc_info=None: None)
    log.flush()
    lines = b"".join(writes).decode().splitlines()
    assert [LINE.match(x).group(4) for x in lines] == paths
    assert all(len(w) <= 4096 and w.endswith(b"\n") for w in writes)
    assert len(writes) <= len(paths) // 10  # together, not a write a line


def test_waiting_lines_are_written_without_being_asked(tmp_path):
    """The writer thread writes what waits within ``FLUSH`` seconds, with no further request."""
    from tourkg.web.accesslog import AccessLog

    path = tmp_path / "access.log"
    with path.open("ab") as out:
        log = AccessLog(_answer, out.fileno())
        log(_environ(), lambda status, sent, exc_info=None: None)
        deadline = time.monotonic() + 10
        while "panama" not in path.read_text():
            assert time.monotonic() < deadline, "the waiting line was never written"
            time.sleep(0.05)


def test_a_log_that_does_not_keep_up_is_written_by_the_requests(tmp_path, monkeypatch):
    """Past ``_MOST_WAITING`` lines waiting (the writer thread held up), a request writes them itself, as
    an unbuffered log would: what waits stays bounded."""
    from tourkg.web import accesslog

    monkeypatch.setattr(accesslog, "_MOST_WAITING", 5)
    path = tmp_path / "access.log"
    with path.open("ab") as out:
        log = accesslog.AccessLog(_answer, out.fileno(), flush=3600)  # the writer thread sleeps meanwhile
        for _ in range(20):
            log(_environ(), lambda status, sent, exc_info=None: None)
            assert len(log._waiting) <= 6
        assert len(path.read_text().splitlines()) >= 14
        log.flush()
    assert len(path.read_text().splitlines()) == 20


def test_every_request_is_logged_when_the_server_stops(tmp_path):
    """A burst of requests from several clients, then the server is stopped at once: each web worker
    writes the lines still waiting as it exits; every request has its one whole line."""
    from concurrent.futures import ThreadPoolExecutor

    with server_process("--workers", "2") as server:
        url = server.url + "/page/country/panama"
        requests.get(url, timeout=30)

        def burst(_: int) -> int:
            with requests.Session() as session:
                return sum(session.get(url, timeout=30).status_code == 200 for _ in range(50))

        with ThreadPoolExecutor(8) as pool:
            answered = sum(pool.map(burst, range(8)))
        server.proc.send_signal(signal.SIGINT)
        server.proc.wait(30)
        logged = [x for x in access_lines(server.log()) if '"GET /page/country/panama HTTP/1.1" 200' in x]
    assert answered == 400
    assert len(logged) == 401 and all(LINE.match(x) for x in logged)
