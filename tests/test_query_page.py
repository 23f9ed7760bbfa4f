"""The query page at /sparql for browsers: form, examples, results table, errors in place, escaping."""

import html5lib
import pytest

from tourkg.queries import examples

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
LEADERS = next(e for e in examples() if e.slug == "02-leaders")


def page(client, **params):
    return client.get("/sparql", query_string=params, headers=BROWSER)


def dom(response):
    return html5lib.parse(response.data, namespaceHTMLElements=False)


def test_page_has_the_form(client):
    document = dom(page(client))
    form = document.find(".//form[@id='query-form']")
    assert form.get("method") == "get" and form.find(".//textarea[@name='query']") is not None
    assert form.find(".//select[@name='format']") is not None


def test_form_prefilled_with_an_example(client):
    assert dom(page(client)).find(".//textarea").text == examples()[0].text


def test_page_lists_at_least_ten_examples(client):
    items = dom(page(client)).findall(".//section[@class='examples']//li/a")
    assert len(items) >= 10 and [a.text for a in items] == [e.title for e in examples()]


def test_format_selector_offers_every_format(client):
    values = [o.get("value") for o in dom(page(client)).findall(".//select[@name='format']/option")]
    assert {"html", "json", "xml", "csv", "tsv", "turtle", "ntriples", "jsonld", "rdfxml"} <= set(values)


def test_page_uses_no_inline_script_or_style(client):
    document = dom(page(client))
    assert all(s.get("src") for s in document.iter("script"))
    assert not any(e.get("style") for e in document.iter())


def test_results_rendered_as_table(client):
    document = dom(page(client, query=LEADERS.text))
    rows = document.findall(".//section[@class='results']//tbody/tr")
    assert len(rows) == 5 and "Mulino" in "".join(rows[0].itertext())


def test_results_keep_the_query_in_the_form(client):
    assert dom(page(client, query=LEADERS.text)).find(".//textarea").text == LEADERS.text


def test_local_iris_link_to_their_pages(client):
    query = "SELECT ?v { ?v a <https://w3id.org/tourkg/ontology#Visit> } ORDER BY ?v LIMIT 1"
    links = [a.get("href") for a in dom(page(client, query=query)).findall(".//tbody//a")]
    assert links == ["/page/visit/costa-rica"]


def test_external_iris_link_out(client):
    query = "SELECT ?x { BIND(<https://www.geonames.org/3703430> AS ?x) }"
    assert dom(page(client, query=query)).find(".//tbody//a").get("href") == "https://www.geonames.org/3703430"


def test_non_http_iris_are_not_links(client):
    query = "SELECT ?x { BIND(IRI('javascript:alert(1)') AS ?x) }"
    assert dom(page(client, query=query)).find(".//tbody//a") is None


def test_literal_language_and_datatype_shown(client):
    query = ('SELECT ?a ?b { BIND("Panamá"@es AS ?a) '
             'BIND("2025-02-01"^^<http://www.w3.org/2001/XMLSchema#date> AS ?b) }')
    cells = dom(page(client, query=query)).findall(".//tbody/tr/td")
    assert cells[0].find(".//span[@class='lang']").text == "@es"
    assert cells[1].find(".//span[@class='datatype']").text == "xsd:date"


def test_literal_html_is_escaped(client):
    response = page(client, query='SELECT ?x { BIND("<script>alert(1)</script>" AS ?x) }')
    assert b"<script>alert(1)" not in response.data and b"&lt;script&gt;alert(1)" in response.data


@pytest.mark.parametrize(("query", "kinds"), [
    ("SELECT * { ?s ?p ?o } LIMIT 1", {"json", "xml", "csv", "tsv"}),
    ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", {"turtle", "ntriples", "jsonld", "rdfxml", "trig", "nquads"}),
])
def test_download_links_for_every_format(client, query, kinds):
    links = dom(page(client, query=query)).findall(".//p[@class='downloads']/a")
    assert {a.get("href").rsplit("format=", 1)[1].split("&")[0] for a in links} == kinds


def test_download_link_gives_the_same_result(client):
    link = dom(page(client, query=LEADERS.text)).find(".//p[@class='downloads']/a").get("href")
    assert len(client.get(link).get_json()["results"]["bindings"]) == 5


def test_ask_shows_the_answer(client):
    title = dom(page(client, query="ASK {}")).find(".//h2[@id='results-title']")
    assert "Answer: yes" in "".join(title.itertext())


def test_construct_shown_as_triples(client):
    document = dom(page(client, query="CONSTRUCT WHERE { ?s ?p ?o } LIMIT 3"))
    assert [th.text for th in document.findall(".//thead//th")] == ["subject", "predicate", "object"]


def test_syntax_error_shown_in_page_with_400(client):
    response = page(client, query="SELECT * WHERE { ?s ?p }")
    assert response.status_code == 400
    document = dom(response)
    message = document.find(".//section[@class='error']//pre").text
    assert "line 1, column" in message and message.endswith("^")
    assert document.find(".//textarea").text == "SELECT * WHERE { ?s ?p }"


@pytest.mark.parametrize(("body", "content_type", "status"), [
    ({"query": "CLEAR ALL"}, None, 403),
    ({"query": "SELECT * WHERE { ?s ?p }"}, None, 400),
    ({"query": "ASK {}" + " " * 20_001}, None, 413),
    ("SELECT * WHERE { ?s ?p }", "application/sparql-query", 400),
])
def test_posted_query_kept_in_the_page_after_an_error(client, body, content_type, status):
    headers = {**BROWSER, **({"Content-Type": content_type} if content_type else {})}
    response = client.post("/sparql", data=body, headers=headers)
    assert response.status_code == status
    expected = body["query"] if isinstance(body, dict) else body
    assert dom(response).find(".//textarea").text == expected


def test_ask_downloads_only_formats_with_a_boolean(client):
    links = dom(page(client, query="ASK {}")).findall(".//p[@class='downloads']/a")
    assert {a.get("href").rsplit("format=", 1)[1].split("&")[0] for a in links} == {"json", "xml"}


@pytest.mark.parametrize(("query", "status"), [
    ("CLEAR ALL", 403),
    ("SELECT * { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", 403),
])
def test_refusals_shown_in_page(client, query, status):
    response = page(client, query=query)
    assert response.status_code == status and dom(response).find(".//section[@class='error']") is not None


def test_format_parameter_from_the_form_downloads(client):
    response = page(client, query=LEADERS.text, format="csv")
    assert response.headers["Content-Type"].startswith("text/csv")


def test_format_html_from_curl_gets_the_page(client):
    response = client.get("/sparql", query_string={"query": "ASK {}", "format": "html"})
    assert response.headers["Content-Type"].startswith("text/html")
