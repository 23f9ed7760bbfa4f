"""``make bench``: tourkg side by side with Oxigraph server, nginx and rdflib-endpoint; writes
docs/benchmarks.md.

For each size (1k, 100k and 1M triples of the tour-shaped synthetic data, ``bench/synthetic.py``,
generated deterministically, no download): start each server on loopback, measure how long it takes to
be ready, check every answer against the others before timing it, drive the same requests with wrk
(8 connections), and measure the memory (PSS) of each whole process tree after the workloads. Each
row measures both sides in three rounds (a fast query's row in six), alternating which goes first, in
this one run: compare ratios, not absolute numbers (the machine is shared). Nothing here is a test: no
figure is asserted.

Two deployments are measured. ``tourkg serve`` alone, and tourkg behind nginx configured as
the README shows (``bench/readme_nginx.py`` reads the block from the README; tourkg with
``--dumps-link`` and ``--proxy-hops 1``): nginx sends the dumps itself and keeps tourkg's answers for a
second, so every workload is measured again through that front (queries pass through it to tourkg).
Each one-resource row asks one document again and again, so behind the front nginx answers from its
cache, as tourkg alone answers from its prepared bytes; a document nginx does not hold passes through
to tourkg at the price of the proxy. The reference nginx sends with ``sendfile`` and ``tcp_nopush``,
as Debian's ``nginx.conf`` does; the front's dump location writes from a buffer instead (see the
README).

    .venv/bin/python bench/run.py [--sizes 1000 100000 1000000] [--seconds 8] [--no-rdflib-endpoint]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import getpass
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench"))
import synthetic  # noqa: E402
from readme_nginx import front_conf  # noqa: E402

BASE = synthetic.BASE + "id/"
RESOURCE = "visit/v1"
ANALYTICAL = """PREFIX schema: <https://schema.org/>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
SELECT ?visit ?date ?country ?name WHERE {
  ?visit a schema:Event ; schema:startDate ?date ; schema:location ?c ; schema:attendee ?p .
  ?c schema:name ?country . ?p schema:name ?name
  FILTER(?date >= "2000-01-01"^^xsd:date && lang(?country) = "en")
} ORDER BY DESC(?date) ?visit ?name LIMIT 100"""
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
CONSTRUCT = f"CONSTRUCT {{ <{BASE}{RESOURCE}> ?p ?o }} WHERE {{ <{BASE}{RESOURCE}> ?p ?o }}"
DUMP_QUERY = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
DUMPS = ("nt", "nq", "ttl", "trig", "jsonld", "rdf")
QUERIES = (("analytical SELECT (3 joins, FILTER, ORDER BY, LIMIT)", ANALYTICAL), ("COUNT(*)", COUNT))
JSON = "application/sparql-results+json"
#: Answers a query row's window is sized for (see ``Bench.window``), and its longest window in seconds.
ANSWERS = 120
SLOWEST = 60.0
JSON_PLAIN = "application/json"
#: Rounds each row is measured in, alternating which side goes first (see ``Bench.paired``), and the
#: shortest run of a one-resource row, a dump row and a query row.
ROUNDS = 3
#: Rounds of a query row with a short window (see ``Bench.window``), each :data:`SHORTEST_QUERY` long.
#: Why more: the machine's other tenants move one round's ratio by more than the margin measured. In one
#: run at 100k triples, COUNT(*) rounds gave 0.84, 0.99 and 0.96 (pooled 0.93) and the analytical
#: query's 0.85, 0.85 and 1.16; paired probes of 8 rounds each, an hour apart, put COUNT(*) at
#: 0.91-0.95 and the analytical query at 1.06-1.08. Twice the rounds halve the variance of the pooled
#: ratio, either way. Why never shorter rounds: the answers in flight when a round ends are lost, and
#: Oxigraph, running all eight at once, has done more of their work than tourkg, which runs two and
#: queues the rest; the fewer answers a round holds (a few dozen at 1M triples), the more that favours
#: tourkg. So the extra rounds add time (about 2 minutes at 100k triples), and a row whose rounds they
#: would shorten keeps :data:`ROUNDS`.
#: Six rounds were still too few: in the full run on 1af3239 (2026-12-04) the analytical query's six
#: rounds at 100k ranged from 0.66 to 1.16 (pooled 0.87), and paired probes on the same servers right
#: after it gave 0.90 (8 rounds, 0.73-1.30) and 1.16 (4 rounds): a query's CPU there moved from 54 to
#: 70 ms from one round to the next on either side, so a round's ratio is worth about +-15 %. Twelve
#: rounds halve the variance of the pooled ratio again, for about 4 more minutes at 100k triples.
QUERY_ROUNDS = 12
#: Longest window whose query row gets :data:`QUERY_ROUNDS` (each then :data:`SHORTEST_QUERY` long);
#: a longer one (the analytical query at 1M triples) keeps :data:`ROUNDS` of a third of it each.
QUERY_ROUNDS_UP_TO = 30.0
SHORTEST = 3.0
SHORTEST_DUMP = 2.0
SHORTEST_QUERY = 5.0


# -- processes --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def pss_mb(pid: int) -> float:
    """Proportional set size of the whole process tree, in MB (shared pages counted once in all)."""
    total = 0
    for member in tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its descendants."""
    ticks = 0
    for member in tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def settle(proc: subprocess.Popen, timeout: float = 60.0) -> float:
    """Wait until the process tree is idle (under 5 % of a core for 0.4 s): a load generator that stops
    leaves requests in flight (queued queries go on after the client is gone), and they must not run
    during the next server's measurement. Returns the seconds waited."""
    started = time.monotonic()
    quiet = 0
    while time.monotonic() - started < timeout and quiet < 2:
        before = cpu_seconds(proc.pid)
        time.sleep(0.2)
        quiet = quiet + 1 if cpu_seconds(proc.pid) - before < 0.01 else 0
    return time.monotonic() - started


