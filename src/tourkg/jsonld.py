"""Compact JSON-LD with a prefix context, from the expanded form Oxigraph writes.

Oxigraph's JSON-LD writer emits expanded JSON-LD (full IRIs everywhere, no ``@context``). That is valid
and self-contained but unreadable; the Linked Data pages and dumps promise "prefixes" in every syntax. A
context of prefix definitions makes ``schema:name`` etc. compact IRIs, which every JSON-LD 1.1 processor
expands back (JSON-LD 1.1 §4.1.5 compact IRIs; keys, ``@id`` and ``@type`` values). The structure and
order of Oxigraph's output are kept, so the bytes stay deterministic. Standard library only: the query
workers may use it too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def compactor(prefixes: Mapping[str, str]) -> Any:
    """A function turning an IRI into ``prefix:rest`` where a namespace matches (the longest wins)."""
    ordered = sorted(prefixes.items(), key=lambda item: -len(item[1]))

    def compact(iri: str) -> str:
        for prefix, namespace in ordered:
            rest = iri[len(namespace):]
            if iri.startswith(namespace) and rest and not rest.startswith("//"):
                return f"{prefix}:{rest}"
        return iri

    return compact


def _walk(node: Any, compact: Any) -> Any:
    if isinstance(node, list):
        return [_walk(item, compact) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "@id" and isinstance(value, str):
            out[key] = compact(value)
        elif key == "@type" and "@value" not in node:
            out[key] = [compact(v) for v in value] if isinstance(value, list) else compact(value)
        elif key.startswith("@"):
            out[key] = _walk(value, compact)
        else:
            out[compact(key)] = _walk(value, compact)
    return out


def with_context(expanded: bytes, prefixes: Mapping[str, str]) -> bytes:
    """``expanded`` JSON-LD rewritten with an inline ``@context`` of the ``prefixes`` it uses."""
    document = json.loads(expanded or b"[]")
    used = {p: ns for p, ns in sorted(prefixes.items()) if p not in ("_", "http", "https")
            and ns.encode() in expanded}
    graph = _walk(document, compactor(used))
    compacted = {"@context": used, "@graph": graph if isinstance(graph, list) else [graph]}
    return (json.dumps(compacted, ensure_ascii=False, indent=1) + "\n").encode()
