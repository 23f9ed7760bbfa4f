"""A real browser (Debian's headless chromium, driven by selenium) reads the site as a person would."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
INSTALLED = CHROMIUM.exists() and CHROMEDRIVER.exists()
REQUIRED = os.environ.get("TOURKG_REQUIRE_BROWSER") == "1"
REASON = ("Debian chromium/chromedriver not installed: apt-get install chromium chromium-driver "
          "(CI installs them)")

pytestmark = pytest.mark.skipif(not INSTALLED and not REQUIRED, reason=REASON)


@pytest.fixture(scope="module")
def driver():
    if not INSTALLED:
        pytest.fail(f"TOURKG_REQUIRE_BROWSER=1 but {REASON}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tourkg-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)


def console_errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_click_from_home_to_country_to_leader(driver, live_url):
    from selenium.webdriver.common.by import By

    driver.get(live_url + "/")
    assert "Linked Data" in driver.title
    driver.find_element(By.LINK_TEXT, "El Salvador").click()
    assert driver.find_element(By.TAG_NAME, "h1").text == "El Salvador"
    assert "Leader met" in driver.find_element(By.TAG_NAME, "main").text
    driver.find_element(By.LINK_TEXT, "Nayib Bukele").click()
    main = driver.find_element(By.TAG_NAME, "main").text
    assert driver.find_element(By.TAG_NAME, "h1").text == "Nayib Bukele"
    assert "Nayib Bukele" in main and "Visit to El Salvador" in main and "President of El Salvador" in main
    assert console_errors(driver) == []


def test_tour_page_draws_the_route(driver, live_url):
    from selenium.webdriver.common.by import By

    driver.get(live_url + "/page/tour/rubio-latin-america-tour")
    circles = driver.find_elements(By.CSS_SELECTOR, "figure.route-map svg circle")
    assert len(circles) == 5
    assert circles[0].size["width"] > 0
    assert console_errors(driver) == []


@pytest.mark.parametrize("path", ["/", "/page/tour/rubio-latin-america-tour", "/page/country/panama",
                                  "/ontology"])
def test_no_horizontal_overflow_on_a_phone(driver, live_url, path):
    driver.set_window_size(390, 844)
    try:
        driver.get(live_url + path)
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        assert console_errors(driver) == []
    finally:
        driver.set_window_size(1200, 900)


def test_search_box_suggests_as_you_type_and_works_without_javascript(driver, live_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(live_url + "/page/country/panama")
    box = driver.find_element(By.CSS_SELECTOR, "header .search-box input[name=q]")
    box.send_keys("buke")
    WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".suggestions a") and
        d.find_element(By.CSS_SELECTOR, ".suggestions").is_displayed())
    suggestion = driver.find_element(By.CSS_SELECTOR, ".suggestions a")
    assert "Bukele" in suggestion.text
    suggestion.click()
    assert driver.find_element(By.TAG_NAME, "h1").text == "Nayib Bukele"
    # the same box submits a plain form to the results page
    box = driver.find_element(By.CSS_SELECTOR, "header .search-box input[name=q]")
    box.send_keys("republica dominicana", Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: "/search?" in d.current_url)
    first = driver.find_element(By.CSS_SELECTOR, "ol.results a")
    assert "Dominicana" in first.text
    first.click()
    assert "Dominican" in driver.find_element(By.TAG_NAME, "h1").text
    assert console_errors(driver) == []


def test_no_horizontal_overflow_on_the_search_page_on_a_phone(driver, live_url):
    driver.set_window_size(390, 844)
    try:
        driver.get(live_url + "/search?q=panama")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
    finally:
        driver.set_window_size(1200, 900)


def test_another_origin_reads_the_answers_and_their_headers(driver, live_url):
    """A notebook or web app on another origin fetches a resource, a dump and a query answer: CORS lets
    its script read each body and the headers it needs to cache and name them (ETag, Link, Vary,
    Content-Disposition), which a browser hides unless they are exposed."""
    with _another_origin() as other:
        driver.get(other)
        read = _fetch_three(driver, live_url)
    assert isinstance(read, list), read
    resource, dump, answer = read
    for got in read:
        assert got["status"] == 200 and got["type"] == "cors" and got["length"] > 0, got
        assert got["headers"]["etag"] or got is answer, got
    assert resource["headers"]["content-type"].startswith("text/turtle")
    assert resource["headers"]["link"]
    assert dump["headers"]["content-disposition"].startswith("attachment")
    assert answer["headers"]["content-type"].startswith("application/sparql-results+json")
    assert "accept" in (answer["headers"]["vary"] or "").lower()  # negotiated: caches must know


@contextlib.contextmanager
def _another_origin() -> Iterator[str]:
    """A page of another site (its own server on another port), with no Content-Security-Policy of its
    own, as a notebook or a web app would be."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            body = b"<!doctype html><title>another site</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _fetch_three(driver, base: str) -> list | str:
    """The page's script fetches three answers of ``base``; what it could read of each, or the error."""
    return driver.execute_async_script("""
        const [base, done] = arguments;
        const names = ["etag", "link", "vary", "content-disposition", "content-type"];
        const one = (path, init) => fetch(base + path, init).then(async r => ({
            status: r.status, type: r.type, length: (await r.text()).length,
            headers: Object.fromEntries(names.map(n => [n, r.headers.get(n)]))}));
        Promise.all([
            one("/data/country/panama.ttl"),
            one("/dump.nt", {headers: {"Accept": "application/n-triples"}}),
            one("/sparql?query=" + encodeURIComponent("ASK {}"),
                {headers: {"Accept": "application/sparql-results+json"}}),
        ]).then(done, e => done(String(e)));""", base)
