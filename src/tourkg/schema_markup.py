"""The schema.org JSON-LD a resource page embeds for search engines, from its ``ResourceView``."""

from __future__ import annotations

from typing import Any

from tourkg.describe import ResourceView, Value
from tourkg.namespaces import SCHEMA, SKOS


def _schema_value(value: Value) -> Any:
    if value.link is not None:
        return {"@id": value.link.iri, "name": value.text}
    if value.datatype == "xsd:integer" and value.text.lstrip("-").isdigit():
        return int(value.text)
    return value.text


def schema_org(view: ResourceView, page_url: str) -> dict[str, Any]:
    """The schema.org JSON-LD object embedded in the page for search engines: the resource's own
    schema.org statements (dates, location, attendees, job title, ...), with labels for linked things,
    in the page's language; SKOS concepts become ``DefinedTerm``s of their scheme."""
    schema = str(SCHEMA)
    schema_types = [t.iri[len(schema):] for t in view.types if t.iri.startswith(schema)]
    concept = any(t.iri == str(SKOS.Concept) for t in view.types)
    data: dict[str, Any] = {"@context": "https://schema.org", "@id": view.iri,
                            "@type": schema_types or ("DefinedTerm" if concept else "Thing"),
                            "name": view.label, "url": page_url}
    if view.description:
        data["description"] = view.description
    if view.same_as:
        data["sameAs"] = list(view.same_as)
    for group in view.groups:
        key = group.predicate.iri[len(schema):] if group.predicate.iri.startswith(schema) else None
        if concept and group.predicate.iri == str(SKOS.inScheme):
            key = "inDefinedTermSet"
        if not key or key in data:
            continue
        values = [v for v in group.values if v.lang in (None, view.lang)] or list(group.values)
        found = [_schema_value(v) for v in values]
        data[key] = found[0] if len(found) == 1 else found
    return data


