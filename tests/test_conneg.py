"""Content negotiation as a table: Accept headers → chosen format, or 406 (``web/conneg.py``)."""

import pytest

from tourkg import formats
from tourkg.errors import NotAcceptable
from tourkg.web.conneg import SERVICE_OFFERS, choose_format, choose_query_formats, negotiate, wants_page

FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CHROME = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
          "application/signed-exchange;v=b3;q=0.7")
SPARQLWRAPPER_JSON = "application/sparql-results+json,application/json,text/javascript,application/javascript"
RDFLIB_XML = "application/sparql-results+xml, application/rdf+xml"
OFFERS = ["application/sparql-results+json", "text/csv", "text/turtle", "text/html"]


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "application/sparql-results+json"),
    ("", "application/sparql-results+json"),
    ("*/*", "application/sparql-results+json"),
    ("text/*", "text/csv"),
    ("text/csv", "text/csv"),
    ("text/csv;q=0.5, text/turtle", "text/turtle"),
    ("text/csv; charset=utf-8", "text/csv"),
    ("TEXT/CSV", "text/csv"),
    ("*/*, text/csv;q=0", "application/sparql-results+json"),
    ("text/*, text/csv;q=0", "text/turtle"),
    ("application/sparql-results+json;q=0, text/csv;q=0.1", "text/csv"),
    ("image/png", None),
    ("text/csv;q=0", None),
    (FIREFOX, "text/html"),
    (CHROME, "text/html"),
])
def test_negotiate(accept, expected):
    assert negotiate(accept, OFFERS) == expected


@pytest.mark.parametrize(("accept", "results", "graph"), [
    (None, "json", "turtle"),
    ("*/*", "json", "turtle"),
    (SPARQLWRAPPER_JSON, "json", "jsonld"),  # application/json names JSON-LD for a graph
    (RDFLIB_XML, "xml", "rdfxml"),
    ("application/sparql-results+xml", "xml", None),
    ("text/tab-separated-values", "tsv", None),
    ("application/n-triples", None, "ntriples"),
    ("application/ld+json", None, "jsonld"),
    ("application/n-quads", None, "nquads"),
    ("text/turtle;q=0.9, application/sparql-results+json;q=0.8", "json", "turtle"),
    ("text/*", "csv", "turtle"),
    ("application/json", "json", "jsonld"),
])
def test_query_formats_by_accept(accept, results, graph):
    chosen = choose_query_formats(accept, None)
    assert (getattr(chosen.results, "name", None), getattr(chosen.graph, "name", None)) == (results, graph)


@pytest.mark.parametrize(("override", "results", "graph"), [
    ("json", "json", "jsonld"),
    ("xml", "xml", "rdfxml"),
    ("csv", "csv", None),
    ("tsv", "tsv", None),
    ("ttl", None, "turtle"),
    ("turtle", None, "turtle"),
    ("nt", None, "ntriples"),
    ("jsonld", None, "jsonld"),
    ("rdf", None, "rdfxml"),
    ("rdfxml", None, "rdfxml"),
    ("trig", None, "trig"),
    ("nq", None, "nquads"),
    ("n3", None, "turtle"),
    ("application/sparql-results+json", "json", None),
    ("text/turtle", None, "turtle"),
])
def test_format_parameter_overrides_accept(override, results, graph):
    chosen = choose_query_formats("text/csv", override)
    assert (getattr(chosen.results, "name", None), getattr(chosen.graph, "name", None)) == (results, graph)


@pytest.mark.parametrize(("accept", "override", "boolean"), [
    (None, None, "json"),
    ("*/*", None, "json"),
    ("text/csv, */*;q=0.1", None, "json"),  # ASK falls back to a format that has a boolean
    ("text/tab-separated-values, application/sparql-results+xml;q=0.5", None, "xml"),
    ("text/csv", None, None),
    ("text/tab-separated-values", None, None),
    ("text/*", None, None),
    (None, "csv", None),
    (None, "tsv", None),
    (None, "json", "json"),
    ("text/csv", "xml", "xml"),
    (None, "ttl", None),
])
def test_ask_formats_are_json_or_xml_only(accept, override, boolean):
    chosen = choose_query_formats(accept, override)
    assert getattr(chosen.boolean, "name", None) == boolean


