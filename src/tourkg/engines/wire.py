"""What crosses between the engine process and the web workers: terms as plain tuples, and the constants
both sides agree on. Standard library and pyoxigraph only: the engine process never imports rdflib."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

#: Properties read as a resource's human label, in order of preference: a name before a generic label,
#: so a person shows as "Nayib Bukele" rather than the article's "President Bukele".
LABEL_IRIS = ("http://www.w3.org/2004/02/skos/core#prefLabel", "https://schema.org/name",
              "http://www.w3.org/2000/01/rdf-schema#label", "http://purl.org/dc/terms/title",
              "https://schema.org/headline")
#: Most values a page or a description shows per property and direction; past it, a count and a link to
#: the paginated list (a hub such as a country may have a hundred thousand incoming links).
PAGE_VALUES = 50


def encode(term: Any) -> tuple:
    """A pyoxigraph term as a plain tuple: ``("u", iri)``, ``("b", id)``, ``("l", value, lang, datatype)``
    or ``("d",)`` for the default graph."""
    if isinstance(term, ox.NamedNode):
        return ("u", term.value)
    if isinstance(term, ox.BlankNode):
        return ("b", term.value)
    if isinstance(term, ox.Literal):
        return ("l", term.value, term.language, term.datatype.value)
    if isinstance(term, ox.DefaultGraph):
        return ("d",)
    raise TypeError(f"unsupported term {term!r}")


def encode_quad(quad: Any) -> tuple:
    """A pyoxigraph quad as four :func:`encode`\\ d terms."""
    return (encode(quad.subject), encode(quad.predicate), encode(quad.object), encode(quad.graph_name))
