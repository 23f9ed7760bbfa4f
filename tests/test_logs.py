"""Logs (issue 8): one access-log line per request in the Common Log Format with the duration and the
query time for SPARQL, and no request can forge or split a log line. A real server on loopback."""

import http.client
import re
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
