"""Label search at scale: how long the index takes to build, how fast a search is, and how large the
static export's shards are, on the synthetic dataset (1M triples by default). Writes docs/search.md.

    .venv/bin/python bench/search_bench.py [--triples 1000000]

The search is timed in-process (the engine's side of ``/search``; the socket round trip to it adds
about 0.2 ms); queries are one- and two-letter prefixes (the worst case: the most candidates), words
and random beginnings of labels. Nothing here is a test: no figure is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import synthetic  # noqa: E402

from tourkg.engines.searching import entries  # noqa: E402
from tourkg.search import SearchIndex  # noqa: E402


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tourkg-bench")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "search.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    data = synthetic.write(args.work / f"synthetic-{args.triples}.ttl", args.triples)
    store = ox.Store()
    store.bulk_load(path=str(data), format=ox.RdfFormat.TURTLE)
    started = time.perf_counter()
    found = entries(store)
    read = time.perf_counter() - started
    before = _rss_mb()
    started = time.perf_counter()
    index = SearchIndex(found)
    built = time.perf_counter() - started
    held = _rss_mb() - before
    rng = random.Random(7)
    labels = [e.label for e in found]
    queries = [*"abcdefghijklmnopqrstuvwxyz0123456789", "vi", "pe", "is", "te", "visit", "issue 12",
               "person 1", "nothing at all"]
    queries += [rng.choice(labels)[:rng.randint(2, 12)] for _ in range(400)]
    times = []
    for query in queries:
        started = time.perf_counter()
        index.search(query)
        times.append(time.perf_counter() - started)
    times.sort()
    shards = index.shards()
    sizes = sorted(len(json.dumps([[*index.row(i), "/page/" + index.entries[i].iri[-30:]] for i in ids],
                                  ensure_ascii=False, separators=(",", ":")).encode())
                   for _kind, ids in shards.values())
    text = "\n".join([
        f"# Label search on {args.triples:,} triples (`bench/search_bench.py`)", "",
        f"- entries (labels of IRI subjects): {len(found):,}; words: {len(index.words):,}; the index "
        f"holds about {held:.0f} MB in the engine process",
        f"- build: {read:.2f} s reading the labels and types + {built:.2f} s sorting (once per dataset, "
        "in the engine's background preparation; later starts read it back)",
        f"- search, {len(queries)} queries: p50 {times[len(times) // 2] * 1000:.1f} ms, "
        f"p99 {times[int(len(times) * 0.99)] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms "
        "(target: p99 ≤ 20 ms)",
        f"- static export shards: {len(sizes)}, largest {sizes[-1] / 1000:.0f} KB, all together "
        f"{sum(sizes) / 1e6:.1f} MB (a query loads one shard; target: a few hundred KB at most)", ""])
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
