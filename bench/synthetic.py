"""A deterministic, tour-shaped synthetic dataset of about N triples (no download, no randomness source
but a seeded generator): tours made of visits (schema.org events) to countries, people who attend and
host them, and a SKOS scheme of policy issues, in the shape of the tour's own graph.

Used by ``make bench`` (1k, 100k and 1M triples) and by the tests of large-data behaviour.

    python bench/synthetic.py 1000000 -o /tmp/synthetic-1m.ttl
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path

BASE = "http://example.org/"
PREFIXES = f"""@base <{BASE}id/> .
@prefix schema: <https://schema.org/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix ex: <{BASE}ontology#> .

"""
#: Triples per visit, all else included (measured): sizes the dataset to about the requested count.
_PER_VISIT = 16.7


def _sizes(triples: int) -> dict[str, int]:
    visits = max(5, int(triples / _PER_VISIT))
    return {"visits": visits, "tours": max(1, visits // 20), "people": max(5, visits // 12),
            "countries": min(250, max(5, visits // 40)), "issues": min(600, max(5, visits // 30))}


def _country(i: int) -> str:
    return (f"<country/c{i}> a schema:Country ; schema:name \"Country {i}\"@en , \"País {i}\"@es ;\n"
            f"  owl:sameAs <http://www.wikidata.org/entity/Q{100000 + i}> ; ex:capital <city/k{i}> .\n"
            f"<city/k{i}> a schema:City ; schema:name \"Capital {i}\"@en , \"Capital {i}\"@es ;\n"
            f"  schema:latitude \"{(i * 7) % 120 - 60}.5\"^^xsd:decimal ; "
            f"schema:longitude \"{(i * 13) % 340 - 170}.25\"^^xsd:decimal .\n")


def _person(i: int, countries: int) -> str:
    return (f"<person/p{i}> a schema:Person ; schema:name \"Person {i:07d}\" ;\n"
            f"  rdfs:label \"Person {i}\"@en ;\n"
            f"  schema:jobTitle \"Minister {i % 17}\"@en ; schema:nationality <country/c{i % countries}> .\n")


def _issue(i: int) -> str:
    broader = f" ; skos:broader <issue/i{(i - 1) // 4}>" if i else ""
    return (f"<issue/i{i}> a skos:Concept ; skos:inScheme <scheme/issues> ;\n"
            f"  skos:prefLabel \"Issue {i}\"@en , "
            f"\"Tema {i}\"@es{broader} .\n")


def _zipf(rng: random.Random, n: int) -> int:
    """An index in ``range(n)`` with a few very frequent values: hub resources, as real data has."""
    return min(n - 1, int(n * rng.random() ** 3))


def _visit(i: int, rng: random.Random, sizes: dict[str, int]) -> str:
    country = _zipf(rng, sizes["countries"])
    people = sizes["people"]
    host, guest = _zipf(rng, people), rng.randrange(people)
    issue, focal = _zipf(rng, sizes["issues"]), rng.randrange(sizes["issues"])
    year, day = 1990 + i % 35, rng.randrange(1, 28)
    month = rng.randrange(1, 13)
    tour = i % sizes["tours"]
    return (f"<visit/v{i}> a ex:Visit , schema:Event ; schema:name \"Visit {i} to country {country}\"@en ;\n"
            f"  schema:startDate \"{year}-{month:02d}-{day:02d}\"^^xsd:date ; "
            f"schema:endDate \"{year}-{month:02d}-{day + 1:02d}\"^^xsd:date ;\n"
            f"  schema:location <country/c{country}> ; ex:visitedCountry <country/c{country}> ;\n"
            f"  schema:superEvent <tour/t{tour}> ; schema:position {i // sizes['tours'] + 1} ;\n"
            f"  schema:attendee <person/p{host}> , <person/p{guest}> ; ex:hostLeader <person/p{host}> ;\n"
            f"  schema:about <issue/i{issue}> , <issue/i{focal}> ; ex:focalArea <issue/i{focal}> .\n"
            f"<tour/t{tour}> schema:subEvent <visit/v{i}> .\n")


def _tour(i: int, people: int) -> str:
    return (f"<tour/t{i}> a ex:Tour , schema:Event ; schema:name \"Tour {i}\"@en ; "
            f"schema:attendee <person/p{i % people}> .\n")


def chunks(triples: int, seed: int = 20250201) -> Iterator[str]:
    """The Turtle text in pieces, so a million triples never sit in memory as one string."""
    sizes, rng = _sizes(triples), random.Random(seed)
    yield PREFIXES
    yield ("<scheme/issues> a skos:ConceptScheme ; skos:prefLabel \"Policy issues\"@en , "
           "\"Temas de política\"@es .\n")
    yield "".join(_country(i) for i in range(sizes["countries"]))
    yield "".join(_issue(i) for i in range(sizes["issues"]))
    for start in range(0, sizes["people"], 5000):
        end = min(start + 5000, sizes["people"])
        yield "".join(_person(i, sizes["countries"]) for i in range(start, end))
    yield "".join(_tour(i, sizes["people"]) for i in range(sizes["tours"]))
    for start in range(0, sizes["visits"], 5000):
        yield "".join(_visit(i, rng, sizes) for i in range(start, min(start + 5000, sizes["visits"])))


def write(path: Path, triples: int) -> Path:
    """Write the dataset of about ``triples`` triples to ``path`` (Turtle), unless it is already there."""
    if path.exists() and path.stat().st_size:
        return path
    partial = path.with_name(path.name + ".part")
    with partial.open("w", encoding="utf-8") as out:
        for chunk in chunks(triples):
            out.write(chunk)
    partial.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("triples", type=int)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    write(args.output, args.triples)


if __name__ == "__main__":
    main()
