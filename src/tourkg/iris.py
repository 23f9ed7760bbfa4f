"""Canonical IRIs ⇄ local paths (``/id``, ``/page``, ``/data``), and base-URI rewriting at load.

The data keeps canonical IRIs (``{base}id/country/panama``); a server on any origin maps its own
request paths onto them, so a local server is navigable without touching the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

ID, PAGE, DATA = "id/", "page/", "data/"


@dataclass(frozen=True)
class IriMap:
    """Maps IRIs under ``base`` to paths on the serving origin and back."""

    base: str

    # -- IRIs ---------------------------------------------------------------------------------------
    def iri_for_id_path(self, rest: str) -> str:
        """IRI of ``/id/{rest}``."""
        return self.base + ID + rest

    def iri_for_path(self, path: str) -> str:
        """IRI for an arbitrary request path on our origin (``/x/y`` → ``{base}x/y``)."""
        return self.base + path.lstrip("/")

    def id_rest(self, iri: str) -> str | None:
        """``type/slug`` for an IRI under ``{base}id/``, else ``None``."""
        prefix = self.base + ID
        if iri.startswith(prefix) and len(iri) > len(prefix) and "#" not in iri and "?" not in iri:
            return iri[len(prefix):]
        return None

    def is_local(self, iri: str) -> bool:
        """True when the IRI lives under our base (and so is served here)."""
        return iri.startswith(self.base)

    # -- paths --------------------------------------------------------------------------------------
    def page_path(self, iri: str) -> str:
        """The HTML page describing ``iri``; IRIs outside ``{base}id/`` use ``/page?uri=``."""
        rest = self.id_rest(iri)
        if rest is not None:
            return "/" + PAGE + quote(rest, safe="/-._~")
        if self.is_ontology(iri):
            _, hash_, term = iri.partition("#")
            return "/ontology" + (hash_ + quote(term, safe="-._~") if term else "")
        return "/page?" + urlencode({"uri": iri})

    def is_ontology(self, iri: str) -> bool:
        """True for the ontology, its terms (``{base}ontology#T``) and versions (``{base}ontology/0.1``):
        all documented by the one ``/ontology`` document."""
        return iri == self.base + "ontology" or iri.startswith((self.base + "ontology#",
                                                                 self.base + "ontology/"))

    def data_path(self, iri: str, extension: str) -> str:
        """The RDF document describing ``iri`` in the format with file ``extension``."""
        rest = self.id_rest(iri)
        if rest is not None:
            return "/" + DATA + quote(rest, safe="/-._~") + "." + extension
        if self.is_ontology(iri):
            return "/ontology?" + urlencode({"format": extension})
        return "/data?" + urlencode({"uri": iri, "format": extension})

    def list_path(self, iri: str, predicate: str, incoming: bool, offset: int = 0) -> str:
        """The paginated list of the values of one property of ``iri`` (a hub's "more" link)."""
        rest = self.id_rest(iri)
        if rest is not None:
            page = "/" + PAGE + quote(rest, safe="/-._~")
        else:
            page = "/page?" + urlencode({"uri": iri})
        params = {"property": predicate, "direction": "in" if incoming else "out"}
        if offset:
            params["offset"] = str(offset)
        return page + ("&" if "?" in page else "?") + urlencode(params)

    def sparql_describe_path(self, iri: str) -> str:
        """A link to the query page pre-filled with ``DESCRIBE <iri>``."""
        return "/sparql?" + urlencode({"query": f"DESCRIBE <{iri}>"})


def rewrite_iri(value: str, old_base: str, new_base: str) -> str:
    """Move ``value`` from ``old_base`` to ``new_base`` when it lives there (base-URI rewriting)."""
    if old_base != new_base and value.startswith(old_base):
        return new_base + value[len(old_base):]
    return value