def test_unknown_format_parameter_is_406_listing_offers():
    with pytest.raises(NotAcceptable) as caught:
        choose_query_formats(None, "docx")
    assert "json" in caught.value.offers and "turtle" in caught.value.offers


def test_accept_nothing_offered_is_406_listing_media_types():
    with pytest.raises(NotAcceptable) as caught:
        choose_query_formats("image/png", None)
    assert "application/sparql-results+json" in caught.value.offers


@pytest.mark.parametrize(("accept", "override", "page"), [
    (FIREFOX, None, True),
    (CHROME, None, True),
    ("*/*", None, False),
    (None, None, False),
    (SPARQLWRAPPER_JSON, None, False),
    (FIREFOX, "json", False),
    ("*/*", "html", True),
])
def test_wants_page(accept, override, page):
    assert wants_page(accept, override) is page


@pytest.mark.parametrize(("accept", "expected"), [
    (FIREFOX, "html"),
    ("*/*", "turtle"),
    (None, "turtle"),
    ("application/rdf+xml", "rdfxml"),
    ("application/ld+json", "jsonld"),
])
def test_service_offers(accept, expected):
    assert choose_format(accept, None, SERVICE_OFFERS).name == expected


def test_query_offers_prefer_results_on_ties():
    assert formats.by_media_type(negotiate("*/*", formats.media_types(formats.RESULTS))).name == "json"


ALL_RDF_REFUSED = ("text/turtle;q=0, application/n-triples;q=0, application/ld+json;q=0, "
                   "application/rdf+xml;q=0, text/html;q=0, */*;q=0.1")


@pytest.mark.parametrize(("accept", "expected"), [
    ("text/turtle;q=0, */*", "ntriples"),  # a refusal is not undone by an alias matching */*
    ("application/x-turtle", "turtle"),  # an alias the client names itself still counts
    ("application/xhtml+xml", "html"),
    ("application/rdf+xml;q=0.5, text/turtle;q=0.9", "turtle"),
    (ALL_RDF_REFUSED, None),
])
def test_id_formats_honour_refusals_and_aliases(accept, expected):
    from tourkg.web.conneg import negotiate_format

    chosen = negotiate_format(accept, (*formats.GRAPHS, formats.HTML))
    assert getattr(chosen, "name", None) == expected


def test_not_acceptable_lists_canonical_media_types_only():
    with pytest.raises(NotAcceptable) as caught:
        choose_format("image/png", None, formats.GRAPHS)
    assert "text/turtle" in caught.value.message and "application/x-turtle" not in caught.value.message


def test_a_remembered_choice_is_the_choice_for_those_offers_only():
    """Choices are remembered per Accept header and offers: the same header asked again, or asked of
    other offers (in another order, or a subset), is answered for what is offered this time."""
    from tourkg.web.conneg import _best_index, negotiate_format

    accept = "text/csv;q=0.9, application/n-triples;q=0.8, text/turtle;q=0.1"
    hits = _best_index.cache_info().hits
    for _ in range(2):  # the second round is answered from what the first remembered
        assert negotiate_format(accept, formats.RESULTS).name == "csv"
        assert negotiate_format(accept, formats.RDF).name == "ntriples"
        assert negotiate_format(accept, tuple(reversed(formats.RDF))).name == "ntriples"
        assert negotiate_format(accept, (formats.by_name("turtle", formats.RDF),)).name == "turtle"
        assert negotiate_format(accept, (formats.HTML,)) is None
    assert _best_index.cache_info().hits - hits >= 5  # this test's own second round
    assert _best_index.cache_info().maxsize == 1024  # bounded: clients choose the headers
