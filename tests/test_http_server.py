"""tourkg's HTTP/1.1 server (``web/httpd.py``) as clients meet it on the wire (RFC 9112): keep-alive,
pipelining, chunked request bodies, ``Expect: 100-continue``, HEAD, the limits on a request's head and
body, malformed requests, slow and silent clients, large answers read slowly, and the supervisor's
workers (a killed one is replaced; SIGTERM lets a request in flight finish and leaves no process).

Real ``tourkg serve`` processes on loopback with the tour; raw sockets wherever a client library would
hide the wire format."""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from tests.conftest import ROOT, ServerProcess, server_process
from tests.test_lifecycle import alive, descendants
from tests.test_sparql_limits import RUNAWAY

from tourkg.web import httpd

#: Seconds any single read from the server may wait (a generous bound: a stuck server fails the test).
WAIT = 10.0
PAGE = "/page/country/panama"
ASK = "query=ASK%20%7B%3Fs%20%3Fp%20%3Fo%7D"  # ASK {?s ?p ?o}, form-encoded
JSON = "application/sparql-results+json"


# -- a minimal HTTP/1.1 client on a raw socket --------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]  # (lower-case name, value), as received, in order
    body: bytes

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k == name]
        assert len(found) <= 1, f"{name} sent {len(found)} times: {found}"
        return found[0] if found else None

    def tokens(self, name: str) -> set[str]:
        return {t.strip().lower() for k, v in self.headers if k == name for t in v.split(",")}


class Wire:
    """One connection to the server; requests are written as given, answers parsed by their framing
    (Content-Length, chunked, or the end of the connection)."""

    def __init__(self, url: str, *, rcvbuf: int | None = None) -> None:
        parts = urlsplit(url)
        self.host = f"{parts.hostname}:{parts.port}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect: the window the client offers stays this small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(WAIT)
        self.sock.connect((parts.hostname, parts.port))
        self.buf = b""

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def get(self, path: str, *, method: str = "GET", version: str = "1.1", headers: str = "") -> bytes:
        """The bytes of a simple request (``headers``: more header lines, each ending in CRLF)."""
        return f"{method} {path} HTTP/{version}\r\nHost: {self.host}\r\n{headers}\r\n".encode("latin-1")

    def fill(self, size: int = 65536) -> None:
        data = self.sock.recv(size)
        if not data:
            raise EOFError(f"the server closed the connection; unparsed: {self.buf[:200]!r}")
        self.buf += data

    def _take(self, size: int) -> bytes:
        while len(self.buf) < size:
            self.fill()
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def answer(self, *, head: bool = False) -> Answer:
        """The next answer (an interim 1xx one too). ``head``: it answers a HEAD (no body follows)."""
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        assert lines[0].startswith(b"HTTP/1.1 "), f"not a status line: {raw[:200]!r}"
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            assert sep and name == name.strip(), f"not a header line: {line!r}"
            headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
        answer = Answer(status, headers, b"")
        if head or status < 200 or status in (204, 304):
            return answer
        if "chunked" in answer.tokens("transfer-encoding"):
            body = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():  # trailer fields, up to the empty line
                        pass
                    break
                body.append(self._take(size))
                assert self._take(2) == b"\r\n", "a chunk not followed by CRLF"
            answer.body = b"".join(body)
        elif answer.header("content-length") is not None:
            answer.body = self._take(int(answer.header("content-length")))
        else:  # delimited by the end of the connection
            answer.body = self.rest()
        return answer

    def rest(self) -> bytes:
        """Everything until the server closes the connection (fails past ``WAIT`` seconds of silence)."""
        while True:
            try:
                self.fill()
            except EOFError:
                break
            except ConnectionResetError:  # closed with a reset: closed all the same
                break
        data, self.buf = self.buf, b""
        return data


def serves(url: str) -> bool:
    """A normal GET on a new connection is answered (the server still serves after a refusal)."""
    with Wire(url) as wire:
        wire.send(wire.get("/healthz"))
        answer = wire.answer()
    return answer.status == 200 and answer.body == b"ok\n"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """The tour on two web workers; forwarded headers trusted (one proxy hop), so that a forwarded host
    shows in the URLs published."""
    with server_process("--workers", "2", "--proxy-hops", "1", "--query-timeout", "3") as process:
        yield process


@pytest.fixture(scope="module")
def url(server) -> str:
    return server.url


