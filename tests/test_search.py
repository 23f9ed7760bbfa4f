"""Label search (issue 9): names and labels in every language, case- and accent-insensitive, whole words
and prefixes, ranked (exact, then prefix, then word), a type filter, HTML and JSON, and bad input
answered clearly. Against a real server on loopback, on every engine."""

import pytest
import requests

from tourkg.search import Entry, SearchIndex, normalize, shard_name

JSON = {"Accept": "application/json"}
PANAMA = "https://w3id.org/tourkg/id/country/panama"


def search(url, q, **params):
    response = requests.get(url + "/search", params={"q": q, **params}, headers=JSON, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["results"]


# -- the index itself --------------------------------------------------------------------------------
def test_normalize_folds_case_accents_and_punctuation():
    assert normalize("  Panamá  City ") == "panama city"
    assert normalize("MIGRACIÓN") == "migracion"
    assert normalize("Rubio's tour—2025") == "rubio s tour 2025"


def index_of(*labels):
    return SearchIndex(Entry(f"http://example.org/{i}", label, "en", ("http://example.org/Thing",))
                       for i, label in enumerate(labels))


def test_ranking_exact_then_prefix_then_word_then_word_prefix():
    index = index_of("Panama Canal", "Panama", "Republic of Panama", "Panamanian leaders", "Canada")
    assert [h.label for h in index.search("panama")] == ["Panama", "Panama Canal", "Republic of Panama",
                                                         "Panamanian leaders"]
    assert [h.rank for h in index.search("panama")] == [0, 1, 2, 3]
    assert [h.label for h in index.search("can")] == ["Canada", "Panama Canal"]


def test_every_word_of_the_query_must_match():
    index = index_of("Secretary of State", "State visit", "Secretary General")
    assert [h.label for h in index.search("secretary state")] == ["Secretary of State"]
    assert index.search("sec gen")[0].label == "Secretary General"
    assert index.search("nothing here") == []


def test_one_hit_per_resource_with_its_best_label():
    index = SearchIndex([Entry("http://example.org/p", "Panamá", "es", ()),
                         Entry("http://example.org/p", "Republic of Panama", "en", ())])
    hits = index.search("panama")
    assert len(hits) == 1 and hits[0].label == "Panamá" and hits[0].lang == "es"


def test_type_filter_by_local_name_or_iri():
    index = SearchIndex([Entry("http://example.org/a", "Panama", "en", ("https://schema.org/Country",)),
                         Entry("http://example.org/b", "Panama City", "en", ("https://schema.org/City",))])
    assert [h.iri for h in index.search("panama", "country")] == ["http://example.org/a"]
    assert [h.iri for h in index.search("panama", "https://schema.org/City")] == ["http://example.org/b"]


def test_type_filter_applies_before_the_candidate_cap():
    """A short prefix shared by thousands of visits still finds the one country asked for (the filter
    used to run on the first 2,000 candidates only, all visits here, and found nothing)."""
    visits = [Entry(f"http://example.org/v{i}", f"Ca visit {i}", "en", ("https://schema.org/Event",))
              for i in range(2500)]
    country = Entry("http://example.org/cz", "Cz country", "en", ("https://schema.org/Country",))
    index = SearchIndex([*visits, country])
    assert [h.iri for h in index.search("c", "country")] == ["http://example.org/cz"]
    assert len(index.search("c", "event", limit=100)) == 100 and index.search("c", "nothing") == []
    again = SearchIndex.from_arrays(index.to_arrays())  # as the engine reads it back from its folder
    assert [h.iri for h in again.search("c", "Country")] == ["http://example.org/cz"]


def test_index_survives_its_json_form_and_splits_into_shards():
    index = index_of("Panama", "Costa Rica", "Ωmega")
    again = SearchIndex.from_json(index.to_json())
    assert [h.iri for h in again.search("costa")] == [h.iri for h in index.search("costa")]
    shards = index.shards()
    assert set(shards) == {"pa", "co", "ri", "_3c9-6d"} and shard_name("ωm") == "_3c9-6d"
    assert all(kind == "full" for kind, _ in shards.values())


def test_words_in_any_script_are_split_like_latin_ones():
    """3,000 Cyrillic labels sharing their first letters: no shard passes 1,500 entries (they all went
    to one "_" shard, however large), and the longest prefix's shard of a word holds its entries."""
    index = index_of(*(f"Пример {i:04d}" for i in range(3000)))
    shards = index.shards()
    assert all(len(ids) <= 1500 for _kind, ids in shards.values())
    assert shards[shard_name("пр")][0] == "top"
    assert all(name.startswith("_") or (name.isascii() and name.isalnum()) for name in shards)
    assert index.entries[shards[shard_name("при")][1][0]].label.startswith("Пример")


def test_index_kept_in_the_prepared_folder_is_read_back_not_rebuilt(tmp_path):
    """The engine keeps the built arrays; a restart reads them (the store is not walked again), and a
    damaged or older file is rebuilt from the store rather than misread."""
    from tourkg.engines.searching import SearchHolder

    index = index_of("Panamá", "Costa Rica", "Ωmega", "Republic of Panama")
    again = SearchIndex.from_arrays(index.to_arrays())
    assert vars(again) == vars(index)
    walked = []

    def store():
        walked.append(1)
        import pyoxigraph as ox

        made = ox.Store()
        made.add(ox.Quad(ox.NamedNode("http://example.org/x"), ox.NamedNode("https://schema.org/name"),
                         ox.Literal("Panamá", language="es"), ox.NamedNode("http://example.org/g")))
        return made

    first = SearchHolder(store, tmp_path)
    assert [h[0] for h in first.search("panama", None, 5)] == ["http://example.org/x"]
    restarted = SearchHolder(lambda: pytest.fail("the index was rebuilt"), tmp_path)
    assert [h[0] for h in restarted.search("panama", None, 5)] == ["http://example.org/x"]
    assert len(walked) == 1
    (tmp_path / "search.pickle").write_bytes(b"not a pickle")
    assert [h[0] for h in SearchHolder(store, tmp_path).search("panama", None, 5)] == ["http://example.org/x"]
    assert len(walked) == 2


def test_a_large_shard_is_split_by_one_more_letter_and_keeps_its_best_entries():
    index = index_of(*(f"Visit {n}" for n in range(50)), *(f"Vienna {n}" for n in range(50)), "Vi")
    shards = index.shards(max_rows=60, top_rows=5)
    assert shards["vi"][0] == "top" and len(shards["vi"][1]) == 5
    assert shards["vis"][0] == shards["vie"][0] == "full" and len(shards["vis"][1]) == 50
    assert index.entries[shards["vi"][1][0]].label in {"Vi"} or any(
        index.entries[i].label == "Vi" for i in shards["vi"][1])


# -- over HTTP ---------------------------------------------------------------------------------------
def test_accents_and_case_do_not_matter(live_url):
    assert search(live_url, "PANAMA")[0]["iri"] == PANAMA
    assert any("migración" in r["label"].lower() for r in search(live_url, "migracion"))


def test_exact_before_prefix_before_word(live_url):
    results = search(live_url, "panama")
    assert results[0]["iri"] == PANAMA and results[0]["match"] == "exact"
    ranks = [r["match"] for r in results]
    order = ["exact", "prefix", "word", "word prefix"]
    assert [order.index(r) for r in ranks] == sorted(order.index(r) for r in ranks)


def test_both_languages_are_searched(live_url):
    spanish = search(live_url, "república dominicana")
    assert spanish and spanish[0]["language"] == "es" and "dominican-republic" in spanish[0]["iri"]
    english = search(live_url, "dominican republic")
    assert english[0]["iri"] == spanish[0]["iri"]


def test_prefix_of_a_word_finds_people(live_url):
    results = search(live_url, "buk")
    assert any("Bukele" in r["label"] for r in results)
    hit = next(r for r in results if "Bukele" in r["label"])
    assert "Person" in hit["type"] and hit["page"].endswith(hit["iri"].split("/id/")[1])


def test_type_filter(live_url):
    countries = search(live_url, "panama", type="country")
    assert countries and all("Country" in r["type"] for r in countries)
    assert search(live_url, "panama", type="person") == []


def test_json_has_what_autocomplete_needs(live_url):
    response = requests.get(live_url + "/search", params={"q": "costa"}, headers=JSON)
    assert response.headers["Content-Type"].startswith("application/json")
    assert "Accept" in response.headers["Vary"]
    first = response.json()["results"][0]
    assert set(first) >= {"iri", "label", "language", "type", "page"}
    page = requests.get(first["page"])
    assert page.status_code == 200 and "Costa Rica" in page.text


def test_html_results_link_to_pages_and_escape(live_url):
    response = requests.get(live_url + "/search", params={"q": "panama"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert 'href="/page/country/panama"' in response.text
    evil = requests.get(live_url + "/search", params={"q": "<script>alert(1)</script>"})
    assert evil.status_code == 200 and "<script>alert(1)" not in evil.text and "&lt;script&gt;" in evil.text


@pytest.mark.parametrize(("params", "status"), [({"q": ""}, 200), ({"q": "   "}, 200),
                                                ({"q": "x" * 201}, 400),
                                                ({"q": "panama", "limit": "lots"}, 400),
                                                ({"q": "panama", "limit": "0"}, 400),
                                                ({"q": "%%%'\"\\"}, 200), ({"q": "\u0000\u202e"}, 200)])
def test_bad_input_gets_a_clear_answer(live_url, params, status):
    for headers in ({}, JSON):
        response = requests.get(live_url + "/search", params=params, headers=headers)
        assert response.status_code == status, response.text
        assert "Traceback" not in response.text


def test_every_page_has_a_search_box_that_works_without_javascript(live_url):
    page = requests.get(live_url + "/page/country/panama").text
    assert 'role="search" action="/search" method="get"' in page and 'name="q"' in page
    assert "/static/search.js" in page


def test_index_built_beside_the_load_is_the_one_built_from_the_store(tmp_path):
    """Large inputs have their index built by a process of its own from a parse of the files, while the
    engine loads them: it must find exactly what the store holds (labels from any graph, types, blank
    subjects left out, ``--base-uri`` moves applied), and the engine must read it instead of walking
    the store."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import pyoxigraph as ox

    from tourkg.engines.process import _load_file
    from tourkg.engines.searching import SearchHolder, entries, parsed_entries

    trig = tmp_path / "graphs.trig"
    trig.write_text("""@prefix schema: <https://schema.org/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<http://example.org/g1> { <http://example.org/id/a> a schema:Country ; schema:name "Panamá"@es . }
<http://example.org/g2> { <http://example.org/id/a> a schema:Place ; skos:altLabel "Isthmus" .
  _:b schema:name "blank, not searched" . <http://example.org/id/c> schema:name 7 . }
{ <http://example.org/id/d> schema:name "Default graph" . }
""")
    root = Path(__file__).resolve().parents[1]
    inputs = [
        {"path": str(root / "data" / "tour.ttl"), "format": "TURTLE", "graph": "http://example.org/tour",
         "file_graph": "http://example.org/tour", "base_iri": "http://example.org/"},
        {"path": str(trig), "format": "TRIG", "graph": None, "file_graph": "http://example.org/file",
         "base_iri": "http://example.org/"},
    ]
    for rewrite in (None, ["http://example.org/id/", "https://data.example.net/id/"]):
        store = ox.Store()
        for item in inputs:
            _load_file(store, item, rewrite, False)
        expected = SearchIndex(entries(store))
        assert len(expected) > 50
        assert SearchIndex(parsed_entries(inputs, rewrite)).to_arrays() == expected.to_arrays()

    folder = tmp_path / "prepared"
    folder.mkdir()
    job = {"inputs": inputs, "rewrite": rewrite, "out": str(folder / "search.pickle")}
    subprocess.run([sys.executable, "-m", "tourkg.engines.searching"], input=json.dumps(job).encode(),
                   check=True, timeout=60)
    holder = SearchHolder(lambda: pytest.fail("the store was walked"), folder)
    assert holder.index().to_arrays() == expected.to_arrays()
    hits = holder.search("isthmus", None, 5)
    assert [h[0] for h in hits] == ["https://data.example.net/id/a"]
    assert hits[0][3] == ["https://schema.org/Country", "https://schema.org/Place"]

    broken = tmp_path / "broken.ttl"
    broken.write_text("<http://example.org/x> <http://example.org/p> .\n")
    job = {"inputs": [{**inputs[0], "path": str(broken)}], "out": str(tmp_path / "none.pickle")}
    failed = subprocess.run([sys.executable, "-m", "tourkg.engines.searching"],
                            input=json.dumps(job).encode(), timeout=60)
    assert failed.returncode == 1 and not (tmp_path / "none.pickle").exists()
