"""SHACL validation with pyshacl, returning a plain ``Report`` the CLI and the server both use."""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import RDF, BNode, Graph
from rdflib.collection import Collection
from rdflib.term import Node

from tourkg.loader import Loaded, to_graph, validation_graph
from tourkg.namespaces import SH, served_prefixes


@dataclass(frozen=True)
class Result:
    """One SHACL validation result."""

    focus: str
    path: str
    message: str
    severity: str
    value: str = ""


@dataclass(frozen=True)
class Report:
    """``conforms`` is False only for sh:Violation results; warnings are reported but allowed."""

    conforms: bool
    graph: Graph
    results: tuple[Result, ...]

    @property
    def text(self) -> str:
        """A report a person reads: one block per result, violations first."""
        if not self.results:
            return "Conforms: the data satisfies every shape."
        lines = ["Conforms." if self.conforms else "Does not conform.", ""]
        for r in self.results:
            lines += [f"{r.severity}: {r.message}", f"  focus node: {r.focus}"]
            if r.path:
                lines.append(f"  path: {r.path}")
            if r.value:
                lines.append(f"  value: {r.value}")
        counts = {s: sum(r.severity == s for r in self.results) for s in ("Violation", "Warning", "Info")}
        lines.append("")
        lines.append(", ".join(f"{n} {s.lower()}{'s' if n != 1 else ''}" for s, n in counts.items() if n))
        return "\n".join(lines)


def _short(node: Node | None, graph: Graph) -> str:
    if node is None:
        return ""
    try:
        return node.n3(graph.namespace_manager)
    except Exception:
        return str(node)


def _grouped(node: Node, report: Graph, data: Graph) -> str:
    """A path under ``^`` or a repetition: a sequence in parentheses (``^(a/b)``, not ``^a/b``)."""
    text = _path(node, report, data)
    return f"({text})" if isinstance(node, BNode) and report.value(node, RDF.first) is not None else text


def _path(node: Node | None, report: Graph, data: Graph) -> str:
    """A SHACL property path as SPARQL writes it (``^skos:narrower``, ``(a|b)``, ``a/b``): a path other
    than a plain IRI is a blank node in the report, whose label would tell a reader nothing."""
    if not isinstance(node, BNode):
        return _short(node, data)
    inverse = report.value(node, SH.inversePath)
    if inverse is not None:
        return "^" + _grouped(inverse, report, data)
    alternatives = report.value(node, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_path(n, report, data) for n in Collection(report, alternatives)) + ")"
    for predicate, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
        inner = report.value(node, predicate)
        if inner is not None:
            return _grouped(inner, report, data) + suffix
    if report.value(node, RDF.first) is not None:  # a sequence path: an RDF list
        return "/".join(_path(n, report, data) for n in Collection(report, node))
    return _short(node, data)


def validate(loaded: Loaded) -> Report:
    """Validate the union of the data graphs against the shapes.

    The ontology is not mixed in: the data states the standard terms themselves (a visit is a
    ``tko:Visit`` and a ``schema:Event``), so no class needs the ontology's hierarchy to be recognised,
    and leaving it out keeps the gate under half a second for the tour.
    """
    from pyshacl import validate as shacl_validate  # heavy import, only when validating

    data = validation_graph(loaded.quads)
    shapes = to_graph(loaded.shapes)
    for prefix, ns in served_prefixes().items():  # readable focus nodes and paths in the report
        data.bind(prefix, ns, override=True)
    _conforms, report_graph, _text = shacl_validate(
        data, shacl_graph=shapes, inference="none", allow_warnings=True,
        advanced=False, meta_shacl=False, abort_on_first=False,  # SHACL Core and SPARQL constraints only
    )
    results = []
    for node in report_graph.subjects(predicate=SH.resultSeverity):
        severity = str(report_graph.value(node, SH.resultSeverity)).rsplit("#", 1)[-1]
        results.append(Result(
            focus=_short(report_graph.value(node, SH.focusNode), data),
            path=_path(report_graph.value(node, SH.resultPath), report_graph, data),
            message=str(report_graph.value(node, SH.resultMessage) or "(no message)"),
            severity=severity,
            value=_short(report_graph.value(node, SH.value), data),
        ))
    order = {"Violation": 0, "Warning": 1, "Info": 2}
    results.sort(key=lambda r: (order.get(r.severity, 3), r.focus, r.path, r.message))
    conforms = not any(r.severity == "Violation" for r in results)
    return Report(conforms=conforms, graph=report_graph, results=tuple(results))