@pytest.fixture(scope="module")
def dump(url, tmp_path_factory) -> bytes:
    """The tour's N-Triples as ``tourkg dump`` writes them (the server sends that file byte for byte),
    the same as a plain download gives them."""
    target = tmp_path_factory.mktemp("dump") / "tour.nt"
    subprocess.run([sys.executable, "-m", "tourkg", "dump", "--format", "nt", "-o", str(target)], cwd=ROOT,
                   check=True, capture_output=True)
    answer = requests.get(url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=WAIT)
    assert answer.status_code == 200 and answer.headers.get("Content-Encoding") is None
    assert answer.content == target.read_bytes()
    return answer.content


# -- 1. keep-alive ----------------------------------------------------------------------------------------
def test_two_requests_on_one_connection_get_two_complete_answers(url):
    page = requests.get(url + PAGE, timeout=WAIT).content
    turtle = requests.get(url + "/data/country/panama.ttl", timeout=WAIT).content
    with Wire(url) as wire:
        wire.send(wire.get(PAGE))
        first = wire.answer()
        assert first.status == 200 and first.body == page
        assert "close" not in first.tokens("connection")
        time.sleep(1.0)  # well within the keep-alive time: the connection still serves
        wire.send(wire.get("/data/country/panama.ttl"))
        second = wire.answer()
        assert second.status == 200 and second.body == turtle
        assert "close" not in second.tokens("connection")


def test_an_http10_request_without_keep_alive_is_answered_and_closed(url):
    with Wire(url) as wire:
        wire.send(wire.get("/healthz", version="1.0"))
        answer = wire.answer()
        assert answer.status == 200 and answer.body == b"ok\n"
        assert "close" in answer.tokens("connection")
        assert wire.rest() == b""  # then the server closes, sending nothing more


def test_an_http10_request_with_keep_alive_keeps_the_connection(url):
    with Wire(url) as wire:
        for path, body in (("/healthz", b"ok\n"), ("/robots.txt", None)):
            wire.send(wire.get(path, version="1.0", headers="Connection: keep-alive\r\n"))
            answer = wire.answer()
            assert answer.status == 200 and "keep-alive" in answer.tokens("connection")
            assert answer.header("content-length") == str(len(answer.body))  # 1.0: framed by its length
            if body is not None:
                assert answer.body == body
        assert b"Disallow: /healthz" in answer.body


# -- 2. pipelining ----------------------------------------------------------------------------------------
def test_pipelined_requests_are_answered_in_order_each_complete(url):
    page = requests.get(url + PAGE, timeout=WAIT).content
    with Wire(url) as wire:
        # the first runs in a thread (a query), the others are prepared answers the loop could send at
        # once: they must wait for it
        wire.send(wire.get("/sparql?" + ASK, headers=f"Accept: {JSON}\r\n") + wire.get("/healthz")
                  + wire.get(PAGE) + wire.get("/robots.txt", headers="Connection: close\r\n"))
        query, health, html, robots = (wire.answer() for _ in range(4))
        assert query.status == 200 and query.header("content-type").startswith(JSON)
        assert b'"boolean":true' in query.body.replace(b" ", b"")
        assert health.status == 200 and health.body == b"ok\n"
        assert html.status == 200 and html.body == page
        assert robots.status == 200 and b"Disallow: /healthz" in robots.body
        assert "close" in robots.tokens("connection")
        assert wire.rest() == b""


