"""The engines behind the store: a remote SPARQL endpoint (a real Oxigraph server) answers as the local
engine does whatever its union setting, fails with 502/504 and a message, and is found again by itself;
the on-disk engine refuses a folder that is not its own; a data error found by the engine stops the start
with file, line and column."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import DATA, ROOT, free_port, oxigraph_server, running_server, server_process

JSON = {"Accept": "application/sparql-results+json"}
QUERIES = (
    "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
    "PREFIX tko: <https://w3id.org/tourkg/ontology#> "
    "SELECT ?v ?n { ?v tko:itineraryPosition ?n } ORDER BY ?n ?v",
    "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    "ASK { GRAPH <https://w3id.org/tourkg/id/graph/tour> { ?s ?p ?o } }",
)


def answers(url: str) -> list:
    found = []
    for query in QUERIES:
        response = requests.post(url + "/sparql", data={"query": query}, headers=JSON, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        found.append(body.get("boolean", body.get("results", {}).get("bindings")))
    return found


def test_remote_answers_do_not_depend_on_the_engines_union_setting(tour_nquads):
    """Loaded plainly (named graphs only), with and without Oxigraph's --union-default-graph."""
    with oxigraph_server(tour_nquads) as plain, oxigraph_server(tour_nquads, union=True) as union:
        with running_server("--store", f"sparql:{plain}") as a, \
                running_server("--store", f"sparql:{union}") as b:
            assert answers(a) == answers(b)
            assert requests.get(a + "/page/country/panama", timeout=30).text == \
                requests.get(b + "/page/country/panama", timeout=30).text


def test_remote_loaded_as_the_readme_says_answers_as_the_local_engine(tour_servers):
    """With ``tourkg dump --merged-default-graph`` loaded, even a triple stated in several graphs is
    counted once, as the local engine counts it."""
    assert answers(tour_servers.url("sparql")) == answers(tour_servers.url("memory"))


