"""The newsroom layer in Debian's Chromium, on the demo archive: an editor signs in,
corrects a quote's speaker and sees the correction on the quote page and in search; a
reader checks a pasted altered quote and sees the diff, and exports a search as CSV."""

from __future__ import annotations

import csv

import pytest

from tests.appserver import serve_app
from tests.browsers import chromium, needs_chromium
from web import create_app, exports, links
from web.demo import CIRCULATED, DEMO_EDITOR, DemoSite, build_demo

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]
ALARM = "That is the question everyone in the building is asking."


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("newsroom") / "archive"
    with DemoSite() as site:
        build_demo(root, site, echo=lambda _line: None)
    return root


@pytest.fixture(scope="module")
def app_url(demo_root):
    with serve_app(create_app({"ARCHIVE": str(demo_root)}), threads=4) as url:
        yield url


@pytest.fixture(scope="module")
def browser(demo_root):
    """The reader's browser, started once the demo is built: building it runs a browser
    of its own, and Playwright's sync API runs one at a time in a thread."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


def test_an_editor_corrects_a_speaker_and_search_follows(page, app_url):
    page.goto(app_url + links.search_path(f'"{ALARM.rstrip(".")}"', type="quote"))
    page.click("ol.hits li.hit.quote blockquote a")
    quote_url = page.url
    assert page.locator("figcaption .speaker").inner_text() == "A state official"
    assert page.locator("form.correction-form").count() == 0  # readers see no form
    page.click("a.signin")
    page.fill("input[name=name]", DEMO_EDITOR[0])
    page.fill("input[name=password]", DEMO_EDITOR[1])
    page.click("form.signin button")
    assert page.url == quote_url
    assert "editor (editor)" in page.locator("header .me").inner_text()
    page.select_option("form.correction-form select[name=kind]", "speaker")
    page.fill("form.correction-form input[name=speaker]", "Nadia Okafor")
    page.fill("form.correction-form input[name=reason]", "Named in the board's minutes")
    page.click("form.correction-form button")
    assert page.locator("figcaption .speaker").inner_text() == "Nadia Okafor"
    correction = page.locator("li.correction").inner_text()
    assert correction.startswith("Corrected on") and "by editor" in correction
    assert "Named in the board's minutes" in correction
    assert "A state official" in page.locator(".machine-attribution").inner_text()
    page.goto(app_url + links.search_path('speaker:"Nadia Okafor"'))
    assert ALARM.rstrip(".") in page.locator("ol.hits li.hit.quote").first.inner_text()
    assert "Nadia Okafor" in page.locator("ol.hits li.hit.quote .who").first.inner_text()


def test_a_reader_checks_an_altered_quote_and_sees_the_diff(page, app_url):
    page.goto(app_url + links.captures_path())
    page.click("header nav >> text=Check a quote")
    page.fill("form.check textarea[name=q]", CIRCULATED)
    page.click("form.check button")
    assert page.locator(".verdict").get_attribute("data-verdict") == "altered"
    match = page.locator("li.check-match").first
    assert "Helen Marchetti" in match.locator(".who").inner_text()
    assert [t.strip() for t in match.locator("ins").all_inner_texts()] == ["recounted"]
    assert "eligible" in " ".join(match.locator("del").all_inner_texts())


def test_the_checker_answers_as_one_types(page, app_url):
    page.goto(app_url + links.check_path())
    page.fill("form.check textarea[name=q]", CIRCULATED)  # no click: typing is enough
    live = page.wait_for_selector("section.live-check[data-verdict=altered]", timeout=10_000)
    assert live.query_selector(".verdict-label").inner_text() == "Altered"
    assert [i.inner_text().strip() for i in live.query_selector_all("ins")] == ["recounted"]
    assert "/quote/q-" in live.query_selector("a.quote-link").get_attribute("href")
    page.fill("form.check textarea[name=q]", "no such words anywhere here")
    page.wait_for_selector("section.live-check[data-verdict=not_found]", timeout=10_000)


def test_a_reader_exports_a_search_as_csv(page, app_url, tmp_path):
    page.goto(app_url + links.search_path("count", type="quote"))
    total = int(page.locator(".summary .total").inner_text())
    with page.expect_download() as download:
        page.click("a.export-csv")
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    with saved.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == exports.COLUMNS
    assert len(rows) == total
    assert all(row["permalink"].startswith(app_url + "/quote/") for row in rows)