# -- 3. a chunked request body ----------------------------------------------------------------------------
def test_a_chunked_post_body_is_read_whole(url):
    body = ASK.encode()
    chunks = [body[:7], body[7:20], body[20:]]
    with Wire(url) as wire:
        wire.send(wire.get("/sparql", method="POST", headers=(
            "Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Accept: {JSON}\r\n")))
        for chunk in chunks:
            wire.send(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        wire.send(b"0\r\n\r\n")
        answer = wire.answer()
        assert answer.status == 200, answer.body
        assert b'"boolean":true' in answer.body.replace(b" ", b"")
        assert serves(url)


# -- 4. Expect: 100-continue ------------------------------------------------------------------------------
def test_expect_100_continue_gets_100_before_the_body_is_sent(url):
    body = ASK.encode()
    with Wire(url) as wire:
        wire.send(wire.get("/sparql", method="POST", headers=(
            f"Expect: 100-continue\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: {JSON}\r\n"
            f"Content-Length: {len(body)}\r\n")))
        interim = wire.answer()  # the client waits for it (up to WAIT seconds) before sending the body
        assert interim.status == 100 and interim.body == b""
        wire.send(body)
        final = wire.answer()
        assert final.status == 200, final.body
        assert b'"boolean":true' in final.body.replace(b" ", b"")


# -- 5. limits and malformed requests ---------------------------------------------------------------------
def refused(url: str, request: bytes) -> tuple[Answer, bytes]:
    """Send ``request`` at once; the answer, and what follows it until the server closes."""
    with Wire(url) as wire:
        try:
            wire.send(request)
        except (BrokenPipeError, ConnectionResetError):  # refused before all of it was read: fine
            pass
        answer = wire.answer()
        return answer, wire.rest()


def test_a_request_head_over_max_head_gets_431_and_the_connection_is_closed(url):
    big = b"a" * (httpd.MAX_HEAD + 8192)  # one header: the head is larger than MAX_HEAD, sent at once
    answer, after = refused(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n")
    assert answer.status == 431, (answer.status, answer.body[:200])
    assert "close" in answer.tokens("connection") and after == b""
    assert serves(url)


def test_a_body_declared_over_max_body_gets_413_and_the_connection_is_closed(url):
    answer, after = refused(url, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                 b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
                                 % (httpd.MAX_BODY + 1))
    assert answer.status == 413, (answer.status, answer.body[:200])
    assert "close" in answer.tokens("connection") and after == b""
    assert serves(url)


def test_garbage_gets_400_and_the_connection_is_closed(url):
    answer, after = refused(url, b"\x00\x01 nonsense\r\n\r\n")
    assert answer.status == 400, (answer.status, answer.body[:200])
    assert "close" in answer.tokens("connection") and after == b""
    assert serves(url)


# -- 6. HEAD ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "encoding"), [("/dump.nt", "identity"), ("/dump.nt", "gzip"),
                                                (PAGE, "identity"), ("/data/country/panama.ttl", "identity")])
def test_head_gives_the_get_length_and_no_body(url, path, encoding):
    got = requests.get(url + path, headers={"Accept-Encoding": encoding}, stream=True, timeout=WAIT)
    length = len(got.raw.read(decode_content=False))
    assert got.status_code == 200
    with Wire(url) as wire:
        wire.send(wire.get(path, method="HEAD", headers=f"Accept-Encoding: {encoding}\r\n"))
        head = wire.answer(head=True)
        assert head.status == 200
        assert head.header("content-length") == str(length)
        assert head.header("content-type") == got.headers["Content-Type"]
        assert head.header("content-encoding") == got.headers.get("Content-Encoding")
        # the next answer on the connection starts right after the head: no stray body bytes came
        wire.send(wire.get("/healthz"))
        after = wire.answer()
        assert after.status == 200 and after.body == b"ok\n"


# -- 7. header names with an underscore -------------------------------------------------------------------
def test_a_header_name_with_an_underscore_does_not_reach_the_app(url):
    void = "/.well-known/void"
    asked = url.removeprefix("http://")
    with Wire(url) as wire:
        # the forwarded host is trusted here (one proxy hop) and shows in the VoID's endpoint URL
        wire.send(wire.get(void, headers="Accept: text/turtle\r\nX-Forwarded-Host: good.example\r\n"))
        honest = wire.answer()
        assert honest.status == 200 and b"http://good.example/sparql" in honest.body
        # the same with an underscore: dropped, as if never sent (nginx's underscores_in_headers off)
        wire.send(wire.get(void, headers="Accept: text/turtle\r\nX_Forwarded_Host: evil.example\r\n"))
        forged = wire.answer()
        assert forged.status == 200
        assert b"evil.example" not in forged.body
        assert f"http://{asked}/sparql".encode() in forged.body


# -- 8. silent and slow clients ---------------------------------------------------------------------------
@pytest.mark.parametrize("first", [None, "/healthz"], ids=["fresh", "after-an-answer"])
def test_a_silent_client_is_disconnected(url, first):
    with Wire(url) as wire:
        if first is not None:
            wire.send(wire.get(first))
            assert wire.answer().status == 200
        wire.sock.settimeout(httpd.KEEP_ALIVE + 5)
        try:
            after = wire.rest()
        except TimeoutError:
            pytest.fail(f"still open {httpd.KEEP_ALIVE + 5:g} s after the last request")
        assert after == b"" or after.startswith(b"HTTP/1.1 408 "), after[:200]


def test_half_a_request_line_gets_408_and_the_connection_is_closed(url):
    with Wire(url) as wire:
        wire.send(b"GET /heal")
        wire.sock.settimeout(httpd.KEEP_ALIVE + 5)
        try:
            after = wire.rest()
        except TimeoutError:
            pytest.fail(f"still open {httpd.KEEP_ALIVE + 5:g} s after half a request")
        assert after.startswith(b"HTTP/1.1 408 "), f"closed with {after[:200]!r} instead of a 408"
    assert serves(url)


