"""Crawl the site from ``/`` following every local link: no broken links, every page valid HTML with a
title, a language, one ``<h1>`` and JSON-LD that parses."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import html5lib
import pytest
import requests

#: Other components' pages are checked for status only (their HTML is tested with them).
NOT_FOLLOWED = ("/sparql",)
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.h1 = 0
        self.jsonld: list[str] = []
        self._in_jsonld = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("a", "link") and attributes.get("href"):
            self.links.append(attributes["href"])
        self.h1 += tag == "h1"
        self._in_jsonld = tag == "script" and attributes.get("type") == "application/ld+json"

    def handle_endtag(self, tag):
        self._in_jsonld = False

    def handle_data(self, data):
        if self._in_jsonld:
            self.jsonld.append(data)


@pytest.fixture(scope="module")
def crawl(live_url) -> dict[str, tuple[requests.Response, _Page | None]]:
    """Every local URL reachable from ``/`` → its final response and, for HTML, the parsed page."""
    seen: dict[str, tuple[requests.Response, _Page | None]] = {}
    queue = [live_url + "/"]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        response = requests.get(url, headers={"Accept": BROWSER}, timeout=30)
        page = None
        if response.headers.get("Content-Type", "").startswith("text/html") and not _skip(url):
            page = _Page()
            page.feed(response.text)
            queue += [u for u in (_local(live_url, url, href) for href in page.links) if u and u not in seen]
        seen[url] = (response, page)
    return seen


def _skip(url: str) -> bool:
    return urlsplit(url).path.startswith(NOT_FOLLOWED)


def _local(root: str, page_url: str, href: str) -> str | None:
    absolute = urldefrag(urljoin(page_url, href))[0]
    return absolute if absolute.startswith(root + "/") else None


def test_crawl_reaches_the_resources(crawl):
    paths = {urlsplit(u).path for u in crawl}
    assert {"/page/country/panama", "/page/person/nayib-bukele", "/ontology", "/dump.ttl"} <= paths
    assert len(paths) > 100


def test_every_link_resolves(crawl):
    broken = [(url, r.status_code) for url, (r, _p) in crawl.items() if r.status_code != 200]
    assert broken == []


def test_every_page_is_valid_html(crawl):
    parser = html5lib.HTMLParser(strict=True)
    invalid = []
    for url, (response, page) in crawl.items():
        if page is not None:
            try:
                parser.parse(response.text)
            except html5lib.html5parser.ParseError as exc:
                invalid.append((url, str(exc)))
    assert invalid == []


def test_every_page_has_title_lang_one_h1_and_jsonld(crawl):
    problems = []
    for url, (response, page) in crawl.items():
        if page is None:
            continue
        text = response.text
        if "<title>" not in text or '<html lang="' not in text or page.h1 != 1 or not page.jsonld:
            problems.append(url)
        for block in page.jsonld:
            json.loads(block)
    assert problems == []
