"""Every example query parses, has a title, and answers on the tour (≥ 1 row, ASK true)."""

import pytest

from tourkg import sparql
from tourkg.queries import examples
from tourkg.result_table import TABLE_FORMATS, to_table


def test_at_least_ten_examples():
    assert len(examples()) >= 10


def test_examples_have_titles_and_unique_slugs():
    assert all(e.title for e in examples()) and len({e.slug for e in examples()}) == len(examples())


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.slug)
def test_example_answers_on_the_tour(tour_publisher, example):
    request = sparql.check_query(sparql.QueryRequest(example.text), tour_publisher.settings.max_query_length)
    table = to_table(sparql.run_query(tour_publisher.store, request, TABLE_FORMATS))
    assert table.rows and table.boolean is not False