# -- 9. large answers, read slowly ------------------------------------------------------------------------
def test_a_dump_read_slowly_arrives_whole(url, dump):
    rcvbuf = 4096
    assert len(dump) > 16 * rcvbuf  # far more than the client's buffer: the server must wait for it
    with Wire(url, rcvbuf=rcvbuf) as wire:
        request = wire.get("/dump.nt", headers="Accept-Encoding: identity\r\n")
        # twice on one connection (one worker): the first is rendered by the app, the second is the
        # prepared answer the loop sends itself
        for _ in range(2):
            wire.send(request)
            for _ in range(64):  # the first 32 KB or so, slowly
                wire.fill(512)
                time.sleep(0.01)
            answer = wire.answer()  # then the rest, as fast as it comes
            assert answer.status == 200
            assert answer.header("content-length") == str(len(dump))
            assert answer.body == dump
        wire.send(wire.get("/healthz"))  # and the connection is still in step
        assert wire.answer().body == b"ok\n"


def test_pipelined_dumps_larger_than_every_buffer_arrive_whole_and_in_order(url, dump):
    """A single dump of the tour fits in the kernel's buffers (a send buffer grows to 4 MB on Linux,
    tcp_wmem); 42 of them pipelined do not: the server must wait for the slow reader, more than once,
    and lose nothing. The requests come in two batches, the second while the server holds more than
    its read-ahead of requests (it must read again once it has answered some)."""
    paths = [("/dump.nt", dump) if i % 8 else ("/healthz", b"ok\n") for i in range(1, 49)]
    assert sum(len(body) for _, body in paths) > 6 << 20
    with Wire(url, rcvbuf=4096) as wire:
        batch = [wire.get(path, headers="Accept-Encoding: identity\r\n") for path, _ in paths]
        wire.send(b"".join(batch[:24]))
        for _ in range(64):
            wire.fill(512)
            time.sleep(0.01)
        wire.send(b"".join(batch[24:]))
        for number, (path, body) in enumerate(paths):
            answer = wire.answer()
            assert answer.status == 200 and answer.body == body, f"answer {number} ({path}) differs"


def test_a_gzipped_dump_arrives_whole_and_decompresses_to_the_n_triples(url, dump):
    with Wire(url, rcvbuf=4096) as wire:
        wire.send(wire.get("/dump.nt", headers="Accept-Encoding: gzip\r\n"))
        for _ in range(8):
            wire.fill(512)
            time.sleep(0.01)
        answer = wire.answer()
        assert answer.status == 200 and answer.header("content-encoding") == "gzip"
        assert gzip.decompress(answer.body) == dump


# -- wire format of every answer --------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/healthz", PAGE, "/dump.nt", "/data/country/panama.ttl", "/sparql?" + ASK])
def test_an_answer_has_a_single_date_header(url, path):
    """RFC 9110 §5.3: a field that is not a list (Date, §6.6.1) is sent once."""
    with Wire(url) as wire:
        wire.send(wire.get(path, headers=f"Accept: {JSON}\r\n" if "sparql" in path else ""))
        answer = wire.answer()
    assert answer.status == 200
    dates = [v for k, v in answer.headers if k == "date"]
    assert len(dates) == 1, f"{len(dates)} Date headers: {dates}"


# -- 10. the supervisor -----------------------------------------------------------------------------------
def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def workers(supervisor: int) -> set[int]:
    """The web workers: the supervisor's children that run its own command line (forks of it; the
    engine process runs ``tourkg.engines.process``)."""
    own = cmdline(supervisor)
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == supervisor and alive(int(entry.name)):
                children.add(int(entry.name))
    return {pid for pid in children if cmdline(pid) == own}


def kill_all(pids: set[int]) -> None:
    """Clean-up after a failure: the given processes of a server this test started."""
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_a_killed_worker_is_replaced_and_requests_are_still_answered():
    with server_process("--workers", "2") as server:
        below = descendants(server.proc.pid)
        try:
            before = workers(server.proc.pid)
            assert len(before) == 2, before
            victim = min(before)
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 30
            now = before
            while time.monotonic() < deadline:
                now = workers(server.proc.pid)
                if len(now) == 2 and victim not in now:
                    break
                time.sleep(0.1)
            assert len(now) == 2 and victim not in now, f"workers {now} after {victim} was killed"
            assert not alive(victim)
            # new connections (spread over both workers by the kernel) are answered, the new one's too
            for _ in range(20):
                assert requests.get(server.url + "/healthz", timeout=WAIT).text == "ok\n"
                assert requests.get(server.url + PAGE, timeout=WAIT).status_code == 200
            assert server.proc.poll() is None
        finally:
            if server.proc.poll() is not None:  # the supervisor died: its workers may be left
                kill_all(below | descendants(server.proc.pid))


