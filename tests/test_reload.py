"""New data without downtime (issue 8): SIGHUP and ``--watch`` prepare the files aside and swap them in
at once; files that do not parse or do not conform are refused and nothing a client sees changes.
Real servers on loopback, on copies of the tour's files."""

import contextlib
import hashlib
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from tests.conftest import ROOT, server_process

#: Test data, in temporary copies only: a place that conforms to the tour's shapes.
NEW = '<place/testland> a schema:Place ; schema:name "Testland"@en ; rdfs:label "Testland"@en .\n'
NEW_IRI = "https://w3id.org/tourkg/id/place/testland"
NAMELESS = "<person/nobody> a schema:Person .\n"
BROKEN = '<country/broken> a schema:Country ; schema:name "unterminated\n'
#: What a client sees, compared before and after a refused reload.
WATCHED = ["/", "/page/country/panama", "/data/country/panama.ttl", "/.well-known/void", "/dump.nt",
           "/sitemap.xml"]


def files(tmp: Path) -> tuple[Path, list[str]]:
    for name in ("tour.ttl", "reference.trig"):
        shutil.copy(ROOT / "data" / name, tmp / name)
    args = ["--data", str(tmp / "tour.ttl"), "--data", str(tmp / "reference.trig"), "--shapes",
            str(ROOT / "shapes" / "tourkg.shapes.ttl"), "--cache-dir", str(tmp / "cache")]
    return tmp / "tour.ttl", args


def generation(url: str) -> str:
    return requests.get(url + "/readyz", timeout=10).text


def wait_for(predicate, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("not reached in time")


def snapshot(url: str) -> dict[str, tuple[int, str | None, bytes]]:
    answers = {}
    for path in WATCHED:
        response = requests.get(url + path, timeout=30, headers={"Accept-Encoding": "identity"})
        answers[path] = (response.status_code, response.headers.get("ETag"), response.content)
    return answers


@pytest.fixture(params=["memory", "oxigraph"])
def server(request, tmp_path):
    """A server on copies of the tour's files, in memory or on disk (``--store oxigraph:DIR``: the new
    store is built beside the one being served)."""
    data, args = files(tmp_path)
    if request.param == "oxigraph":
        args += ["--store", f"oxigraph:{tmp_path / 'store'}"]
    with server_process(*args) as running:
        running.data = data
        running.store = tmp_path / "store"
        yield running


def reload(server, marker: str) -> None:
    """SIGHUP, then wait until the log says the reload is over."""
    before = server.log().count(marker)
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: server.log().count(marker) > before)


def test_sighup_publishes_the_new_data(server):
    url = server.url
    assert requests.get(url + "/id/place/testland", allow_redirects=False).status_code == 404
    # asked again and again, so that each worker answers it from the request's bytes (web/httpd.py)
    dump_etags = {requests.get(url + "/dump.nt").headers["ETag"] for _ in range(8)}
    assert len(dump_etags) == 1
    void = requests.get(url + "/.well-known/void", headers={"Accept": "text/turtle"})
    with server.data.open("a") as out:
        out.write(NEW)
    reload(server, "now serving data generation")
    # Said once every worker serves it: new connections, spread over the workers, all meet it.
    assert all("generation 1" in generation(url) for _ in range(20))
    response = requests.get(url + "/id/place/testland", allow_redirects=False,
                            headers={"Accept": "text/html"})
    assert response.status_code == 303
    page = requests.get(url + "/page/place/testland")
    assert page.status_code == 200 and "Testland" in page.text
    assert "Testland" in requests.get(url + "/data/place/testland.ttl").text
    ask = requests.get(url + "/sparql", params={"query": f"ASK {{ <{NEW_IRI}> ?p ?o }}"},
                       headers={"Accept": "application/sparql-results+json"})
    assert ask.json()["boolean"] is True
    # validators change with the data, so caches revalidate
    assert not dump_etags & {requests.get(url + "/dump.nt").headers["ETag"] for _ in range(8)}
    conditional = requests.get(url + "/.well-known/void", headers={"Accept": "text/turtle",
                                                                   "If-None-Match": void.headers["ETag"]})
    assert conditional.status_code == 200 and conditional.content != void.content
    if server.store.exists():  # on disk: the old store goes once it is no longer served
        assert len([p for p in server.store.iterdir() if p.is_dir()]) <= 2


def test_the_dumps_link_follows_a_reload_and_stays_on_refused_data(tmp_path):
    """``--dumps-link``: the link is moved to the new data's dumps in the same reload that swaps the data
    in (a web server in front then sends the new dumps), and stays where it was when a reload is refused."""
    data, args = files(tmp_path)
    link = tmp_path / "public" / "dumps"
    with server_process(*args, "--dumps-link", str(link)) as running:
        first = link.resolve()
        served = requests.get(running.url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=30)
        assert link.is_symlink() and (first / "dump.nt").read_bytes() == served.content  # rendered by now
        with data.open("a") as out:
            out.write(NEW)
        reload(running, "now serving data generation")
        second = link.resolve()
        assert second != first and link.is_symlink()
        served = requests.get(running.url + "/dump.nt", headers={"Accept-Encoding": "identity"}, timeout=30)
        assert NEW_IRI in served.text and (second / "dump.nt").read_bytes() == served.content
        with data.open("a") as out:
            out.write(BROKEN)
        reload(running, "reload refused")
        assert link.resolve() == second
    assert not list(link.parent.glob(".dumps.*"))  # no link left half made


