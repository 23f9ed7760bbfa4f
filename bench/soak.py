"""``make soak``: a mixed workload at 32 connections against a real tourkg, for minutes, and a verdict.

Starts ``tourkg serve`` on the tour (or on ``--data``/``--shapes`` files) on a free loopback port and
drives it with every kind of request a real audience sends: pages in English and Spanish, every RDF
format, 303s, conditional requests (304), SPARQL SELECT / ASK / CONSTRUCT in every result format, dumps
plain and gzip, 404s, syntax errors and runaway queries. Reports the status counts and p50/p99 per kind,
and the memory (PSS) of the whole process tree over time.

The run fails (exit 1) on any unexpected status (a 5xx other than the deliberate 503 for a runaway or
a refused query), on a traceback in any body, on a server that stops, or when memory grows by more
than ``--max-growth`` percent between the end of the warm-up and the end of the run.

    .venv/bin/python bench/soak.py [--seconds 600] [--connections 32] [--output docs/soak.md]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BIN, ROOT, free_port, pss_mb, stop, wait_for  # noqa: E402

SELECT = "SELECT ?visit ?date WHERE { ?visit a <https://w3id.org/tourkg/ontology#Visit> ; " \
         "<https://schema.org/startDate> ?date } ORDER BY ?date"
ASK = "ASK { ?s a <https://schema.org/Country> }"
CONSTRUCT = "CONSTRUCT WHERE { ?s a <https://schema.org/Country> ; ?p ?o }"
_VALUES = " ".join(str(i) for i in range(1000))
RUNAWAY = "SELECT (COUNT(*) AS ?n) { " + " ".join(f"VALUES ?{v} {{ {_VALUES} }}" for v in "abcd") + " }"
RESULTS = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
           "text/tab-separated-values"]
BOOLEAN = RESULTS[:2]
GRAPHS = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]
RESOURCES = ["country/panama", "country/el-salvador", "country/costa-rica", "country/guatemala",
             "country/dominican-republic", "person/marco-rubio", "tour/rubio-latin-america-tour"]
DATA_FORMATS = ["ttl", "nt", "jsonld", "rdf"]


@dataclass(frozen=True)
class Kind:
    """One kind of request and the statuses it may get."""

    name: str
    expected: frozenset[int]


def kinds() -> list[tuple[Kind, callable]]:
    """Each kind with the function that sends one request of it (``session`` → response)."""
    ok = frozenset({200})
    query_ok = frozenset({200, 503})  # 503 "busy": refused at once while runaways hold the query slots

    def page(lang):
        return lambda s: s.get(f"/page/{random.choice(RESOURCES)}", headers={"Accept-Language": lang})

    def data(ext):
        return lambda s: s.get(f"/data/{random.choice(RESOURCES)}.{ext}")

    def sparql(query, accept):
        return lambda s: s.post("/sparql", data={"query": query}, headers={"Accept": accept})

    etags: dict[str, str] = {}

    def conditional(s):
        path = f"/data/{random.choice(RESOURCES)}.ttl"
        if path not in etags:
            etags[path] = s.get(path).headers.get("ETag", "")
        return s.get(path, headers={"If-None-Match": etags[path]})

    table = [(Kind("page en", ok), page("en")), (Kind("page es", ok), page("es"))]
    table += [(Kind(f"data .{ext}", ok), data(ext)) for ext in DATA_FORMATS]
    table += [(Kind("303 html", frozenset({303})),
               lambda s: s.get(f"/id/{random.choice(RESOURCES)}", headers={"Accept": "text/html"})),
              (Kind("303 rdf", frozenset({303})),
               lambda s: s.get(f"/id/{random.choice(RESOURCES)}", headers={"Accept": "text/turtle"})),
              (Kind("304", frozenset({304})), conditional)]
    table += [(Kind(f"select {a.split('/')[-1]}", query_ok), sparql(SELECT, a)) for a in RESULTS]
    table += [(Kind(f"ask {a.split('/')[-1]}", query_ok), sparql(ASK, a)) for a in BOOLEAN]
    table += [(Kind(f"construct {a.split('/')[-1]}", query_ok), sparql(CONSTRUCT, a)) for a in GRAPHS]
    table += [(Kind("dump plain", ok), lambda s: s.get("/dump.nt", headers={"Accept-Encoding": "identity"})),
              (Kind("dump gzip", ok), lambda s: s.get("/dump.ttl", headers={"Accept-Encoding": "gzip"})),
              (Kind("404", frozenset({404})), lambda s: s.get(f"/page/country/atlantis-{random.random()}")),
              (Kind("syntax error", frozenset({400, 503})), sparql("SELECT * WHERE {", RESULTS[0])),
              (Kind("health", ok), lambda s: s.get("/readyz"))]
    return table


class Session(requests.Session):
    """A session bound to the server's origin."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def request(self, method, path, *args, **kwargs):  # noqa: ANN001, ANN201 - requests' signature
        kwargs.setdefault("timeout", 60)
        kwargs["allow_redirects"] = False  # a 303 is an answer of its own here
        return super().request(method, self.url + path, *args, **kwargs)