class _Broken(BaseHTTPRequestHandler):
    """A "SPARQL endpoint" answering 200 with something that is not SPARQL, or never answering."""

    silent = False

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        if self.silent:
            time.sleep(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>maintenance</html>")

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def broken_endpoint(silent: bool) -> str:
    handler = type("Handler", (_Broken,), {"silent": silent})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/query"
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_engine_is_502_with_a_message_and_the_server_comes_back(tour_nquads):
    port = free_port()
    with running_server("--store", f"sparql:http://127.0.0.1:{port}/query", "--query-timeout", "2") as url:
        for path in ("/page/country/panama", "/sparql?query=ASK%7B%7D&format=json", "/.well-known/void"):
            response = requests.get(url + path, timeout=30)
            assert response.status_code == 502, (path, response.status_code)
            assert "cannot be reached" in response.text and "Traceback" not in response.text
        with oxigraph_server(tour_nquads, port=port):
            deadline = time.monotonic() + 20
            while requests.get(url + "/page/country/panama", timeout=30).status_code != 200:
                assert time.monotonic() < deadline, "the server did not come back with its engine"
                time.sleep(0.5)


def test_engine_answering_garbage_is_502_never_passed_on():
    with broken_endpoint(silent=False) as endpoint, \
            running_server("--store", f"sparql:{endpoint}", "--query-timeout", "2") as url:
        response = requests.get(url + "/sparql", params={"query": "SELECT * { ?s ?p ?o }"}, headers=JSON,
                                timeout=30)
        assert response.status_code == 502 and "maintenance" not in response.text
        assert requests.get(url + "/page/country/panama", timeout=30).status_code == 502


def test_engine_that_never_answers_is_cut_at_the_time_limit():
    with broken_endpoint(silent=True) as endpoint, \
            running_server("--store", f"sparql:{endpoint}", "--query-timeout", "1") as url:
        started = time.monotonic()
        query = requests.get(url + "/sparql", params={"query": "ASK {}"}, headers=JSON, timeout=30)
        page = requests.get(url + "/page/country/panama", timeout=30)
        assert query.status_code == 503 and "query_timeout" in query.text
        assert page.status_code == 504 and "did not answer" in page.text
        assert time.monotonic() - started < 10


def test_on_disk_engine_refuses_a_folder_that_is_not_its_own(tmp_path):
    (tmp_path / "precious.txt").write_text("someone else's")
    result = subprocess.run([sys.executable, "-m", "tourkg", "serve", "--port", str(free_port()), "--store",
                             f"oxigraph:{tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "not empty" in result.stderr
    assert (tmp_path / "precious.txt").exists()


def test_on_disk_engine_opens_its_store_at_once_on_the_next_start(tmp_path):
    store = tmp_path / "store"
    logs = []
    for _ in range(2):
        with server_process("--store", f"oxigraph:{store}") as server:
            assert requests.get(server.url + "/page/country/panama", timeout=30).status_code == 200
            logs.append(server.log())
    assert "loaded" in logs[0] and "loaded" not in logs[1]  # opened, not loaded again
    assert (store / "tourkg-stores.json").exists()
    folders = [p for p in store.iterdir() if p.is_dir()]
    assert len(folders) == 1 and (folders[0] / "tourkg-dataset.json").exists()


def test_syntax_error_found_by_the_engine_names_file_line_and_column(tmp_path):
    broken = tmp_path / "broken.nt"
    broken.write_text('<http://example.org/a> <http://example.org/p> "ok" .\n'
                      '<http://example.org/b> <oops .\n')
    result = subprocess.run([sys.executable, "-m", "tourkg", "serve", "--port", str(free_port()), "--data",
                             str(broken), "--no-validate"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert f"{broken}:2" in result.stderr and "Traceback" not in result.stderr


def test_unknown_store_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "tourkg", "serve", "--port", str(free_port()), "--store",
                             "mongodb://x"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "oxigraph:DIR or sparql:URL" in result.stderr


def test_remote_dump_is_streamed_from_the_engine(tour_servers):
    response = requests.get(tour_servers.url("sparql") + "/dump.nt", timeout=60)
    assert response.status_code == 200 and b"<https://w3id.org/tourkg/id/country/panama>" in response.content


@pytest.mark.parametrize("generic", [DATA / "generic.ttl"])
def test_remote_store_infers_the_namespace_when_none_is_given(generic, tmp_path):
    import pyoxigraph as ox

    nquads = tmp_path / "generic.nq"
    store = ox.Store()
    store.bulk_load(path=str(generic), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode("http://example.org/g"))
    store.dump(str(nquads), ox.RdfFormat.N_QUADS)
    with oxigraph_server(nquads) as endpoint, \
            running_server("--store", f"sparql:{endpoint}", "--data", str(generic)) as url:
        response = requests.get(url + "/id/person/ada", allow_redirects=False, timeout=30)
        assert response.status_code == 303


@pytest.fixture(scope="module")
def two_graphs(tmp_path_factory):
    """A dataset of two files (two graphs) with no triple in both: the union needs no stored merge."""
    folder = tmp_path_factory.mktemp("two-graphs")
    (folder / "first.ttl").write_text("".join(f"<http://example.org/id/a/{n}> <http://example.org/p> {n} .\n"
                                              for n in range(30)))
    (folder / "second.ttl").write_text("".join(f"<http://example.org/id/b/{n}> <http://example.org/p> {n} .\n"
                                               for n in range(12)))
    return folder


def count(url: str, query: str) -> int:
    response = requests.post(url + "/sparql", data={"query": query}, headers=JSON, timeout=30)
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("engine", ["memory", "oxigraph", "sparql"])
def test_from_selects_its_graph_on_every_engine(two_graphs, engine, tmp_path):
    graph = "http://example.org/id/graph/second"
    args = ["--data", str(two_graphs / "first.ttl"), "--data", str(two_graphs / "second.ttl")]
    with contextlib.ExitStack() as stack:
        if engine == "oxigraph":
            args += ["--store", f"oxigraph:{tmp_path / 'store'}"]
        elif engine == "sparql":
            nquads = tmp_path / "two.nq"
            command = [sys.executable, "-m", "tourkg", "dump", "--format", "nq", "-o", str(nquads), *args]
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            endpoint = stack.enter_context(oxigraph_server(nquads))
            args += ["--store", f"sparql:{endpoint}"]
        url = stack.enter_context(running_server(*args))
        assert count(url, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }") == 42
        assert count(url, f"SELECT (COUNT(*) AS ?n) FROM <{graph}> {{ ?s ?p ?o }}") == 12
        assert count(url, f"SELECT (COUNT(*) AS ?n) FROM NAMED <{graph}> {{ GRAPH ?g {{ ?s ?p ?o }} }}") == 12


@pytest.mark.parametrize("engine", ["memory", "oxigraph"])
def test_a_single_graph_dataset_is_both_the_default_graph_and_a_named_graph(two_graphs, engine, tmp_path):
    """One input file, one graph: its triples are the default graph and the named graph, and a dataset
    the request names (FROM, default-graph-uri) replaces the default graph, unknown graphs being empty."""
    graph = "http://example.org/id/graph/first"
    args = ["--data", str(two_graphs / "first.ttl")]
    if engine == "oxigraph":
        args += ["--store", f"oxigraph:{tmp_path / 'store'}"]
    with running_server(*args) as url:
        assert count(url, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }") == 30
        assert count(url, "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }") == 30
        assert count(url, f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}") == 30
        assert count(url, "SELECT (COUNT(*) AS ?n) FROM <http://example.org/elsewhere> { ?s ?p ?o }") == 0
        response = requests.post(url + "/sparql", data={
            "query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", "default-graph-uri": "http://example.org/none"},
            headers=JSON, timeout=30)
        assert int(response.json()["results"]["bindings"][0]["n"]["value"]) == 0


def test_an_engine_started_before_its_plan_is_used_and_an_unused_one_leaves(tmp_path):
    """``tourkg serve`` on large data starts the engine before it imports rdflib (engines.spawn): the
    dataset opens in that very process; when preparing fails, or no engine is needed, it leaves."""
    from tourkg.config import build_settings
    from tourkg.dataset import PendingDataset
    from tourkg.engines.spawn import discard, early_engine, spawn
    from tourkg.errors import StartupError

    unused = spawn()
    discard(unused)
    assert unused.returncode == 0

    spare = spawn()
    dataset = PendingDataset(build_settings({"cache_dir": str(tmp_path)}), spare=spare).finish()
    try:
        assert dataset.engine._process is spare
        assert dataset.store.stats().triples > 1000
    finally:
        dataset.close()

    spare = spawn()
    with pytest.raises(StartupError):
        PendingDataset(build_settings({"data": [str(tmp_path / "missing.ttl")], "cache_dir": str(tmp_path)}),
                       spare=spare)
    assert spare.poll() is not None

    tour = build_settings({})
    assert early_engine(tour) is None  # small data: started when its plan is known
    assert early_engine(tour.replace(store="sparql:http://127.0.0.1:9/sparql")) is None


def _engine_libraries(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as maps:
        return maps.read()


def test_the_engine_runs_with_the_allocator_asked_for_and_only_the_engine(tmp_path):
    """``engine_allocator``: auto preloads the system's mimalloc into the engine process (queries about a
    fifth faster, measured) and into no other process; system keeps the C library's; a path that is not
    a file stops the start with a message (exit code 2)."""
    from tourkg.config import build_settings
    from tourkg.dataset import PendingDataset
    from tourkg.engines.allocator import find_mimalloc

    found = find_mimalloc()
    if os.environ.get("TOURKG_REQUIRE_MIMALLOC"):  # CI installs it: the preloading itself is tested
        assert found is not None, "Debian's libmimalloc2.0 is not installed"
    for choice in ("auto", "system"):
        settings = build_settings({"cache_dir": str(tmp_path), "engine_allocator": choice})
        dataset = PendingDataset(settings).finish()
        try:
            engine = _engine_libraries(dataset.engine._process.pid)
            assert ("libmimalloc" in engine) == (choice == "auto" and found is not None), choice
            assert "libmimalloc" not in _engine_libraries(os.getpid())  # not this (supervising) process
        finally:
            dataset.close()
    result = subprocess.run([sys.executable, "-m", "tourkg", "serve", "--port", str(free_port()),
                             "--engine-allocator", str(tmp_path / "no-such-library.so")], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "is not a file" in result.stderr and "--engine-allocator" in result.stderr


def test_allocator_choices_make_the_engine_environment(tmp_path):
    from tourkg.engines.allocator import engine_environment, find_mimalloc, in_use

    assert engine_environment("system") is None
    library = tmp_path / "libexample.so"
    library.write_bytes(b"")
    env = engine_environment(str(library), {"LD_PRELOAD": "/opt/other.so", "PATH": "/bin"})
    assert env == {"LD_PRELOAD": f"{library} /opt/other.so", "PATH": "/bin"}  # the caller's own kept
    assert engine_environment(str(library), {"LD_PRELOAD": str(library)})["LD_PRELOAD"] == str(library)
    both = engine_environment(str(library), {"LD_PRELOAD": f"/opt/a.so:{library}"})
    assert both == {"LD_PRELOAD": f"/opt/a.so:{library}"}  # already there, in the colon-separated form
    auto = engine_environment("auto", {})
    assert (auto is None) == (find_mimalloc() is None)
    assert engine_environment("auto", {"LD_PRELOAD": "/opt/jemalloc.so"}) is None  # the operator's, alone
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0\n")
    assert in_use(maps) == "mimalloc" and in_use(tmp_path / "none") == "system"


def test_an_engine_restarted_after_its_allocator_vanished_runs_on_the_system_one(tmp_path):
    """The library named by ``engine_allocator`` is checked at start (exit code 2); if it disappears
    later, an engine restarted after a crash runs with the C library's allocator rather than not at all."""
    import glob
    import shutil
    import signal

    from tourkg.config import build_settings
    from tourkg.dataset import PendingDataset

    libm = sorted(glob.glob("/lib/*/libm.so.6") + glob.glob("/usr/lib/*/libm.so.6"))[0]
    library = tmp_path / "libpreloaded.so"
    shutil.copy(libm, library)  # any library can be preloaded; this one is harmless
    settings = build_settings({"cache_dir": str(tmp_path / "cache"), "engine_allocator": str(library)})
    dataset = PendingDataset(settings).finish()
    try:
        first = dataset.engine._process
        assert "libpreloaded.so" in _engine_libraries(first.pid)
        library.unlink()
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and dataset.engine._process is first:
            time.sleep(0.05)
        assert dataset.store.stats().triples > 1000  # serving again
        assert "libpreloaded.so" not in _engine_libraries(dataset.engine._process.pid)
    finally:
        dataset.close()


def test_a_process_forked_while_the_store_is_in_use_gets_a_store_of_its_own(tmp_path):
    """the supervisor forks (and respawns) web workers while the supervisor's threads may be using the engine
    store (a reload, the start-up's word to the engine): a child forked while the store's lock is held
    must not inherit it held, nor the parent's pooled connections."""
    from tourkg.config import build_settings
    from tourkg.dataset import open_dataset

    dataset = open_dataset(build_settings({"data": [str(DATA / "generic.ttl")], "cache_dir": str(tmp_path)}))
    try:
        store = dataset.store
        store.status()  # one pooled connection in the parent
        with store._lock:  # as if another thread of the parent were checking a connection out
            pid = os.fork()
            if pid == 0:  # the child: the store must work at once
                code = 1
                try:
                    code = 0 if store.status(wait=5.0)["pid"] else 1
                finally:
                    os._exit(code)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child waited for ever on the store's lock")
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.status()["pid"]  # the parent's store still works
    finally:
        dataset.close()
