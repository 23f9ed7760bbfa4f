"""The elastic query worker pool (``pool.WorkerPool``): grows past the warm workers when none is free, up
to its cap, and stops idle extras."""

import time

import pytest

from tourkg import pool as pool_module
from tourkg.errors import Overloaded
from tourkg.pool import WorkerPool

ASK = {"query": "ASK {}", "default_graphs": None, "named_graphs": None, "results_format": "JSON",
       "boolean_format": "JSON", "graph_format": None, "max_rows": 10, "prefixes": {}}


@pytest.fixture()
def pool():
    """One warm worker on an empty dataset, at most two."""
    workers = WorkerPool(b"", 1, 2)
    yield workers
    workers.close()


def hold(workers):
    """Take a worker out as a long query would."""
    return workers._checkout(time.monotonic() + 10)


def test_pool_starts_an_extra_worker_when_none_is_free(pool):
    held = hold(pool)
    assert pool.run(ASK, 10)[0] == "ok" and pool.size == 2
    pool._checkin(held)


def test_pool_never_grows_past_its_cap(pool):
    held = [hold(pool), hold(pool)]
    with pytest.raises(Overloaded):
        pool.run(ASK, 0.5)
    assert pool.size == 2
    for worker in held:
        pool._checkin(worker)


def test_idle_extra_workers_are_stopped(pool, monkeypatch):
    held = hold(pool)
    pool.run(ASK, 10)
    pool._checkin(held)
    monkeypatch.setattr(pool_module, "RETIRE_AFTER", 0.0)
    assert pool.run(ASK, 10)[0] == "ok" and pool.size == 1


ORPHAN_SCRIPT = """
import pyoxigraph as ox
from tourkg.pool import WorkerPool
store = ox.Store()
for i in range(300):
    store.add(ox.Quad(ox.NamedNode(f"http://e/{i}"), ox.NamedNode("http://e/p"), ox.Literal(str(i))))
pool = WorkerPool(store.dump(format=ox.RdfFormat.N_QUADS), 1)
print(pool._idle[0][0].process.pid, flush=True)
runaway = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"
pool.run({**ASK, "query": runaway}, 120)
"""


def test_a_worker_running_a_query_dies_with_its_web_worker():
    import os
    import signal
    import subprocess
    import sys

    script = f"ASK = {ASK!r}\n" + ORPHAN_SCRIPT
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    time.sleep(1)  # the runaway query is under way
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(worker_pid, signal.SIGKILL)
        pytest.fail("the query worker outlived its parent by 10 s")
    parent.stdout.close()


def test_a_worker_failure_mid_query_never_loses_the_worker(pool, monkeypatch):
    worker = pool._idle[0][0]

    def broken(_request):
        raise ValueError("boom")

    monkeypatch.setattr(worker, "send", broken)
    with pytest.raises(ValueError):
        pool.run(ASK, 5)
    assert pool.run(ASK, 5)[0] == "ok"  # a replacement answers; nothing waits for a lost worker