def test_a_reload_whose_dumps_link_cannot_move_is_refused(tmp_path):
    """The link is moved before the new data is published: when it cannot be (here the operator put a
    folder in its place), the reload is refused, the old data stays, and the new engine is stopped."""
    from tests.test_lifecycle import alive, descendants

    data, args = files(tmp_path)
    link = tmp_path / "dumps"
    with server_process(*args, "--dumps-link", str(link)) as running:
        before = descendants(running.proc.pid)
        link.unlink()
        link.mkdir()
        with data.open("a") as out:
            out.write(NEW)
        reload(running, "reload refused")
        assert "cannot make the symbolic link" in running.log() and "generation 0" in generation(running.url)
        assert requests.get(running.url + "/id/place/testland", allow_redirects=False).status_code == 404
        wait_for(lambda: not {p for p in descendants(running.proc.pid) - before if alive(p)})


@pytest.mark.parametrize(("addition", "reason"), [(BROKEN, "syntax error"), (NAMELESS, "does not conform")])
def test_refused_data_changes_nothing_a_client_sees(server, addition, reason):
    url = server.url
    before = snapshot(url)
    with server.data.open("a") as out:
        out.write(addition)
    reload(server, "reload refused")
    log = server.log()
    assert reason in log and "still serving the data loaded before" in log
    if addition is BROKEN:
        assert "tour.ttl:" in log  # file and line named
    else:
        assert "name" in log  # the shape's message
    assert "generation 0" in generation(url)
    assert snapshot(url) == before
    assert requests.get(url + "/id/person/nobody", allow_redirects=False).status_code == 404


def test_unchanged_files_are_not_prepared_again(server):
    reload(server, "unchanged")
    assert "generation 0" in generation(server.url)


def test_no_request_fails_or_sees_a_mix_during_reloads(server):
    """Requests in flight during two reloads: every answer is 200, and each is one whole version: its
    strong ETag is the hash of the very bytes that came with it (headers and body from one dataset)."""
    url = server.url
    failures = []
    checked = []
    stop = threading.Event()

    def hammer():
        session = requests.Session()
        while not stop.is_set():
            for path, accept in (("/page/country/panama", "text/html"), ("/data/country/panama.ttl", "*/*"),
                                 ("/dump.nt", "*/*"), ("/.well-known/void", "application/n-triples"),
                                 ("/", "text/html")):
                response = session.get(url + path, headers={"Accept": accept, "Accept-Encoding": "identity"},
                                       timeout=30)
                etag = response.headers.get("ETag", "").strip('"')
                if response.status_code != 200 or etag != hashlib.sha256(response.content).hexdigest()[:40]:
                    failures.append((path, response.status_code, etag))
                checked.append(path)
            query = session.get(url + "/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"},
                                headers={"Accept": "application/sparql-results+json"}, timeout=30)
            if query.status_code != 200:
                failures.append(("query", query.status_code))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    with server.data.open("a") as out:
        out.write(NEW)
    reload(server, "now serving data generation 1")
    time.sleep(0.5)
    with server.data.open("a") as out:
        out.write('<place/otherland> a schema:Place ; schema:name "Otherland"@en .\n')
    reload(server, "now serving data generation 2")
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == [] and len(checked) > 50
    assert "generation 2" in generation(url)


def test_watch_reloads_when_a_file_changes(tmp_path):
    data, args = files(tmp_path)
    with server_process(*args, "--watch") as running:
        with data.open("a") as out:
            out.write(NEW)
        wait_for(lambda: requests.get(running.url + "/page/place/testland").status_code == 200)
        assert "a data file changed" in running.log()


def test_the_supervisor_waits_until_every_worker_serves_the_new_generation(tour_app, tour_publisher):
    """A reload is announced once each web worker has said (in its ``ack-PID`` file) that it serves the
    new generation: a worker still building it would otherwise answer with the old data after another
    had answered with the new."""
    import os

    from tourkg.web.generations import Switch

    switch = Switch(tour_app, tour_publisher)
    read, write = os.pipe()
    worker = os.fork()
    if worker == 0:  # a stand-in web worker: serves generation 0, then 1 when told
        os.close(write)
        switch._ack()
        os.read(read, 1)
        switch.current.number = 1
        switch._ack()
        os.read(read, 1)
        os._exit(0)
    try:
        os.close(read)
        wait_for(lambda: (switch.folder / f"ack-{worker}").exists(), 5)
        assert switch.wait_workers(1, timeout=0.3) == [worker]
        os.write(write, b"x")
        assert switch.wait_workers(1, timeout=5) == []
        os.write(write, b"x")
        os.waitpid(worker, 0)
        assert switch.wait_workers(2, timeout=0) == []  # a gone worker is not waited for
        assert not (switch.folder / f"ack-{worker}").exists()
    finally:
        os.close(write)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(worker, 0)
        switch.close()