class Soak:
    def __init__(self, url: str, pid: int, seconds: float, connections: int, runaways: int) -> None:
        self.url, self.pid, self.seconds = url, pid, seconds
        self.connections, self.runaways = connections, runaways
        self.table = kinds()
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.problems: list[str] = []
        self.memory: list[tuple[float, float]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def record(self, kind: Kind, status: int, took: float, body: bytes) -> None:
        with self.lock:
            self.statuses[kind.name][status] += 1
            self.times[kind.name].append(took)
            deliberate = status == 503 and (b"busy" in body or b"query_timeout" in body)
            if status not in kind.expected or (status == 503 and not deliberate):
                self.problems.append(f"{kind.name}: unexpected {status}: {body[:200]!r}")
            if b"Traceback" in body:
                self.problems.append(f"{kind.name}: a traceback in the body")

    def mixed(self, seed: int) -> None:
        rng = random.Random(seed)
        session = Session(self.url)
        order = list(range(len(self.table)))
        for _ in itertools.count():
            if self.stop.is_set():
                return
            rng.shuffle(order)
            for index in order:
                if self.stop.is_set():
                    return
                kind, send = self.table[index]
                started = time.monotonic()
                try:
                    response = send(session)
                    self.record(kind, response.status_code, time.monotonic() - started, response.content)
                except requests.RequestException as exc:
                    self.record(kind, 0, time.monotonic() - started, str(exc).encode())

    def runaway(self) -> None:
        kind = Kind("runaway", frozenset({503}))
        session = Session(self.url)
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = session.post("/sparql", data={"query": RUNAWAY},
                                        headers={"Accept": RESULTS[0]})
                self.record(kind, response.status_code, time.monotonic() - started, response.content)
            except requests.RequestException as exc:
                self.record(kind, 0, time.monotonic() - started, str(exc).encode())

    def watch_memory(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(5.0):
            self.memory.append((time.monotonic() - started, pss_mb(self.pid)))

    def run(self) -> None:
        mixed = self.connections - self.runaways
        workers = [threading.Thread(target=self.mixed, args=(i,)) for i in range(mixed)]
        workers += [threading.Thread(target=self.runaway) for _ in range(self.runaways)]
        watcher = threading.Thread(target=self.watch_memory)
        for thread in (*workers, watcher):
            thread.start()
        self.stop.wait(self.seconds)
        self.stop.set()
        for thread in (*workers, watcher):
            thread.join()
        self.memory.append((self.seconds, pss_mb(self.pid)))

    def problem_summary(self) -> str:
        if not self.problems:
            return " (no 5xx but the deliberate 503s)"
        return ": " + "; ".join(self.problems[:5])

    def growth(self, warm_up: float) -> tuple[float, float, float]:
        """Memory after the warm-up and at the end, and the growth in percent: the peak of the first
        quarter of the samples after the warm-up against the peak of the last quarter (the engine's
        memory rises and falls as it restarts after each runaway query, so single samples mislead)."""
        after = [mb for t, mb in self.memory if t >= warm_up] or [self.memory[-1][1]]
        quarter = max(1, len(after) // 4)
        first, last = max(after[:quarter]), max(after[-quarter:])
        return first, last, 100.0 * (last - first) / first

    def report(self, warm_up: float, args: argparse.Namespace) -> str:
        total = sum(sum(c.values()) for c in self.statuses.values())
        lines = [f"Soak: {self.seconds:g} s at {self.connections} connections ({self.runaways} sending "
                 f"runaway queries), {total:,} requests ({total / self.seconds:,.0f}/s); "
                 f"`{' '.join(args.command)}`",
                 "", "| kind | requests | statuses | p50 ms | p99 ms |", "|---|---:|---|---:|---:|"]
        for name in sorted(self.statuses):
            times = sorted(self.times[name])
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            shown = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses[name].items()))
            lines.append(f"| {name} | {len(times):,} | {shown} | {statistics.median(times) * 1000:.1f} | "
                         f"{p99 * 1000:.1f} |")
        first, last, grown = self.growth(warm_up)
        step = max(1, len(self.memory) // 12)
        timeline = ", ".join(f"{t:.0f} s: {mb:.0f}" for t, mb in self.memory[::step])
        lines += ["", f"Memory (PSS of the whole process tree, MB) over time: {timeline}, end: {last:.0f}.",
                  f"Peak after the {warm_up:g} s warm-up: {first:.0f} MB, peak at the end: {last:.0f} MB "
                  f"({grown:+.1f} %).",
                  "", f"Unexpected: {len(self.problems)}" + self.problem_summary()]
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runaways", type=int, default=1, help="connections sending runaway queries")
    parser.add_argument("--warm-up", type=float, default=None, help="seconds before memory is compared "
                        "(default: a fifth of the run, at most 60)")
    parser.add_argument("--max-growth", type=float, default=10.0, help="percent of memory growth allowed")
    parser.add_argument("--output", type=Path, default=None, help="also write the report here (Markdown)")
    parser.add_argument("serve_args", nargs="*", help="extra arguments for tourkg serve (after --)")
    args = parser.parse_args()
    warm_up = args.warm_up if args.warm_up is not None else min(60.0, args.seconds / 5)
    port = free_port()
    args.command = ["tourkg", "serve", *args.serve_args]
    proc = subprocess.Popen([str(BIN / "tourkg"), "serve", "--port", str(port), *args.serve_args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(url + "/readyz", timeout=5).status_code == 200, 120, 0.2)
        soak = Soak(url, proc.pid, args.seconds, args.connections, args.runaways)
        soak.run()
        alive = proc.poll() is None and requests.get(url + "/healthz", timeout=10).status_code == 200
    finally:
        stop(proc)
    text = soak.report(warm_up, args)
    if not alive:
        soak.problems.append("the server stopped serving")
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    _, _, grown = soak.growth(warm_up)
    failed = bool(soak.problems) or grown > args.max_growth
    if grown > args.max_growth:
        print(f"FAIL: memory grew {grown:.1f} % after the warm-up (allowed: {args.max_growth:g} %)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