def test_sigterm_lets_a_request_in_flight_finish_and_leaves_no_process():
    query_timeout = 4
    with server_process("--workers", "2", "--query-timeout", str(query_timeout)) as server:
        below = descendants(server.proc.pid)
        try:
            assert len(workers(server.proc.pid)) == 2
            body = urlencode({"query": RUNAWAY}).encode()
            with Wire(server.url) as wire:
                wire.sock.settimeout(WAIT + query_timeout)
                wire.send(wire.get("/sparql", method="POST", headers=(
                    f"Content-Type: application/x-www-form-urlencoded\r\nAccept: {JSON}\r\n"
                    f"Content-Length: {len(body)}\r\n")) + body)
                time.sleep(1.5)  # the query runs (it is stopped at the time limit, seconds later)
                os.kill(server.proc.pid, signal.SIGTERM)
                answer = wire.answer()  # complete: framed by its length, read whole
                assert answer.status in (200, 503), (answer.status, answer.body[:300])
                if answer.status == 503:
                    assert b"query_timeout" in answer.body
                assert "close" in answer.tokens("connection")  # the worker is stopping
                assert wire.rest() == b""
            server.proc.wait(30)
            assert server.proc.returncode in (0, -signal.SIGTERM), server.proc.returncode
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(alive(pid) for pid in below):
                time.sleep(0.1)
            assert [pid for pid in below if alive(pid)] == []
            with pytest.raises(requests.ConnectionError):
                requests.get(server.url + "/healthz", timeout=WAIT)
        finally:
            kill_all(below)


# -- 12. backpressure, timers and request rules ---------------------------------------------------------
def test_a_client_that_sends_without_reading_is_no_longer_read(url):
    """Requests sent one after another while no answer is read: once the answers wait in the server's
    buffers it stops reading, so the client's writes block (the worker's memory stays bounded); then,
    read, every answer arrives, in order. A server reading on would take the 64 MB whole (and keep
    about 300 MB of answers)."""
    request = f"GET /healthz HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\n\r\n".encode()
    limit = 64 << 20
    with Wire(url) as wire:
        wire.sock.setblocking(False)
        pending, sent, stalled = b"", 0, None
        while sent < limit:
            if not pending:
                pending = request * 512
            try:
                count = wire.sock.send(pending)
            except BlockingIOError:
                stalled = stalled or time.monotonic()
                if time.monotonic() - stalled > 1.0:
                    break
                time.sleep(0.01)
                continue
            stalled, sent, pending = None, sent + count, pending[count:]
        assert sent < limit, "the server read 64 MB of requests without their answers being read"
        tail = (-sent) % len(request)  # end on a whole request
        wire.sock.settimeout(WAIT)
        answers = (sent + tail) // len(request)
        finisher = threading.Thread(target=wire.sock.sendall, args=(request[len(request) - tail:],))
        finisher.start()
        for _ in range(answers):
            answer = wire.answer()
            assert answer.status == 200 and answer.body == b"ok\n"
        finisher.join(WAIT)
    assert serves(url)


def test_100_continue_is_not_sent_for_a_body_that_is_refused(url):
    with Wire(url) as wire:
        wire.send(f"POST /sparql HTTP/1.1\r\nHost: {wire.host}\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\n"
                  f"Content-Length: {httpd.MAX_BODY + 1}\r\nExpect: 100-continue\r\n\r\n".encode())
        answer = wire.answer()
        assert answer.status == 413  # at once, and no 100 before it: the client sends no body in vain


@pytest.mark.parametrize("hosts", [0, 2])
def test_an_http11_request_without_one_host_header_gets_400(url, hosts):
    """RFC 9112 §3.2: a server responds 400 to an HTTP/1.1 request with no Host header or more than one."""
    lines = "".join(f"Host: h{i}.example\r\n" for i in range(hosts))
    with Wire(url) as wire:
        wire.send(f"GET /healthz HTTP/1.1\r\n{lines}\r\n".encode())
        answer = wire.answer()
        assert answer.status == 400 and b"Host" in answer.body
    assert serves(url)


