"""The focal-area table of the seed article is in the graph: one visit per country, about each focal area.

The table in tests/data/seed-article.txt has lines ``Country | Focal Areas |``; for each country and each
comma-separated focal area, the graph must have a visit located in that country whose ``schema:about``
concept has that English label (compared case-insensitively).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "tests" / "data" / "seed-article.txt"
COUNTRY_NAMES = {"Dominican Rep.": "Dominican Republic"}


def table_rows() -> list[tuple[str, str]]:
    """(country, focal area) pairs from the article's markdown-ish table, header and rule skipped."""
    pairs = []
    for line in ARTICLE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) < 3 or cells[0] in ("Country", "") or set(cells[0]) <= {"-"}:
            continue
        country = COUNTRY_NAMES.get(cells[0], cells[0])
        pairs.extend((country, area.strip()) for area in cells[1].split(",") if area.strip())
    return pairs


@pytest.fixture(scope="module")
def graph() -> rdflib.Graph:
    dataset = rdflib.Dataset()
    dataset.parse(ROOT / "data" / "tour.ttl", format="turtle", publicID="https://w3id.org/tourkg/id/graph/tour")
    dataset.parse(ROOT / "data" / "reference.trig", format="trig")
    union = rdflib.Graph()
    for quad in dataset.quads((None, None, None, None)):
        union.add(quad[:3])
    return union


def test_table_has_the_five_countries():
    countries = [country for country, _ in table_rows()]
    assert list(dict.fromkeys(countries)) == ["Panama", "El Salvador", "Costa Rica", "Guatemala",
                                              "Dominican Republic"]


def test_table_has_nine_focal_areas():
    assert len(table_rows()) == 9


@pytest.mark.parametrize(("country", "area"), table_rows())
def test_visit_in_country_is_about_focal_area(graph, country, area):
    query = """
        PREFIX schema: <https://schema.org/>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        PREFIX tko: <https://w3id.org/tourkg/ontology#>
        ASK {
            ?visit a tko:Visit ; schema:location ?country ; schema:about ?concept .
            ?country schema:name ?name . FILTER(lang(?name) = "en" && str(?name) = ?countryName)
            ?concept skos:prefLabel ?label . FILTER(lang(?label) = "en" && lcase(str(?label)) = lcase(?area))
        }"""
    bindings = {"countryName": rdflib.Literal(country), "area": rdflib.Literal(area)}
    assert graph.query(query, initBindings=bindings).askAnswer
