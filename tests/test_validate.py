"""`tourkg validate` on the shipped data and on the broken fixtures in tests/data/broken/.

Most fixtures are validated TOGETHER with the shipped data (they add one broken thing to it); each
describes its own named graph (``.../id/graph/<file stem>``, where the loader puts it) so that only the
intended violation is reported. ``country-without-spanish-name.ttl`` is validated ON ITS OWN, because
the shipped data does give every country its Spanish name.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROKEN = Path("tests") / "data" / "broken"
SHIPPED = ["--data", "data/tour.ttl", "--data", "data/reference.trig"]
RULES = ["--shapes", "shapes/tourkg.shapes.ttl", "--ontology", "ontology/tourkg.ttl"]


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI from the repository root, whatever the current directory."""
    return subprocess.run([sys.executable, "-m", "tourkg", "validate", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def with_shipped(fixture: str) -> list[str]:
    return [*SHIPPED, "--data", str(BROKEN / fixture), *RULES]


def on_its_own(fixture: str) -> list[str]:
    return ["--data", str(BROKEN / fixture), *RULES]


def test_shipped_data_conforms_by_default():
    result = validate()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conforms" in result.stdout


def test_shipped_data_conforms_with_explicit_files():
    result = validate(*SHIPPED, *RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_data_has_only_spanish_label_warnings():
    result = validate()
    warnings = [line for line in result.stdout.splitlines() if line.startswith("Warning")]
    assert warnings and all("no Spanish skos:prefLabel" in line for line in warnings)


BROKEN_CASES = [
    (with_shipped("missing-label.ttl"), "has no label"),
    (with_shipped("duplicate-position.ttl"), "Itinerary position 3 is used by more than one visit"),
    (with_shipped("wrong-datatype.ttl"), "The schema:startDate of a visit must be typed xsd:date"),
    (with_shipped("dangling-reference.ttl"), "The location of a visit must be a described schema:Country"),
    (with_shipped("visit-without-focal-area.ttl"), "A visit must have at least one focal area"),
    (on_its_own("country-without-spanish-name.ttl"), "A country must have a schema:name in Spanish (@es)"),
    (with_shipped("no-provenance.trig"), "Named graph has no provenance"),
    (with_shipped("focal-area-not-about.ttl"), "must also be given as schema:about"),
    (with_shipped("country-without-capital.ttl"), "A visited country must have a capital"),
    (with_shipped("broader-one-way.ttl"), "skos:broader and skos:narrower must be asserted in both"),
    (with_shipped("narrower-one-way.ttl"), "skos:broader and skos:narrower must be asserted in both"),
    (with_shipped("top-concept-one-way.ttl"), "A top concept must be declared in both directions"),
]


@pytest.mark.parametrize(("args", "expected"), BROKEN_CASES, ids=[case[0][-5] for case in BROKEN_CASES])
def test_broken_fixture_is_reported(args, expected):
    result = validate(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout


def test_missing_label_names_the_unlabelled_iri():
    result = validate(*with_shipped("missing-label.ttl"))
    assert "https://w3id.org/tourkg/id/issue/unlabelled-topic" in result.stdout


def test_dangling_reference_names_the_visit():
    result = validate(*with_shipped("dangling-reference.ttl"))
    assert "https://w3id.org/tourkg/id/visit/dangling-reference-visit" in result.stdout


def test_one_way_broader_names_both_concepts_and_the_inverse_path():
    """The report reads as SPARQL writes a path (``^skos:narrower``), not as a blank node's label."""
    result = validate(*with_shipped("broader-one-way.ttl"))
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "skos:broader and skos:narrower must be" in line)
    block = "\n".join(lines[start + 1:start + 4])  # the focus node, path and value of that result
    assert "focus node: <https://w3id.org/tourkg/id/issue/migration>" in block
    assert "path: ^skos:narrower" in block
    assert "value: <https://w3id.org/tourkg/id/issue/countering-chinese-influence>" in block


def test_turtle_report_is_a_shacl_report():
    result = validate(*with_shipped("wrong-datatype.ttl"), "--format", "turtle")
    assert result.returncode == 1
    assert "ValidationReport" in result.stdout
    assert "The schema:startDate of a visit must be typed xsd:date" in result.stdout


def test_syntax_error_names_file_line_and_column():
    result = validate(*on_its_own("syntax-error.ttl"))
    assert result.returncode == 2
    assert re.search(r"syntax-error\.ttl:5:1\b", result.stdout + result.stderr)


def test_report_paths_read_as_sparql_property_paths():
    from rdflib import BNode, Graph, URIRef
    from rdflib.collection import Collection

    from tourkg.namespaces import SH
    from tourkg.validate import _path

    report, data = Graph(), Graph()
    a, b = URIRef("http://example.org/a"), URIRef("http://example.org/b")
    sequence, alternatives, inverse, repeated, either = BNode(), BNode(), BNode(), BNode(), BNode()
    Collection(report, sequence, [a, b])
    Collection(report, alternatives, [a, b])
    report.add((inverse, SH.inversePath, sequence))
    report.add((repeated, SH.oneOrMorePath, a))
    report.add((either, SH.alternativePath, alternatives))
    ea, eb = "<http://example.org/a>", "<http://example.org/b>"
    assert _path(sequence, report, data) == f"{ea}/{eb}"
    assert _path(inverse, report, data) == f"^({ea}/{eb})"
    assert _path(repeated, report, data) == f"{ea}+"
    assert _path(either, report, data) == f"({ea}|{eb})"
