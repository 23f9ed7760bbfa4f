"""``tourkg query``: the same engine and rules as the endpoint, from the command line."""

import json

import pytest

from conftest import DATA
from tourkg.cli import main

GENERIC = ["--data", str(DATA / "generic.ttl")]
NAMES = "SELECT ?name { ?p <https://schema.org/name> ?name } ORDER BY ?name"


def run(runner, *args):
    return runner.invoke(main, ["query", *args, *GENERIC])


def test_table_by_default(runner):
    result = run(runner, NAMES)
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "name" and '"Ada Lovelace"@en' in result.output
    assert result.output.rstrip().endswith("(2 rows)")


def test_table_columns_aligned(runner):
    lines = run(runner, "SELECT ?a ?b { VALUES (?a ?b) { (1 'x') (333 'y') } }").output.splitlines()
    assert lines[2].index("x") == lines[3].index("y") == lines[0].index("b")


def test_table_shows_numbers_bare_and_other_datatypes_typed(runner):
    output = run(runner, 'SELECT ?n ?t { VALUES (?n ?t) { (7 "a"^^<http://example.org/t>) } }').output
    assert output.splitlines()[2].startswith("7 ")
    assert '"a"' not in output and "a^^<http://example.org/t>" in output


def test_construct_table_is_turtle(runner):
    result = run(runner, "CONSTRUCT WHERE { ?s <https://schema.org/name> ?o }")
    assert "@prefix schema: <https://schema.org/> ." in result.output and "schema:name" in result.output


@pytest.mark.parametrize(("fmt", "check"), [
    ("json", lambda out: len(json.loads(out)["results"]["bindings"]) == 2),
    ("csv", lambda out: out.splitlines() == ["name", "Ada Lovelace", "Charles Babbage"]),
    ("tsv", lambda out: out.splitlines()[0] == "?name"),
    ("xml", lambda out: out.count("<result>") == 2),
])
def test_result_formats(runner, fmt, check):
    result = run(runner, "--format", fmt, NAMES)
    assert result.exit_code == 0 and check(result.output)


def test_graph_format(runner):
    result = run(runner, "--format", "nt", "CONSTRUCT WHERE { ?s <https://schema.org/name> ?o }")
    assert result.output.count(" .\n") == 2


def test_query_from_file(runner, tmp_path):
    path = tmp_path / "q.rq"
    path.write_text("ASK { ?s ?p ?o }")
    assert run(runner, "--file", str(path)).output.splitlines()[2] == "true"


def test_syntax_error_exits_nonzero_with_position(runner):
    result = run(runner, "SELECT * { ?s ?p }")
    assert result.exit_code != 0 and "line 1, column" in result.output and "^" in result.output
    assert result.output.startswith("Error: Malformed query at")


@pytest.mark.parametrize("fmt", ["json", "jsonld", "xml", "ttl"])
def test_machine_formats_end_with_a_newline(runner, fmt):
    query = "CONSTRUCT WHERE { ?s ?p ?o }" if fmt in ("jsonld", "ttl") else NAMES
    result = run(runner, "--format", fmt, query)
    assert result.exit_code == 0 and result.output.endswith("\n")


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_ask_in_csv_or_tsv_names_format_values(runner, fmt):
    result = run(runner, "--format", fmt, "ASK { ?s ?p ?o }")
    assert result.exit_code != 0 and "--format table, json, xml" in result.output
    assert "application/" not in result.output


def test_select_in_a_graph_format_names_format_values(runner):
    result = run(runner, "--format", "ttl", NAMES)
    assert "--format table, json, xml, csv, tsv" in result.output and "text/" not in result.output


def test_update_refused(runner):
    result = run(runner, "CLEAR ALL")
    assert result.exit_code != 0 and "read-only" in result.output


def test_query_and_file_together_is_usage_error(runner, tmp_path):
    path = tmp_path / "q.rq"
    path.write_text("ASK {}")
    assert run(runner, "ASK {}", "--file", str(path)).exit_code == 2


def test_no_query_is_usage_error(runner):
    assert run(runner).exit_code == 2


def test_syntax_error_names_kinds_of_token_not_unicode_ranges(runner):
    output = run(runner, "SELECT * {").output
    assert "line 1, column 11" in output and "a name" in output and "\\u{" not in output


def test_query_without_a_form_says_what_is_missing(runner):
    output = run(runner, "SELEC * { ?s ?p ?o }").output
    assert "no SELECT, ASK, CONSTRUCT or DESCRIBE" in output