@contextlib.contextmanager
def resumed(server: Server | None) -> Iterator[None]:
    """``server`` runs only inside this block, stopped (SIGSTOP) outside it: rdflib-endpoint works on a
    timed-out query for minutes, and must not take a core from the other servers' measurements."""
    if server is None:
        yield
        return
    signal_tree(server, signal.SIGCONT)
    try:
        yield
    finally:
        signal_tree(server, signal.SIGSTOP)


def signal_tree(server: Server, signum: int) -> None:
    for member in tree(server.proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signum)


#: Every process this run starts: stopped on the way out, even when the run fails (a crash used to leave
#: tourkg, Oxigraph and rdflib-endpoint running).
_LAUNCHED: list[subprocess.Popen] = []


def launch(*args: Any, **kwargs: Any) -> subprocess.Popen:
    proc = subprocess.Popen(*args, **kwargs)
    _LAUNCHED.append(proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        for member in tree(proc.pid):  # one stopped by resumed() would not see the SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            for member in reversed(tree(proc.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member, signal.SIGKILL)
            proc.wait(10)


def wait_for(check, timeout: float, step: float = 0.02) -> float:
    """Seconds until ``check()`` is true (polled)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with contextlib.suppress(requests.RequestException):
            if check():
                return time.monotonic() - start
        time.sleep(step)
    raise RuntimeError("timed out waiting")


# -- servers ----------------------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen
    ready: float = 0.0
    notes: dict[str, float] = field(default_factory=dict)


def tourkg_probes(url: str) -> list[tuple[str, dict[str, str]]]:
    """Every kind of route, queries and a dump included: "ready" means all of them answer."""
    return [("/", {}), (f"/page/{RESOURCE}", {}), (f"/data/{RESOURCE}.ttl", {}), (f"/id/{RESOURCE}", {}),
            ("/.well-known/void", {}), ("/sparql?query=" + quote("ASK { ?s ?p ?o }"), {"Accept": JSON}),
            ("/dump.nt", {"Accept-Encoding": "identity"}), ("/search?q=country", {"Accept": JSON_PLAIN})]


def start_tourkg(data: Path, cache: Path, label: str, *extra: str) -> Server:
    port = free_port()
    started = time.monotonic()
    log = (cache.parent / f"{cache.name}.log").open("a")
    proc = launch([str(BIN / "tourkg"), "serve", "--port", str(port), "--data", str(data),
                   "--cache-dir", str(cache), *extra], stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(url + "/robots.txt", timeout=5).status_code == 200, 600)
    for path, headers in tourkg_probes(url):
        # The first bytes of each answer: a dump's transfer time (110 MB at 1M triples) is the client's,
        # not the server's readiness.
        with requests.get(url + path, headers=headers, allow_redirects=False, timeout=600,
                          stream=True) as response:
            if response.status_code not in (200, 303):
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
            next(response.iter_content(65536), b"")
    server = Server(label, url, proc, time.monotonic() - started)
    return server


def wait_prepared(cache: Path, timeout: float = 900) -> float:
    """Seconds until the engine's background preparation (statistics, dumps, snapshot) is done."""
    def done() -> bool:
        for meta in cache.glob("*/meta.json"):
            with contextlib.suppress(ValueError, OSError):
                if json.loads(meta.read_text()).get("prepared"):
                    return True
        return False
    return wait_for(done, timeout, 0.1)


def swapped_in(cache: Path, timeout: float = 300) -> float:
    """After a restart, seconds until the engine serves queries from memory again (its log says so)."""
    log = cache.parent / f"{cache.name}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.findall(r"in-memory copy swapped in after ([\d.]+) s", log.read_text())
        if found:
            return float(found[-1])
        time.sleep(0.2)
    return float("nan")


def start_oxigraph(data: Path) -> Server:
    port = free_port()
    started = time.monotonic()
    proc = launch([str(BIN / "oxigraph"), "serve", "--bind", f"127.0.0.1:{port}"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(url + "/query", params={"query": "ASK {}"}, timeout=5).ok, 60)
    with data.open("rb") as body:
        requests.post(url + "/store?default", data=body, headers={"Content-Type": "text/turtle"},
                      timeout=900).raise_for_status()
    requests.get(url + "/query", params={"query": ANALYTICAL}, headers={"Accept": JSON}, timeout=600)
    return Server("Oxigraph server", url, proc, time.monotonic() - started)


def start_rdflib_endpoint(data: Path) -> Server:
    port = free_port()
    started = time.monotonic()
    command = [str(BIN / "rdflib-endpoint"), "serve", "--host", "127.0.0.1", "--port", str(port), str(data)]
    proc = launch(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    # The command serves its endpoint at the root path.
    wait_for(lambda: requests.get(url + "/", params={"query": "ASK {}"}, timeout=5).ok, 900, 0.2)
    return Server("rdflib-endpoint", url, proc, time.monotonic() - started)


#: First starts of each server per size (medians reported).
READY_ROUNDS = 3


@contextlib.contextmanager
def nginx(root: Path, upstream: str = "", link: Path | None = None,
          ) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """nginx sending the files of ``root``/www (sendfile, precompressed .gz), for the dump comparison;
    with ``upstream``, a second server in front of that tourkg, configured as the README shows: it sends
    the dumps from the link (``link``, tourkg's ``--dumps-link``), keeps tourkg's other answers for a
    second in its cache, and passes the rest on."""
    port, front = free_port(), free_port()
    conf = root / "nginx.conf"
    proxy = ""
    if upstream:
        assert link is not None
        http, server = front_conf(upstream, link, root / "nginx-cache")
        proxy = f"{http} server {{ listen 127.0.0.1:{front}; {server} }}"
    conf.write_text(f"""user {getpass.getuser()}; worker_processes 2; pid {root}/nginx.pid;
error_log {root}/error.log; daemon off;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; gzip_static on;
  types {{ }} default_type application/octet-stream;
  server {{ listen 127.0.0.1:{port}; root {root}/www; }} {proxy} }}
""")
    proc = launch(["nginx", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(url + "/", timeout=5).status_code in (403, 404, 200), 20)
        yield url, f"http://127.0.0.1:{front}" if upstream else "", proc
    finally:
        stop(proc)


def sent(url: str, headers: dict[str, str]) -> tuple[str, int, str | None]:
    """A dump as sent: its body's digest, its size on the wire and its Content-Encoding."""
    digest = hashlib.sha256()
    with requests.get(url, headers=headers, timeout=600, stream=True) as response:
        response.raise_for_status()
        size = 0
        for block in response.raw.stream(1 << 20, decode_content=False):
            digest.update(block)
            size += len(block)
        return digest.hexdigest(), size, response.headers.get("Content-Encoding")


# -- load -------------------------------------------------------------------------------------------------
@dataclass
class Result:
    rps: float
    p50: float
    p99: float
    errors: int
    mbps: float = 0.0
    #: (percentile, latency in ms) from 1 to 100 (``bench/latency.lua``), and the requests answered: what
    #: :func:`pooled` needs to pool rounds into one distribution.
    quantiles: list[tuple[float, float]] = field(default_factory=list)
    requests: int = 0


def _ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text)[0]), re.sub(r"[\d.]+", "", text)  # type: ignore[index]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}.get(unit, 1.0)


def wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> Result:
    """Drive ``url`` with wrk; requests/s, latency percentiles (ms), failed requests, transfer rate."""
    duration = f"-d{max(1, round(seconds))}s"
    command = ["wrk", "-t2", f"-c{connections}", duration, "--latency", "--timeout", "60s",
               "-s", str(ROOT / "bench" / "latency.lua")]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1e-6, "KB": 1e-3, "MB": 1, "GB": 1e3}
    mbps = float(transfer[1]) * scale.get(transfer[2], 1) if transfer else 0
    quantiles = [(float(p), int(us) / 1000) for p, us in re.findall(r"^P (\S+) (\d+)$", out, re.M)]
    answered = re.search(r"^N (\d+)$", out, re.M)
    return Result(rps, _ms(latency.get("50", "0ms")), _ms(latency.get("99", "0ms")), errors, mbps,
                  quantiles, int(answered[1]) if answered else 0)


def pooled(results: list[Result]) -> Result:
    """Runs of equal length as one: the mean rate, the latency percentiles of all their requests
    together (:func:`percentile`), every failure."""
    return Result(statistics.fmean(r.rps for r in results), percentile(results, 50),
                  percentile(results, 99), sum(r.errors for r in results),
                  statistics.fmean(r.mbps for r in results))


def percentile(results: list[Result], wanted: float) -> float:
    """The ``wanted`` percentile (ms) of the runs' requests taken together: each run's distribution,
    read from its fine percentiles, weighted by the requests it answered. Neither the median nor the
    worst of the runs' own percentiles: with a 3 s run answering 90,000 requests, one stall of a few ms
    moves one run's p99, not that of the 270,000 requests of a row."""
    runs = [r for r in results if r.quantiles and r.requests]
    if not runs:
        return max((r.p99 if wanted >= 99 else r.p50) for r in results)
    total = sum(r.requests for r in runs)

    def below(ms: float) -> float:  # percent of all the requests answered in at most ``ms``
        share = 0.0
        for run in runs:
            points = run.quantiles
            if ms >= points[-1][1]:
                share += 100 * run.requests
                continue
            if ms < points[0][1]:
                share += points[0][0] * ms / points[0][1] * run.requests if points[0][1] else 0
                continue
            for (p0, v0), (p1, v1) in zip(points, points[1:], strict=False):
                if v0 <= ms < v1:
                    share += (p0 + (p1 - p0) * (ms - v0) / (v1 - v0)) * run.requests
                    break
        return share / total

    candidates = sorted({v for run in runs for _, v in run.quantiles})
    previous = (0.0, 0.0)
    for ms in candidates:
        share = below(ms)
        if share >= wanted:
            low_ms, low_share = previous
            if share == low_share:
                return ms
            return low_ms + (ms - low_ms) * (wanted - low_share) / (share - low_share)
        previous = (ms, share)
    return candidates[-1]


# -- answers are checked before they are timed ------------------------------------------------------------
def rows(url: str, query: str, endpoint: str = "/sparql") -> list:
    response = requests.get(url + endpoint, params={"query": query}, headers={"Accept": JSON}, timeout=900)
    response.raise_for_status()
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


def triples(body: bytes, fmt: str) -> set:
    import pyoxigraph as ox

    parsed = ox.parse(body, format=getattr(ox.RdfFormat, fmt))
    return {(str(q.subject), str(q.predicate), str(q.object)) for q in parsed}


def check_answers(tourkg: Server, oxigraph: Server) -> None:
    """The same answers from both before any timing: the resource's statements, the analytical rows,
    the count."""
    own = triples(requests.get(oxigraph.url + "/query", params={"query": CONSTRUCT},
                               headers={"Accept": "application/n-triples"}, timeout=60).content, "N_TRIPLES")
    for ext, fmt in (("ttl", "TURTLE"), ("nt", "N_TRIPLES"), ("jsonld", "JSON_LD"), ("rdf", "RDF_XML")):
        served = triples(requests.get(f"{tourkg.url}/data/{RESOURCE}.{ext}", timeout=60).content, fmt)
        assert own <= served, f"/data/{RESOURCE}.{ext} lacks statements Oxigraph has"
    assert rows(tourkg.url, ANALYTICAL) == rows(oxigraph.url, ANALYTICAL, "/query"), "analytical rows differ"
    assert rows(tourkg.url, COUNT) == rows(oxigraph.url, COUNT, "/query"), "counts differ"


# -- the run ----------------------------------------------------------------------------------------------
@dataclass
class Row:
    size: str
    workload: str
    tourkg: Result | None
    reference: Result | None
    reference_name: str
    rdflib: Result | None = None
    unit: str = "req/s"
    #: Bytes of each answer's body (dump rows): both sides send the same file, so the ratio is of
    #: requests/s and MB/s is the body's (wrk's own rate counts the headers too, and tourkg sends more).
    body: int = 0
    #: tourkg ÷ reference in each round (see :meth:`Bench.paired`); the row's ratio pools the rounds.
    rounds: list[float] = field(default_factory=list)


class Bench:
    """One size: the servers, the workloads and what was measured."""

    def __init__(self, triples_wanted: int, work: Path, seconds: float, connections: int) -> None:
        self.size, self.work, self.seconds, self.connections = triples_wanted, work, seconds, connections
        millions = triples_wanted >= 1_000_000
        self.label = f"{triples_wanted // 10**6}M" if millions else f"{triples_wanted // 1000}k"
        self.report: dict = {"label": self.label, "rows": [], "ready": {}, "memory": {}}
        self.slow = max(seconds, 10.0)  # queries of a second each need a longer window
        self.servers: list[Server] = []  # the servers measured (see run)
        self.rdflib: Server | None = None

    def run(self, url: str, headers: dict[str, str] | None = None, seconds: float | None = None) -> Result:
        """wrk on ``url``; then the server measured finishes what it still has in flight before the next
        measurement starts (rdflib-endpoint is stopped instead: see :func:`resumed`)."""
        server = next((s for s in self.servers if url.startswith(s.url + "/")), None)
        paused = server is not None and server is self.rdflib
        with resumed(server) if paused else contextlib.nullcontext():
            result = wrk(url, headers or {}, seconds or self.seconds, self.connections)
        if server is not None and not paused:
            settle(server.proc)
        return result

    def query(self, server: Server | None, endpoint: str, text: str, accept: str,
              seconds: float | None = None) -> Result | None:
        if server is None:
            return None
        return self.run(f"{server.url}{endpoint}?query={quote(text)}", {"Accept": accept}, seconds)

    def paired(self, mine: tuple[str, dict[str, str]], theirs: tuple[str, dict[str, str]], seconds: float,
               shortest: float, rounds: int = ROUNDS) -> tuple[Result, Result, list[float]]:
        """Both sides of a row in ``rounds`` rounds of ``seconds / rounds`` (at least ``shortest``)
        each, the side that goes first alternating (A B, B A, A B): the other tenants of this shared
        machine come and go within a row's seconds, and one run of each side, one after the other,
        gave one of them whatever the machine had at that moment. A row that met its target in one run
        missed it in the next by as much (an analytical query at 100k triples: 1.24x, then 0.86x).
        Each side's result pools its rounds (requests/s over its whole time, the latency percentiles of
        all its requests, every failure); the per-round ratios show the spread."""
        span = max(shortest, seconds / rounds)
        ours: list[Result] = []
        refs: list[Result] = []
        for round_ in range(rounds):
            order = ((mine, ours), (theirs, refs)) if round_ % 2 == 0 else ((theirs, refs), (mine, ours))
            for (url, headers), into in order:
                into.append(self.run(url, headers, span))
        return (pooled(ours), pooled(refs), [a.rps / b.rps if b.rps else float("inf")
                                             for a, b in zip(ours, refs, strict=True)])

    def row(self, name: str, mine: tuple[str, dict[str, str]], theirs: tuple[str, dict[str, str]],
            reference: str, seconds: float, shortest: float, rdflib: Result | None = None,
            unit: str = "req/s", body: int = 0, rounds: int = ROUNDS) -> None:
        """Measure one row in paired rounds (:meth:`paired`) and add it to the report."""
        ours, refs, ratios = self.paired(mine, theirs, seconds, shortest, rounds)
        self.report["rows"].append(Row(self.label, name, ours, refs, reference, rdflib, unit, body, ratios))

    def resources(self, tk: Server, ox: Server, rl: Server | None) -> None:
        """Each row is paired with its own Oxigraph run, right after it: one reference measured once for
        the seven rows put their ratios at the mercy of that one moment (one run, at 100k triples, had
        Oxigraph at 25,900 requests/s while the tourkg rows beside it ranged from 22,500 to 39,700)."""
        rdflib_resource = self.query(rl, "/", CONSTRUCT, "text/turtle")
        for name, path, headers in self.one_resource(tk.url):
            self.row(name, (tk.url + path, headers), self.construct(ox), "Oxigraph CONSTRUCT", self.seconds,
                     SHORTEST, rdflib_resource)

    @staticmethod
    def construct(ox: Server) -> tuple[str, dict[str, str]]:
        """The one-resource reference: Oxigraph's CONSTRUCT of the resource's statements, as Turtle."""
        return f"{ox.url}/query?query={quote(CONSTRUCT)}", {"Accept": "text/turtle"}

    @staticmethod
    def asked(server: Server, endpoint: str, text: str) -> tuple[str, dict[str, str]]:
        """A query row's request: ``text`` by GET, JSON results."""
        return f"{server.url}{endpoint}?query={quote(text)}", {"Accept": JSON}

    def window(self, ox: Server, text: str) -> tuple[float, int]:
        """Seconds for a query's rows, long enough for Oxigraph to answer about :data:`ANSWERS` of them,
        and their rounds (:data:`QUERY_ROUNDS` for a window up to :data:`QUERY_ROUNDS_UP_TO`).
        Oxigraph runs all eight connections' queries at once, so its answers come in batches of eight:
        in a 10 s window at 1M triples (about 26 answers) one batch more or less moved its rate by a
        third, and the analytical query's ratio ranged from 0.75x to 1.63x between runs."""
        started = time.monotonic()
        requests.get(f"{ox.url}/query", params={"query": text}, headers={"Accept": JSON},
                     timeout=600).raise_for_status()
        single = time.monotonic() - started
        at_once = min(self.connections, os.cpu_count() or 2)  # queries that really run side by side
        seconds = max(self.slow, min(SLOWEST, ANSWERS * single / at_once))
        return seconds, QUERY_ROUNDS if seconds <= QUERY_ROUNDS_UP_TO else ROUNDS

    @staticmethod
    def one_resource(url: str) -> list[tuple[str, str, dict[str, str]]]:
        """(row name, path, request headers) of the one-resource workloads, asked of ``url``."""
        etag = requests.get(f"{url}/data/{RESOURCE}.ttl", timeout=60).headers["ETag"]
        return [("one resource, /data ….ttl", f"/data/{RESOURCE}.ttl", {}),
                ("one resource, /data ….nt", f"/data/{RESOURCE}.nt", {}),
                ("one resource, /data ….jsonld", f"/data/{RESOURCE}.jsonld", {}),
                ("one resource, /data ….rdf", f"/data/{RESOURCE}.rdf", {}),
                ("one resource, /page (HTML)", f"/page/{RESOURCE}", {"Accept": "text/html"}),
                ("one resource, /id → 303", f"/id/{RESOURCE}", {"Accept": "text/turtle"}),
                ("one resource, 304 revalidation", f"/data/{RESOURCE}.ttl", {"If-None-Match": etag})]

    def queries(self, tk: Server, ox: Server, rl: Server | None) -> None:
        for name, text in QUERIES:
            window, rounds = self.window(ox, text)
            self.row(name, self.asked(tk, "/sparql", text), self.asked(ox, "/query", text), "Oxigraph",
                     window, SHORTEST_QUERY, self.query(rl, "/", text, JSON, self.slow), rounds=rounds)

    def dumps(self, tk: Server, cache: Path, rl: Server | None) -> None:
        www = self.work / "www"
        shutil.rmtree(www, ignore_errors=True)
        www.mkdir()
        folder = next(p for p in cache.iterdir() if p.is_dir())
        for ext in DUMPS:
            for suffix in ("", ".gz"):
                os.symlink(folder / "dumps" / f"dump.{ext}{suffix}", www / f"dump.{ext}{suffix}")
        window = max(3.0, self.seconds / 2)
        rdflib_dump = self.query(rl, "/", DUMP_QUERY, "application/n-triples", self.slow)
        with nginx(self.work) as (ng, _front, _proc):
            for ext in DUMPS:
                for encoding in ("identity", "gzip"):
                    headers = {"Accept-Encoding": encoding}
                    mine, theirs = sent(f"{tk.url}/dump.{ext}", headers), sent(f"{ng}/dump.{ext}", headers)
                    assert mine == theirs, (ext, encoding)  # the same bytes, sent the same way
                    name = f"dump .{ext}" + (" gzip" if encoding == "gzip" else "")
                    self.row(name, (f"{tk.url}/dump.{ext}", headers), (f"{ng}/dump.{ext}", headers),
                             "nginx (same file)", window, SHORTEST_DUMP,
                             rdflib_dump if (ext, encoding) == ("nt", "identity") else None, "MB/s", mine[1])

    def fronted(self, tk: Server, link: Path, ox: Server) -> None:
        """The deployment the README recommends for the open Internet: tourkg behind nginx configured as
        the README shows, which sends the prepared dumps itself from ``--dumps-link`` and keeps tourkg's
        answers for a second (its cache); every workload again, through that front."""
        window = max(3.0, self.seconds / 2)
        with nginx(self.work, tk.url, link) as (ng, front, proc):
            # Restarted: its in-memory copy loads in the background first. The answers are checked once it
            # is in: a 1M analytical query on the disk snapshot meanwhile took 3-5 s alone, and once
            # overran the 10 s limit beside the copy (see the README's performance section).
            settle(tk.proc, 300)
            for _name, path, headers in self.one_resource(tk.url):  # the same answers, before timing
                direct, through = (requests.get(base + path, headers=headers, allow_redirects=False,
                                                timeout=60) for base in (tk.url, front))
                assert (through.status_code, through.content, through.headers.get("Location")) == (
                    direct.status_code, direct.content, direct.headers.get("Location")), path
            if self.size >= 100_000:
                for _name, text in QUERIES:
                    assert rows(front, text) == rows(tk.url, text), text
            settle(tk.proc, 300)
            self.servers.append(Server("front", front, tk.proc))  # tourkg settles after each run
            try:
                suffix = ", behind nginx (README)"
                for name, path, headers in self.one_resource(front):
                    self.row(name + suffix, (front + path, headers), self.construct(ox), "Oxigraph CONSTRUCT",
                             self.seconds, SHORTEST)
                if self.size >= 100_000:
                    for name, text in QUERIES:
                        window, rounds = self.window(ox, text)
                        self.row(name + suffix, self.asked(self.servers[-1], "/sparql", text),
                                 self.asked(ox, "/query", text), "Oxigraph", window, SHORTEST_QUERY,
                                 rounds=rounds)
                for ext in DUMPS:
                    for encoding in ("identity", "gzip"):
                        headers = {"Accept-Encoding": encoding}
                        mine_sent = sent(f"{front}/dump.{ext}", headers)
                        assert mine_sent[::2] == sent(f"{ng}/dump.{ext}", headers)[::2], ext  # bytes, coding
                        packed = " gzip" if encoding == "gzip" else ""
                        self.row(f"dump .{ext}{packed}{suffix}", (f"{front}/dump.{ext}", headers),
                                 (f"{ng}/dump.{ext}", headers), "nginx alone (same file)", window,
                                 SHORTEST_DUMP, None, "MB/s", mine_sent[1])
            finally:
                self.servers.pop()
            # nginx's two servers (the front and the reference) share its processes: all counted.
            self.report["memory"]["tourkg behind nginx (README): tourkg's tree"] = pss_mb(tk.proc.pid)
            self.report["memory"]["tourkg behind nginx (README): nginx's (master, workers, cache)"] = (
                pss_mb(proc.pid))

    def measure(self, with_rdflib: bool) -> dict:
        data = synthetic.write(self.work / f"synthetic-{self.size}.ttl", self.size)
        print(f"== {self.label}: {data.stat().st_size / 1e6:.1f} MB of Turtle", flush=True)
        cache = self.work / f"cache-{self.size}"
        shutil.rmtree(cache, ignore_errors=True)
        (self.work / f"{cache.name}.log").write_text("")  # swapped_in() reads this run's lines only
        ready = self.report["ready"]
        # Each server starts alone on the machine, the two in turn, READY_ROUNDS times: one run of each,
        # one beside the other, put the ratio anywhere between 1.5x and 2x on this shared machine.
        firsts: dict[str, list[float]] = {"oxigraph": [], "tourkg": []}
        for round_ in range(READY_ROUNDS):
            ox = start_oxigraph(data)
            firsts["oxigraph"].append(ox.ready)
            stop(ox.proc)
            shutil.rmtree(cache, ignore_errors=True)
            tk = start_tourkg(data, cache, "tourkg")
            firsts["tourkg"].append(tk.ready)
            if round_ < READY_ROUNDS - 1:
                stop(tk.proc)
        oxigraph, tourkg = (statistics.median(firsts[name]) for name in ("oxigraph", "tourkg"))
        ready[f"Oxigraph server (load over HTTP; median of {READY_ROUNDS})"] = oxigraph
        first = f"tourkg, first start (every route answers, a dump included; median of {READY_ROUNDS})"
        ready[first] = tourkg
        self.report["first_starts"] = {**firsts, "ratio": tourkg / oxigraph}
        ready["tourkg, background preparation done (after start)"] = wait_prepared(cache)
        stop(tk.proc)
        ox = start_oxigraph(data)  # for the workloads
        tk = start_tourkg(data, cache, "tourkg")
        ready["tourkg, restart on unchanged data"] = tk.ready
        ready["tourkg, restart: in-memory copy swapped in (queries at full speed)"] = swapped_in(cache)
        rl = start_rdflib_endpoint(data) if with_rdflib else None
        if rl:
            ready["rdflib-endpoint"] = rl.ready
            signal_tree(rl, signal.SIGSTOP)  # runs only while measured
        self.servers, self.rdflib = [s for s in (tk, ox, rl) if s], rl
        try:
            check_answers(tk, ox)
            self.resources(tk, ox, rl)
            if self.size >= 100_000:
                self.queries(tk, ox, rl)
            self.dumps(tk, cache, rl)
            self.report["memory"]["tourkg (supervisor, engine, web workers)"] = pss_mb(tk.proc.pid)
            self.report["memory"]["Oxigraph server"] = pss_mb(ox.proc.pid)
            if rl:
                self.report["memory"]["rdflib-endpoint"] = pss_mb(rl.proc.pid)
            stop(tk.proc)
            link = self.work / f"dumps-link-{self.size}"
            tk = start_tourkg(data, cache, "tourkg", "--dumps-link", str(link), "--proxy-hops", "1")
            self.servers[0] = tk
            self.fronted(tk, link, ox)
        finally:
            for server in (tk, ox, rl):
                if server:
                    stop(server.proc)
        return self.report


def tour_ready(work: Path, runs: int = 9) -> dict[str, float]:
    """The tour, SHACL included: medians of ``runs`` first starts (an empty cache each time) and of
    ``runs`` restarts, until every route answers."""
    def once(cache: Path, until_prepared: bool = False) -> float:
        port = free_port()
        started = time.monotonic()
        command = [str(BIN / "tourkg"), "serve", "--port", str(port), "--cache-dir", str(cache)]
        proc = launch(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: requests.get(url + "/", timeout=5).status_code == 200, 60, 0.005)
            for path in ("/page/country/panama", "/data/country/panama.ttl", "/id/country/panama",
                         "/.well-known/void", "/sparql?query=" + quote("ASK { ?s ?p ?o }"), "/dump.nt",
                         "/search?q=panama"):
                with requests.get(url + path, allow_redirects=False, timeout=30, stream=True) as answer:
                    answer.raise_for_status()
                    next(answer.iter_content(65536), b"")
            ready = time.monotonic() - started
            if until_prepared:
                wait_prepared(cache, 60)
            return ready
        finally:
            stop(proc)

    cold = []
    for _ in range(runs):
        shutil.rmtree(work / "tour-cache", ignore_errors=True)
        cold.append(once(work / "tour-cache"))
    # A restart opens what was prepared, the snapshot included: rendered after the start (and a server
    # stopped at once leaves it to the next start), so one start lets it finish first.
    once(work / "tour-cache", until_prepared=True)
    warm = [once(work / "tour-cache") for _ in range(runs)]
    print("== the tour: first starts " + ", ".join(f"{t:.2f}" for t in cold) + "; restarts "
          + ", ".join(f"{t:.2f}" for t in warm), flush=True)
    return {f"the tour, first start, SHACL included (median of {runs}; {min(cold):.2f}–{max(cold):.2f})":
            statistics.median(cold),
            f"the tour, restart (median of {runs}; {min(warm):.2f}–{max(warm):.2f})": statistics.median(warm)}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "∞"


def fmt_result(result: Result | None, unit: str) -> str:
    if result is None:
        return "–"
    if unit == "MB/s":
        return f"{result.mbps:,.0f} MB/s ({result.rps:,.0f} req/s)"
    tail = f", {result.errors} failed" if result.errors else ""
    rate = f"{result.rps:,.1f}" if result.rps < 100 else f"{result.rps:,.0f}"
    return f"{rate} req/s (p50 {result.p50:.1f} ms, p99 {result.p99:.1f} ms{tail})"


def engine_allocator() -> str:
    """What ``engine_allocator`` (auto unless set) gives tourkg's engine on this machine."""
    from tourkg.config import build_settings
    from tourkg.engines.allocator import AUTO, SYSTEM, find_mimalloc

    choice = build_settings({}).engine_allocator
    if choice == AUTO:
        return "mimalloc" if find_mimalloc() else "of the C library (mimalloc is not installed)"
    return "of the C library" if choice == SYSTEM else choice


def markdown(reports: list[dict], seconds: float, connections: int, tour: dict[str, float]) -> str:
    lines = [
        "# Benchmarks", "",
        f"Measured {date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()}; reproduce with `make bench` "
        f"(`bench/run.py`: wrk, {connections} connections, {seconds:g} s per workload, "
        f"in rounds of {SHORTEST:g}+ s; dumps rounds of {SHORTEST_DUMP:g}+ s; each query row long enough "
        f"for about {ANSWERS} of Oxigraph's answers, {max(seconds, 10.0):g}-{max(seconds, SLOWEST):g} s "
        f"in rounds of {SHORTEST_QUERY:g}+ s).",
        f"tourkg's engine process ran with the memory allocator {engine_allocator()} (`engine_allocator`).",
        f"One run on this shared machine: each row measures both sides in {ROUNDS} rounds (a query row "
        f"whose window is at most {QUERY_ROUNDS_UP_TO:g} s, in {QUERY_ROUNDS} of {SHORTEST_QUERY:g} s), "
        "alternating which goes first (A B, B A, A B, …); each side's figures pool its rounds "
        "(requests/s over its whole time, p50 and p99 of all its requests).",
        "Ratios are tourkg ÷ reference (higher is better for throughput), with the lowest and highest of "
        "the rounds' ratios in brackets.", "",
    ]
    if tour:
        lines += ["## The tour", "", "| ready: every route answers | seconds |", "|---|---:|"]
        lines += [f"| {name} | {value:.2f} |" for name, value in tour.items()] + [""]
    for report in reports:
        lines += [f"## {report['label']} triples", "",
                  "| workload | tourkg | reference | ratio | rdflib-endpoint | tourkg ÷ rdflib-endpoint |",
                  "|---|---:|---:|---:|---:|---:|"]
        for row in report["rows"]:
            mine, theirs = row.tourkg.rps, row.reference.rps  # a dump row: the same body on both sides
            tourkg, reference = row.tourkg, row.reference
            if row.unit == "MB/s" and row.body:  # the body's rate, not wrk's (which counts headers)
                tourkg, reference = (dataclasses.replace(r, mbps=r.rps * row.body / 1e6)
                                     for r in (tourkg, reference))
            rl = "–" if row.rdflib is None else (f"{row.rdflib.rps:.2f} req/s" if row.rdflib.rps < 10 else
                                                  f"{row.rdflib.rps:,.0f} req/s")
            mine_rps = row.tourkg.rps
            rl_ratio = "–" if row.rdflib is None else (ratio(mine_rps, row.rdflib.rps) if row.rdflib.rps else
                                                       "∞ (no answer in the window)")
            reference_text = f"{row.reference_name}: {fmt_result(reference, row.unit)}"
            spread = (f" ({min(row.rounds):.2f}–{max(row.rounds):.2f})" if len(row.rounds) > 1 else "")
            lines.append(f"| {row.workload} | {fmt_result(tourkg, row.unit)} | {reference_text} | "
                         f"{ratio(mine, theirs)}{spread} | {rl} | {rl_ratio} |")
        lines += ["", "| ready to serve | seconds |", "|---|---:|"]
        lines += [f"| {name} | {value:.2f} |" for name, value in report["ready"].items()]
        if "first_starts" in report and report["label"].endswith("M"):  # the target is set at 1M
            runs = report["first_starts"]
            lines += ["", f"First start ÷ Oxigraph's load: **{runs['ratio']:.2f}×** (medians; each started "
                      "alone, in turn: Oxigraph " + ", ".join(f"{t:.2f}" for t in runs["oxigraph"])
                      + " s; tourkg " + ", ".join(f"{t:.2f}" for t in runs["tourkg"]) + " s)."]
        lines += ["", "| memory after the workloads (PSS of the whole process tree) | MB |", "|---|---:|"]
        lines += [f"| {name} | {value:,.0f} |" for name, value in report["memory"].items()]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--no-rdflib-endpoint", action="store_true")
    parser.add_argument("--no-tour", action="store_true", help="skip the tour's start-up times")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tourkg-bench")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            sys.exit(f"bench needs {tool} (Debian: apt-get install {tool})")
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        # The tour first, before this run loads the machine: measured last, right after the million
        # triples, its first starts took 1.38 s (median of 9) where paired runs minutes later took 0.84 s.
        tour = {} if args.no_tour else tour_ready(args.work)
        reports = [Bench(size, args.work, args.seconds, args.connections).measure(not args.no_rdflib_endpoint)
                   for size in args.sizes]
    finally:
        for proc in reversed(_LAUNCHED):
            stop(proc)
    text = markdown(reports, args.seconds, args.connections, tour)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    raw = [{**r, "rows": [dataclasses.asdict(row) for row in r["rows"]]} for r in reports]
    args.output.with_suffix(".json").write_text(json.dumps({"sizes": raw, "tour": tour}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
