"""A journalist's pages while someone floods the SPARQL endpoint: the latency of resources never asked for
before (no prepared bytes: each needs the engine), one after the other, alone and under 8 connections of
``COUNT(*)``, tourkg beside Oxigraph server (whose page is a CONSTRUCT of the resource's statements).
Writes docs/pages-under-queries.md.

    .venv/bin/python bench/pages_under_queries.py [--triples 100000] [--pages 200] [--rounds 4]

Nothing here is a test: no figure is asserted. The servers are measured in turn, ``--rounds`` times
each, alternating which goes first (this machine is shared); every page is a different resource.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import run  # noqa: E402
import synthetic  # noqa: E402

FLOOD_CONNECTIONS = 8
#: Seconds of each flood: the pages, asked from its second second on, take well under its rest.
FLOOD_SECONDS = 10
#: The first visit asked for (the ones before it may have been rendered by a probe).
FIRST = 1000


def page_url(server: run.Server, number: int) -> str:
    resource = f"visit/v{number}"
    if server.name == "tourkg":
        return f"{server.url}/page/{resource}"
    iri = f"{run.BASE}{resource}"
    return f"{server.url}/query?query=" + quote(f"CONSTRUCT {{ <{iri}> ?p ?o }} WHERE {{ <{iri}> ?p ?o }}")


def latencies(server: run.Server, first: int, count: int) -> list[float]:
    found = []
    with requests.Session() as session:
        for number in range(first, first + count):
            started = time.perf_counter()
            response = session.get(page_url(server, number), headers={"Accept": "text/html, text/turtle"},
                                   timeout=60)
            found.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200 and len(response.content) > 100, (server.name, number)
    return found


def under_flood(server: run.Server, first: int, count: int, query_path: str) -> tuple[list[float], float]:
    """Page latencies while wrk floods ``query_path`` with COUNT(*) for :data:`FLOOD_SECONDS` (the pages
    are asked from the second second on); also the flood's requests/s."""
    url = f"{server.url}{query_path}?query={quote(run.COUNT)}"
    flood = subprocess.Popen(["wrk", "-t2", f"-c{FLOOD_CONNECTIONS}", f"-d{FLOOD_SECONDS}s", "-H",
                              f"Accept: {run.JSON}", url], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)  # the queue fills
        found = latencies(server, first, count)
    finally:
        out, _ = flood.communicate(timeout=FLOOD_SECONDS + 60)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    run.settle(server.proc)
    return found, float(rate[1]) if rate else float("nan")


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    return f"{statistics.median(ordered):.1f} / {p90:.1f} / {ordered[-1]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tourkg-bench")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "pages-under-queries.md")
    args = parser.parse_args()
    wanted = FIRST + 4 * args.rounds * args.pages  # per round and server: alone, then under the flood
    visits = synthetic._sizes(args.triples)["visits"]
    if wanted > visits:
        parser.error(f"{args.triples:,} triples hold {visits:,} visits; these rounds and pages need "
                     f"{wanted:,}: "
                     "give more --triples or fewer --pages")
    args.work.mkdir(parents=True, exist_ok=True)
    data = synthetic.write(args.work / f"synthetic-{args.triples}.ttl", args.triples)
    cache = args.work / f"pages-cache-{args.triples}"
    shutil.rmtree(cache, ignore_errors=True)  # nothing rendered before: every page needs the engine
    tk = run.start_tourkg(data, cache, "tourkg")
    ox = run.start_oxigraph(data)
    run.settle(tk.proc, 300)
    idle: dict[str, list[float]] = {"tourkg": [], "Oxigraph server": []}
    flooded: dict[str, list[float]] = {"tourkg": [], "Oxigraph server": []}
    rates: dict[str, list[float]] = {"tourkg": [], "Oxigraph server": []}
    first = FIRST
    try:
        for round_ in range(args.rounds):
            order = (tk, ox) if round_ % 2 == 0 else (ox, tk)
            for server in order:
                path = "/sparql" if server is tk else "/query"
                idle[server.name] += latencies(server, first, args.pages)
                first += args.pages
                found, rate = under_flood(server, first, args.pages, path)
                flooded[server.name] += found
                rates[server.name].append(rate)
                first += args.pages
    finally:
        run.stop(tk.proc)
        run.stop(ox.proc)
    lines = [
        "# Pages under a flood of queries",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores; "
        f"reproduce with `.venv/bin/python bench/pages_under_queries.py --triples {args.triples}`.",
        f"{args.triples:,} triples of the synthetic dataset; {args.pages} resources never asked for before, "
        f"one after the other, per server and round ({args.rounds} rounds, alternating which server goes "
        f"first); the flood is {FLOOD_CONNECTIONS} connections of `{run.COUNT}`.",
        "tourkg's page is `/page/…` (HTML); Oxigraph's is a CONSTRUCT of the resource's statements.",
        "",
        "| server | page alone: p50 / p90 / max ms | page under the flood: p50 / p90 / max ms "
        "| flood's COUNT(*) req/s |",
        "|---|---:|---:|---:|",
    ]
    for label in ("tourkg", "Oxigraph server"):
        lines.append(f"| {label} | {summary(idle[label])} | {summary(flooded[label])} | "
                     f"{statistics.fmean(rates[label]):.1f} |")
    text = "\n".join(lines) + "\n"
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
