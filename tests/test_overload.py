"""Overload is refused quickly and cheap requests are unaffected (issue 8): SPARQL queries wait in a
bounded queue for a query slot, past it 503 with Retry-After at once; a client over its own limit gets
429; pages, data and health never wait behind queries. Real servers on loopback."""

import contextlib
import os
import threading
import time

import pytest
import requests
from tests.conftest import running_server
from tests.test_sparql_limits import RUNAWAY

from tourkg.engines.admission import Admission, Refused

JSON = {"Accept": "application/sparql-results+json"}
TIMEOUT = 4.0
PAGE = "/page/country/panama"


def post(url, query, headers=None, results=None):
    answer = requests.post(url + "/sparql", data={"query": query}, headers={**JSON, **(headers or {})},
                           timeout=60)
    if results is not None:
        results.append(answer)
    return answer


def start_runaways(url, count, headers=None):
    results = []
    threads = [threading.Thread(target=post, args=(url, RUNAWAY, headers, results)) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


@pytest.fixture(scope="module")
def small_queue_url():
    with running_server("--query-timeout", str(TIMEOUT), "--query-slots", "2", "--query-queue", "2",
                        "--query-queue-wait", "1.5") as url:
        yield url


@pytest.fixture(scope="module")
def full_queue_url():
    """Queued queries wait long here, so the queue stays full for the whole test, however loaded the
    machine (a short wait would let the waiting runaways leave it before the query below arrives)."""
    with running_server("--query-timeout", str(TIMEOUT), "--query-slots", "2", "--query-queue", "2",
                        "--query-queue-wait", "8") as url:
        yield url


def test_past_the_queue_a_query_is_refused_at_once_with_retry_after(full_queue_url):
    small_queue_url = full_queue_url
    threads, answers = start_runaways(small_queue_url, 4)  # two run, two wait
    time.sleep(1.5)
    started = time.monotonic()
    refused = post(small_queue_url, "ASK { ?s ?p ?o }")
    took = time.monotonic() - started
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    assert "query_slots" in refused.text and "query_queue" in refused.text
    assert took < 1.0, took  # at once, not after the wait nor the time limit
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {503}
    # the engine came back from the runaways' overruns: queries are answered again
    assert post(small_queue_url, "ASK { ?s ?p ?o }").json()["boolean"] is True


def test_pages_and_data_do_not_wait_behind_runaway_queries(small_queue_url):
    threads, _ = start_runaways(small_queue_url, 20)
    time.sleep(0.3)
    durations = []
    deadline = time.monotonic() + TIMEOUT + 1
    paths = [PAGE, "/data/country/panama.ttl", "/healthz", "/", "/data/person/marco-rubio.jsonld"]
    while time.monotonic() < deadline:
        for path in paths:
            started = time.monotonic()
            assert requests.get(small_queue_url + path, timeout=30).status_code == 200
            durations.append(time.monotonic() - started)
    for thread in threads:
        thread.join()
    durations.sort()
    p99 = durations[int(len(durations) * 0.99) - 1]
    assert len(durations) > 50 and p99 < 0.1, (len(durations), p99)  # measured: about 7 ms


def test_a_queued_query_that_waits_too_long_is_refused_by_the_wait_limit(small_queue_url):
    threads, answers = start_runaways(small_queue_url, 2)  # both slots held by runaways
    time.sleep(1.8)  # they have run longer than a query may wait: a new one is refused at once
    started = time.monotonic()
    refused = post(small_queue_url, "ASK { ?s ?p ?o }")
    assert refused.status_code == 503 and time.monotonic() - started < 1.0
    for thread in threads:
        thread.join()


@pytest.fixture(scope="module")
def per_client_url():
    with running_server("--query-timeout", str(TIMEOUT), "--client-queries", "1", "--proxy-hops", "1") as url:
        yield url


def test_a_client_over_its_limit_gets_429_and_others_are_served(per_client_url):
    one = {"X-Forwarded-For": "192.0.2.1"}
    threads, answers = start_runaways(per_client_url, 1, one)
    time.sleep(0.5)
    again = post(per_client_url, "ASK { ?s ?p ?o }", one)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
    assert "client_queries" in again.text
    other = post(per_client_url, "ASK { ?s ?p ?o }", {"X-Forwarded-For": "192.0.2.2"})
    assert other.status_code == 200 and other.json()["boolean"] is True
    for thread in threads:
        thread.join()
    assert answers[0].status_code == 503 and "query_timeout" in answers[0].text
    assert post(per_client_url, "ASK { ?s ?p ?o }", one).status_code == 200  # its slot is free again


# -- the admission rules themselves -------------------------------------------------------------------
def test_admission_runs_slots_queues_the_next_and_refuses_past_the_queue():
    admission = Admission(slots=1, queue=1, max_wait=5.0)
    first = admission.enter()
    waited = []
    waiter = threading.Thread(target=lambda: waited.append(admission.enter()))
    waiter.start()
    time.sleep(0.1)
    with pytest.raises(Refused) as refused:
        admission.enter()
    assert refused.value.kind == "busy" and refused.value.retry_after >= 1
    admission.leave(None, first)
    waiter.join(2)
    assert waited and admission.state()["running"] == 1
    admission.leave(None, waited[0])
    assert admission.state()["running"] == 0 and admission.state()["waiting"] == 0


def test_admission_gives_up_waiting_after_max_wait():
    admission = Admission(slots=1, queue=4, max_wait=0.3)
    admission.mean = 0.01
    held = admission.enter()
    started = time.monotonic()
    with pytest.raises(Refused):
        admission.enter()
    assert 0.25 < time.monotonic() - started < 1.0
    admission.leave(None, held)
    assert admission.state()["waiting"] == 0


def test_admission_per_client_limit():
    admission = Admission(slots=4, queue=4, max_wait=1.0, per_client=2)
    held = [admission.enter("a"), admission.enter("a")]
    with pytest.raises(Refused) as refused:
        admission.enter("a")
    assert refused.value.kind == "client"
    other = admission.enter("b")
    for started in held:
        admission.leave("a", started)
    admission.leave("b", other)
    admission.leave("a", admission.enter("a"))


def _nice_values(pid: int) -> list[int]:
    """The nice value of each thread of process ``pid`` (field 19 of /proc/PID/task/TID/stat)."""
    values = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/stat") as stat:
            values.append(int(stat.read().rsplit(")", 1)[1].split()[16]))
    return values


def test_queries_run_below_the_look_ups_in_priority(tmp_path):
    """User queries run on the engine's query threads, at a lower priority (a higher nice value) than
    the connection threads that answer the look-ups of pages, so that a flood of queries leaves pages
    fast; the answers are the same."""
    from tourkg.config import build_settings
    from tourkg.dataset import PendingDataset
    from tourkg.engines.process import QUERY_NICE
    from tourkg.sparql import formats_for_name

    assert QUERY_NICE > 0
    dataset = PendingDataset(build_settings({"cache_dir": str(tmp_path), "query_slots": 2})).finish()
    try:
        pid = dataset.engine._process.pid
        base = os.getpriority(os.PRIO_PROCESS, pid)  # the process's (its main thread's)
        queries = min(19, base + QUERY_NICE)
        assert queries not in _nice_values(pid)  # no query yet: no query thread
        formats = formats_for_name("json")
        answers = [dataset.store.query("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", formats=formats).body
                   for _ in range(3)]
        assert len(set(answers)) == 1 and b'"n"' in answers[0]
        niced = _nice_values(pid).count(queries)
        assert 1 <= niced <= 2, _nice_values(pid)  # at most one thread per query slot
        assert _nice_values(pid).count(base) >= 2  # the main and connection threads keep theirs
    finally:
        dataset.close()


def test_admission_admit_counts_without_blocking_and_refuses_the_same_way():
    admission = Admission(slots=1, queue=1, max_wait=5.0)
    admission.admit()  # a slot is free: it waits for nothing
    started = admission.start()
    admission.admit()  # behind the running one: queued
    assert admission.state()["running"] == 1 and admission.state()["waiting"] == 1
    with pytest.raises(Refused) as refused:
        admission.admit()  # the queue (one) is full
    assert refused.value.kind == "busy"
    gone = admission.withdraw(None)  # the queued one waited too long
    assert isinstance(gone, Refused) and gone.kind == "busy" and "query_slots" in gone.message
    admission.leave(None, started)
    assert admission.state()["running"] == 0 and admission.state()["waiting"] == 0


def _runner(slots, run, queue=4, max_wait=5.0):
    from tourkg.engines.runner import QueryRunner

    return QueryRunner(Admission(slots=slots, queue=queue, max_wait=max_wait), run)


def test_query_threads_answer_each_query_on_its_own_connection_at_most_slots_at_once():
    from multiprocessing import Pipe

    from tourkg.engines.runner import Peer

    running, most, lock = [0], [0], threading.Lock()

    def run(request):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return ("ok", request["n"], None)

    runner = _runner(2, run, queue=8)
    ends = [Pipe() for _ in range(6)]
    for n, (_, theirs) in enumerate(ends):
        runner.submit(Peer(theirs), {"n": n}, 10.0)
    assert all(mine.poll(10) for mine, _ in ends)
    answers = [mine.recv() for mine, _ in ends]
    assert answers == [("ok", ("ok", n, None)) for n in range(6)]
    assert most[0] == 2  # two slots: never more at once, and both used
    assert sum(t.name == "tourkg-query" for t in threading.enumerate()) >= 2


def test_a_query_waiting_past_max_wait_is_refused_by_expire_and_the_slot_is_not_taken():
    from multiprocessing import Pipe

    from tourkg.engines.runner import Peer

    release = threading.Event()
    runner = _runner(1, lambda r: release.wait(10) and ("ok", r["n"], None), max_wait=0.2)
    first, second = Pipe(), Pipe()
    runner.submit(Peer(first[1]), {"n": 1}, 10.0)
    time.sleep(0.05)
    runner.submit(Peer(second[1]), {"n": 2}, 10.0)
    runner.expire(time.monotonic() + 1.0)  # as the watchdog's tick does, past its wait
    assert second[0].poll(5)
    status, (kind, retry_after, _), _ = second[0].recv()[1]
    assert (status, kind) == ("refused", "busy") and retry_after >= 1
    release.set()
    assert first[0].recv() == ("ok", ("ok", 1, None))
    assert runner.admission.state()["running"] == 0 and runner.admission.state()["waiting"] == 0


def test_a_connection_whose_client_hung_up_is_closed_by_the_query_thread_after_its_query():
    """Closed while its query runs, the connection would let the next connection reuse the descriptor's
    number and receive this query's answer: the query thread closes it, after the query."""
    from multiprocessing import Pipe

    from tourkg.engines.runner import Peer

    release = threading.Event()
    runner = _runner(1, lambda r: release.wait(10) and ("ok", 1, None))
    mine, theirs = Pipe()
    peer = Peer(theirs)
    runner.submit(peer, {"n": 1}, 10.0)
    peer.hang_up()  # the connection thread read the end of the connection
    assert not theirs.closed  # the query still runs: not closed under it
    release.set()
    deadline = time.monotonic() + 5
    while not theirs.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert theirs.closed  # closed by the query thread, with nothing sent
    with pytest.raises(EOFError):
        mine.recv()