def test_an_absolute_target_names_the_host(url):
    """RFC 9112 §3.2.2: with an absolute request target, its authority is the request's host (the
    Host header is ignored): VoID then names the endpoint on that host."""
    with Wire(url) as wire:
        wire.send(f"GET http://other.example:8080/.well-known/void HTTP/1.1\r\nHost: {wire.host}\r\n"
                  f"Accept: text/turtle\r\n\r\n".encode())
        answer = wire.answer()
    assert answer.status == 200
    assert b"http://other.example:8080/sparql" in answer.body
    assert wire.host.encode() not in answer.body


def test_an_upgrade_request_is_answered_then_the_connection_closed(url):
    """Upgrade (h2c, WebSocket) is not offered: the request is answered as HTTP/1.1 and the connection
    closed after it, since the parser reads nothing past an upgrade."""
    with Wire(url) as wire:
        wire.send(wire.get("/healthz", headers="Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                                                "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n")
                  + wire.get("/robots.txt"))
        answer = wire.answer()
        assert answer.status == 200 and answer.body == b"ok\n"
        assert "close" in answer.tokens("connection")
        assert wire.rest() == b""


def test_a_body_that_keeps_coming_has_the_time_it_needs(url):
    """The time limit runs between two reads of a body, as nginx's ``client_body_timeout``: a query
    sent in pieces over longer than KEEP_ALIVE, a request after the connection sat idle for most of
    it, are both answered."""
    query = "ASK { ?s ?p ?o } #" + "x" * 12000
    body = urlencode({"query": query}).encode()
    pieces = [body[i:i + 3000] for i in range(0, len(body), 3000)]
    with Wire(url) as wire:
        wire.send(wire.get("/healthz"))
        assert wire.answer().status == 200
        time.sleep(httpd.KEEP_ALIVE * 0.7)  # idle for most of the keep-alive time
        wire.send(f"POST /sparql HTTP/1.1\r\nHost: {wire.host}\r\nAccept: {JSON}\r\n"
                  f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
                  .encode())
        pause = httpd.KEEP_ALIVE * 1.6 / len(pieces)
        for piece in pieces:
            time.sleep(pause)
            wire.send(piece)
        answer = wire.answer()
    assert answer.status == 200 and json.loads(answer.body)["boolean"] is True


# -- 13. requests repeated byte for byte --------------------------------------------------------------------
# A request whose bytes a worker has seen whole in one read is answered from them, without parsing: the
# same bytes must get what parsing them would have given, in order, framed for that request.
def test_a_repeated_request_waits_for_the_one_before_it(url):
    page = requests.get(url + PAGE, timeout=WAIT).content
    body = urlencode({"query": RUNAWAY}).encode()
    with Wire(url) as wire:
        wire.sock.settimeout(WAIT + 3)
        for _ in range(2):  # seen, then answered from its bytes
            wire.send(wire.get(PAGE))
            first = wire.answer()
            assert first.status == 200 and first.body == page
        wire.send(wire.get("/sparql", method="POST", headers=(
            f"Content-Type: application/x-www-form-urlencoded\r\nAccept: {JSON}\r\n"
            f"Content-Length: {len(body)}\r\n")) + body)
        time.sleep(0.5)  # the query runs in a thread (until its 3 s limit); the same page is asked again
        wire.send(wire.get(PAGE))
        query, again = wire.answer(), wire.answer()
        assert query.status == 503 and b"query_timeout" in query.body, (query.status, query.body[:300])
        assert again.status == 200 and again.body == page
        # its own Date, not the one of the answer it repeats
        assert parsedate_to_datetime(again.header("date")) > parsedate_to_datetime(first.header("date"))
        wire.send(wire.get(PAGE) * 2)  # the same request twice in one read: two answers
        assert [wire.answer().body for _ in range(2)] == [page, page]


def test_a_repeated_request_is_framed_for_its_own_protocol(url):
    """The same bytes again get the framing their protocol asks: HTTP/1.0 keep-alive stays open and says
    so; ``Connection: close`` closes, each time."""
    with Wire(url) as wire:
        for _ in range(3):
            wire.send(wire.get("/robots.txt", version="1.0", headers="Connection: keep-alive\r\n"))
            answer = wire.answer()
            assert answer.status == 200 and "keep-alive" in answer.tokens("connection")
            assert answer.header("content-length") == str(len(answer.body))
    for _ in range(3):
        with Wire(url) as wire:
            wire.send(wire.get("/robots.txt", headers="Connection: close\r\n"))
            answer = wire.answer()
            assert answer.status == 200 and "close" in answer.tokens("connection")
            assert wire.rest() == b""


class _Transport:
    """What a connection writes to, kept (a unit test of the worker, without a socket)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def writelines(self, data: list[bytes]) -> None:
        self.written.append(b"".join(data))

    def get_extra_info(self, name: str) -> object:
        return None if name == "socket" else ("127.0.0.1", 40000)

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass


def _worker(calls: list[str] | None = None) -> tuple[httpd.Worker, httpd.Connection, _Transport]:
    """A worker whose app answers its path, replayable, and one connection to it."""
    def app(environ, start_response):
        if calls is not None:
            calls.append(environ["PATH_INFO"])
        body = environ["PATH_INFO"].encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        environ["tourkg.replayable"] = 1
        return [body]

    worker = httpd.Worker(app, host="127.0.0.1", port=80, threads=1, ready=lambda environ: True,
                          epoch=lambda: 1)
    connection = httpd.Connection(worker)
    transport = _Transport()
    connection.connection_made(transport)
    return worker, connection, transport


def test_the_requests_kept_by_their_bytes_are_bounded(monkeypatch):
    """Many different requests, each seen twice: the answers kept and the requests kept by their bytes
    stay within their bounds, and each answer is its own request's."""
    monkeypatch.setattr(httpd, "_REPLAYS", 50)
    monkeypatch.setattr(httpd, "_REPLAY_BYTES", 20_000)
    monkeypatch.setattr(httpd, "_RAW_BYTES", 10_000)
    worker, connection, transport = _worker()
    for number in range(400):
        request = f"GET /{number}/{'x' * 200} HTTP/1.1\r\nHost: a\r\n\r\n".encode()
        for _ in range(2):
            connection.data_received(request)
            assert transport.written[-1].endswith(f"/{number}/{'x' * 200}".encode())
        assert len(worker.raw) <= 50 and len(worker.replays) <= 50
        assert worker.replay_bytes <= 20_000 and worker.raw_bytes <= 10_000
    assert worker.raw  # and some are kept


def test_requests_whose_bytes_never_repeat_do_not_push_the_answers_out(monkeypatch):
    """A browser's requests differ in bytes the answer does not depend on (User-Agent, cookies): each
    is kept by its bytes, never asked again; the answer they share stays, asked of the app once."""
    monkeypatch.setattr(httpd, "_REPLAY_BYTES", 20_000)
    monkeypatch.setattr(httpd, "_RAW_BYTES", 10_000)
    calls: list[str] = []
    worker, connection, transport = _worker(calls)
    for number in range(1000):
        connection.data_received(f"GET /page HTTP/1.1\r\nHost: a\r\nUser-Agent: browser {number}\r\n"
                                 f"Cookie: session={'c' * 300}{number}\r\n\r\n".encode())
        assert transport.written[-1].endswith(b"/page")
        assert worker.raw_bytes <= 10_000
    assert calls == ["/page"]


def test_a_request_after_a_stray_line_end_leaves_no_request_begun():
    """An empty line before a request is allowed (RFC 9112 §2.2); a request then answered from its bytes
    leaves the connection as parsing it would: idle, closed quietly at the end of keep-alive, not
    refused with 408 as a request begun and never finished."""
    worker, connection, transport = _worker()
    request = b"GET /page HTTP/1.1\r\nHost: a\r\n\r\n"
    for _ in range(2):
        connection.data_received(request)
    connection.data_received(b"\r\n")
    connection.data_received(request)  # answered from its bytes
    assert len(transport.written) == 3 and transport.written[-1].endswith(b"/page")
    connection.timed_out()
    assert transport.closed and not any(b" 408 " in data for data in transport.written)


def test_a_revalidation_is_replayed_like_any_prepared_answer():
    """A 304 to a revalidation (the ETag echoed back) is a prepared answer like the 200 it stands for:
    asked of the app once, then answered from the request's bytes, each time logged."""
    from tourkg.web.accesslog import AccessLog
    from tourkg.web.fastpath import CACHEABLE, REPLAYABLE, FastPath

    def inner(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5"), ("ETag", '"v1"'),
                                  (CACHEABLE, "1")])
        return [b"hello"]

    fast, calls = FastPath(inner), []

    def app(environ, start_response):
        calls.append(environ.get("HTTP_IF_NONE_MATCH"))
        body = fast(environ, start_response)
        if environ.get(REPLAYABLE):
            environ[REPLAYABLE] = 1  # the data generation, as the server's Switch says
        return body

    with open(os.devnull, "wb") as null:
        log = AccessLog(app, null.fileno(), flush=None)
        # every request answered in the loop's thread (this test runs no loop): the first fills
        worker = httpd.Worker(log, host="127.0.0.1", port=80, threads=1,
                              ready=lambda environ: fast.ready(environ) or True, epoch=lambda: 1,
                              replay_log=log)
        connection = httpd.Connection(worker)
        transport = _Transport()
        connection.connection_made(transport)
        connection.data_received(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
        assert transport.written[-1].endswith(b"hello")
        for _ in range(3):
            connection.data_received(b'GET /a HTTP/1.1\r\nHost: a\r\nIf-None-Match: "v1"\r\n\r\n')
            assert transport.written[-1].startswith(b"HTTP/1.1 304 ")
            assert transport.written[-1].endswith(b"\r\n\r\n")  # and no body
    assert calls == [None, '"v1"']


class _WaitingApp:
    """An app that answers ``/wait/…`` from the loop (``asynchronous``), after ``delay`` seconds, with
    ``result`` (an answer, ``None`` to hand it to a thread, or an exception), and anything else, or a
    request handed over, in a thread."""

    def __init__(self, result: object, delay: float = 0.0) -> None:
        self.result, self.delay = result, delay
        self.threaded: list[str] = []
        self.looped: list[str] = []

    def __call__(self, environ, start_response):
        self.threaded.append(environ["PATH_INFO"])
        body = b"thread " + environ["PATH_INFO"].encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def asynchronous(self, environ):
        if not environ["PATH_INFO"].startswith("/wait/"):
            return None
        return self._answer(environ)

    async def _answer(self, environ):
        import asyncio

        self.looped.append(environ["PATH_INFO"])
        await asyncio.sleep(self.delay)
        if isinstance(self.result, Exception):
            raise self.result
        if self.result is None:
            return None
        body = b"loop " + environ["PATH_INFO"].encode()
        return "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))], [body]


def _answers(app: _WaitingApp, data: bytes, count: int) -> tuple[list[bytes], bool]:
    """The bodies written for ``count`` answers to ``data`` on one connection of a worker of ``app``,
    run on an event loop; and whether the worker's threads ran anything."""
    import asyncio

    loop = asyncio.new_event_loop()
    worker = httpd.Worker(app, host="127.0.0.1", port=80, threads=2)
    worker.loop = loop
    connection = httpd.Connection(worker)
    transport = _Transport()
    connection.connection_made(transport)
    try:
        connection.data_received(data)
        deadline = time.monotonic() + 10
        while sum(b"HTTP/1.1 " in part for part in transport.written) < count and time.monotonic() < deadline:
            loop.run_until_complete(asyncio.sleep(0.01))
    finally:
        worker.pool.shutdown()
        loop.close()
    written = b"".join(transport.written)
    return [part.split(b"\r\n\r\n", 1)[1] for part in written.split(b"HTTP/1.1 ")[1:]], bool(app.threaded)


def test_an_app_answers_a_request_from_the_loop_without_a_thread():
    app = _WaitingApp("answer")
    bodies, threaded = _answers(app, b"GET /wait/a HTTP/1.1\r\nHost: h\r\n\r\n", 1)
    assert bodies == [b"loop /wait/a"] and not threaded and app.looped == ["/wait/a"]


@pytest.mark.parametrize("result", [None, RuntimeError("the app's own failure")])
def test_a_request_the_loop_gives_up_is_answered_by_a_thread(result):
    """``None`` from the awaitable (the app's choice), or an exception (its failure, logged): a thread
    answers in full, once."""
    app = _WaitingApp(result)
    bodies, threaded = _answers(app, b"GET /wait/a HTTP/1.1\r\nHost: h\r\n\r\n", 1)
    assert bodies == [b"thread /wait/a"] and app.threaded == ["/wait/a"] and app.looped == ["/wait/a"]


def test_pipelined_requests_answered_from_the_loop_and_threads_keep_their_order():
    app = _WaitingApp("answer", delay=0.05)
    data = b"".join(f"GET /{path} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
                    for path in ("wait/1", "other", "wait/2", "wait/3", "other2"))
    bodies, _ = _answers(app, data, 5)
    assert bodies == [b"loop /wait/1", b"thread /other", b"loop /wait/2", b"loop /wait/3", b"thread /other2"]
