"""Query results as a table of cells, for people: the query page's HTML table and ``tourkg query``.

The store answers in a machine format; the table is read back from SPARQL JSON (SELECT, ASK) or
N-Triples (CONSTRUCT, DESCRIBE as subject/predicate/object rows), so the page and the CLI show exactly
what the protocol would have sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pyoxigraph as ox

from tourkg import formats
from tourkg.store import QueryFormats, QueryOutcome

#: The formats to ask the store for when the answer becomes a table.
TABLE_FORMATS = QueryFormats(results=formats.BY_NAME["json"], graph=formats.BY_NAME["ntriples"],
                             boolean=formats.BY_NAME["json"])

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
#: Datatypes whose values read unambiguously without their type (as Turtle writes numbers bare).
_READS_PLAINLY = frozenset("http://www.w3.org/2001/XMLSchema#" + t for t in (
    "integer", "decimal", "double", "boolean", "date", "dateTime"))
#: Widest column ``tourkg query`` prints before cutting a value (the other formats carry it whole).
MAX_CELL_WIDTH = 80


@dataclass(frozen=True)
class Cell:
    """One RDF term (or an unbound variable when ``kind`` is empty)."""

    kind: str = ""  # "iri", "bnode", "literal" or "" (unbound)
    value: str = ""
    lang: str | None = None
    datatype: str | None = None  # only when it says something (not xsd:string, not rdf:langString)


@dataclass(frozen=True)
class Table:
    """Columns and rows; for ASK, ``boolean`` holds the answer and the table has one ``result`` cell."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    form: str
    boolean: bool | None = None


def _datatype(iri: str | None) -> str | None:
    return None if iri in (None, _XSD_STRING, _LANG_STRING) else iri


def _json_cell(binding: Mapping[str, str] | None) -> Cell:
    if not binding:
        return Cell()
    kind = {"uri": "iri", "bnode": "bnode"}.get(binding["type"], "literal")
    return Cell(kind, binding["value"], binding.get("xml:lang"), _datatype(binding.get("datatype")))


def _term_cell(term: object) -> Cell:
    if isinstance(term, ox.NamedNode):
        return Cell("iri", term.value)
    if isinstance(term, ox.BlankNode):
        return Cell("bnode", term.value)
    assert isinstance(term, ox.Literal)
    return Cell("literal", term.value, term.language, _datatype(term.datatype.value))


def to_table(outcome: QueryOutcome) -> Table:
    """Read an outcome produced with :data:`TABLE_FORMATS` back as a table."""
    if outcome.form == "graph":
        triples = ox.parse(outcome.body, format=ox.RdfFormat.N_TRIPLES)
        rows = tuple((_term_cell(t.subject), _term_cell(t.predicate), _term_cell(t.object)) for t in triples)
        return Table(("subject", "predicate", "object"), rows, "graph")
    document = json.loads(outcome.body)
    if "boolean" in document:
        answer = bool(document["boolean"])
        return Table(("result",), ((Cell("literal", str(answer).lower()),),), "ask", answer)
    columns = tuple(document["head"].get("vars", []))
    rows = tuple(tuple(_json_cell(b.get(c)) for c in columns) for b in document["results"]["bindings"])
    return Table(columns, rows, "select")


def shorten(iri: str, prefixes: Mapping[str, str]) -> str:
    """``prefix:local`` when a prefix covers ``iri`` and the rest is a plain name, else ``<iri>``."""
    for prefix, namespace in prefixes.items():
        rest = iri[len(namespace):]
        if iri.startswith(namespace) and rest.replace("-", "").replace("_", "").isalnum():
            return f"{prefix}:{rest}"
    return f"<{iri}>"


def cell_text(cell: Cell, prefixes: Mapping[str, str]) -> str:
    """A cell as a person reads it in a terminal: prefixed IRIs, ``"text"@lang``, ``value^^xsd:type``."""
    if cell.kind == "iri":
        return shorten(cell.value, prefixes)
    if cell.kind == "bnode":
        return f"_:{cell.value}"
    if cell.lang:
        return f'"{cell.value}"@{cell.lang}'
    if cell.datatype and cell.datatype not in _READS_PLAINLY:
        return f"{cell.value}^^{shorten(cell.datatype, prefixes)}"
    return cell.value


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL_WIDTH else text[: MAX_CELL_WIDTH - 1] + "…"


def render_text(table: Table, prefixes: Mapping[str, str]) -> str:
    """An aligned plain-text table with a header rule and a row count."""
    body = [[_clip(cell_text(c, prefixes)) for c in row] for row in table.rows]
    widths = [max([len(name), *(len(r[i]) for r in body)]) for i, name in enumerate(table.columns)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(table.columns, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in body]
    count = len(table.rows)
    lines.append(f"({count} row{'s' if count != 1 else ''})")
    return "\n".join(lines) + "\n"
