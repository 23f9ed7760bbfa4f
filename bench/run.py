"""Benchmarks behind the design choices; writes bench/RESULTS.md.

Run with ``make bench`` (or ``.venv/bin/python bench/run.py``). Timings are medians of repeated runs
on one machine in one run, so compare the ratios, not the absolute numbers: the machine is shared.

1. Engine choice: rdflib's SPARQL engine vs pyoxigraph on a 3-join SELECT with ORDER BY over 1k and
   100k triples, and whether each answers ``ASK { FILTER(false) }`` correctly.
2. ``tourkg validate`` on the shipped data (target: well under 2 s).
3. A live ``tourkg serve``: latency of a SPARQL query, a 303 from /id, a page and a /data document.
"""

from __future__ import annotations

import contextlib
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

QUERY = """PREFIX ex: <http://example.org/>
SELECT ?person ?name ?city WHERE {
  ?person ex:livesIn ?place . ?place ex:name ?city . ?person ex:name ?name .
} ORDER BY ?name LIMIT 50"""


def median_time(func: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``func`` in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthetic_ntriples(n_triples: int) -> str:
    """People living in places: two triples a person plus a name a place, about ``n_triples``."""
    people = int(n_triples / 2.05)
    places = max(1, people // 20)
    lines = [f'<http://example.org/place{j}> <http://example.org/name> "Place {j}" .' for j in range(places)]
    for i in range(people):
        p = f"<http://example.org/person{i}>"
        lines.append(f"{p} <http://example.org/livesIn> <http://example.org/place{i % places}> .")
        lines.append(f'{p} <http://example.org/name> "Person {i:06d}" .')
    return "\n".join(lines) + "\n"


def bench_engines() -> list[str]:
    import pyoxigraph as ox
    import rdflib

    rows = ["| triples | rdflib SELECT (s) | pyoxigraph SELECT (s) | ratio |", "|---:|---:|---:|---:|"]
    for size in (1_000, 100_000):
        text = synthetic_ntriples(size)
        graph = rdflib.Graph().parse(data=text, format="nt")
        store = ox.Store()
        store.load(text.encode(), ox.RdfFormat.N_TRIPLES)
        repeat = 3 if size <= 1_000 else 1
        t_rdflib = median_time(lambda g=graph: list(g.query(QUERY)), repeat)
        t_ox = median_time(lambda s=store: list(s.query(QUERY)), 5)
        rows.append(f"| {len(graph)} | {t_rdflib:.3f} | {t_ox:.4f} | {t_rdflib / t_ox:.0f}× |")
    ask_rdflib = bool(rdflib.Graph().query("ASK { FILTER(false) }").askAnswer)
    ask_ox = bool(ox.Store().query("ASK { FILTER(false) }"))
    rows.append("")
    rows.append(f"`ASK {{ FILTER(false) }}` (correct answer: false): rdflib → {str(ask_rdflib).lower()}, "
                f"pyoxigraph → {str(ask_ox).lower()}.")
    return rows


def bench_validate() -> list[str]:
    cmd = [str(ROOT / ".venv" / "bin" / "tourkg"), "validate"]
    if not Path(cmd[0]).exists():
        cmd = [sys.executable, "-m", "tourkg", "validate"]
    t = median_time(lambda: subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True), 5)
    return [f"`tourkg validate` on the shipped data (whole process, median of 5): **{t:.2f} s**."]


def bench_server() -> list[str]:
    import requests

    from conftest import running_server

    rows = ["| request | median (ms) |", "|---|---:|"]
    with running_server() as url, requests.Session() as http:
        cases = {
            "SPARQL SELECT (JSON), GET /sparql": lambda: http.get(
                url + "/sparql", params={"query": "SELECT * { ?s ?p ?o } LIMIT 10"},
                headers={"Accept": "application/sparql-results+json"}),
            "303 from /id/country/panama": lambda: http.get(
                url + "/id/country/panama", allow_redirects=False, headers={"Accept": "text/turtle"}),
            "/data/country/panama.ttl": lambda: http.get(url + "/data/country/panama.ttl"),
            "/page/country/panama (HTML)": lambda: http.get(url + "/page/country/panama"),
            "/dump.ttl": lambda: http.get(url + "/dump.ttl"),
        }
        for name, call in cases.items():
            with contextlib.suppress(Exception):
                call()  # warm-up (caches, worker start)
            t = median_time(call, 50)
            rows.append(f"| {name} | {t * 1000:.1f} |")
    return rows


def main() -> None:
    sections = [
        f"# Benchmark results\n\nMeasured {date.today().isoformat()} on {platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()}; reproduce with `make bench`.\n",
        "## 1. Query engine\n", *bench_engines(), "",
        "## 2. Validation\n", *bench_validate(), "",
        "## 3. Live server (sequential requests on loopback)\n", *bench_server(), "",
    ]
    text = "\n".join(sections)
    (ROOT / "bench" / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
