"""The README stays true: its example queries give the answers it shows, its settings and URLs exist."""

from __future__ import annotations

import re

import pyoxigraph as ox
import pytest

from conftest import ROOT
from tourkg import loader
from tourkg.config import SETTINGS, build_settings

README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```sparql\n(.*?)```\n\n(\|.*?)\n\n", README, flags=re.S)


def markdown_rows(table: str) -> list[list[str]]:
    lines = [line for line in table.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def term_text(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return f"<{term.value}>"
    return term.value


@pytest.fixture(scope="module")
def store():
    quads = loader.load(build_settings({}, environ={})).quads
    oxstore = ox.Store()
    oxstore.extend(quads)
    return oxstore


def test_readme_opens_with_the_two_commands():
    first = README.index("make run")
    assert first < README.index("## What it serves") and "make test" in README[:first + 200]


def test_readme_has_three_example_queries_with_answers():
    assert len(EXAMPLES) == 3


@pytest.mark.parametrize(("query", "table"), EXAMPLES, ids=["itinerary", "focal-areas", "sources"])
def test_readme_example_answers_are_the_real_answers(store, query, table):
    solutions = store.query(query, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    got = [[term_text(row[n]) for n in names] for row in solutions]
    assert got == markdown_rows(table)


@pytest.mark.parametrize("setting", [s.name for s in SETTINGS])
def test_readme_lists_every_setting(setting):
    assert f"`{setting}`" in README


CURLS = re.findall(r"^curl (.*?http://127\.0\.0\.1:8080(/[^\s']*).*?)$", README, flags=re.M)


@pytest.mark.parametrize(("line", "path"), CURLS, ids=[p for _, p in CURLS])
def test_readme_curl_examples_answer_as_documented(client, line, path):
    accept = re.search(r"-H 'Accept: ([^']+)'", line)
    headers = {"Accept": accept.group(1) if accept else "*/*"}
    query = "CLEAR ALL" if "CLEAR ALL" in line else None
    response = client.get(path, headers=headers, query_string={"query": query} if query else None)
    expected = re.search(r"# (\d{3})", line)
    if expected:
        assert response.status_code == int(expected.group(1))
    else:
        assert response.status_code < 400


@pytest.mark.parametrize(("query", "table"), EXAMPLES, ids=["itinerary", "focal-areas", "sources"])
def test_readme_example_answers_are_what_the_endpoint_answers(client, query, table):
    response = client.post("/sparql", data={"query": query}, headers={"Accept": "application/json"})
    document = response.get_json()
    names = document["head"]["vars"]
    got = [[(f"<{b[n]['value']}>" if b[n]["type"] == "uri" else b[n]["value"]) if n in b else ""
            for n in names] for b in document["results"]["bindings"]]
    assert got == markdown_rows(table)
