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
