"""The front end in Debian's Chromium: search, open a quote, copy a citation, follow the
link to the archived copy, and show that an archived page's script cannot reach the app.

The app is served by waitress in a thread on 127.0.0.1; the archived pages come from a
loopback server that also counts the beacons a hostile page's script would send.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.appserver import serve_app
from tests.browsers import chromium, needs_chromium
from tests.loopback import LoopbackServer
from tests.webarchive import build_web_archive
from web import create_app, links

# Written on every run for people to look at; docs/quote-page.png (in the README) is a
# copy of one, committed by hand when the page changes.
SCREENSHOT = Path(__file__).resolve().parent.parent / "test-artifacts" / "quote-page.png"

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest.fixture(scope="module")
def pages_server():
    with LoopbackServer() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory, pages_server):
    return build_web_archive(tmp_path_factory.mktemp("browser") / "archive", pages_server)


@pytest.fixture(scope="module")
def app_url(site):
    with serve_app(create_app({"ARCHIVE": str(site.root)}), threads=4) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    context.add_cookies([{"name": "reader", "value": "app-secret", "url": app_url}])
    opened = context.new_page()
    yield opened
    context.close()


def test_search_open_quote_copy_citation_and_follow_to_the_archive(page, site, app_url):
    page.goto(app_url + links.search_path('"every count will be published"'))
    page.click(f'li.hit[data-id="{site.pledge}"] blockquote a')
    page.wait_for_url(app_url + links.quote_path(site.pledge))
    assert page.inner_text("figcaption a.speaker") == "Dana Whitfield"

    page.click('button.copy[data-copy-target="cite-apa"]')
    page.wait_for_selector('button.copy[data-copy-target="cite-apa"][data-copied="yes"]')
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.text_content("pre#cite-apa")
    assert copied.startswith("Office of the County Clerk. (2026, November 4).")

    page.wait_for_timeout(2100)  # the button's label is restored before the screenshot
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.click("a.archived-copy")
    frame = page.frame_locator("iframe.archived")
    assert frame.locator("h1").inner_text() == "County certifies the November count"


def test_a_script_in_an_archived_page_cannot_reach_the_app(page, site, app_url, pages_server):
    page.goto(app_url + links.quote_path(site.hostile_quote))
    page.click("a.archived-copy")
    frame = page.frame_locator("iframe.archived")
    assert "Leaked memo" in frame.locator("h1").inner_text()
    raw = page.locator("iframe.archived").get_attribute("src")
    page.goto(app_url + raw)  # the archived copy opened on its own, outside the frame
    assert "Leaked memo" in page.inner_text("h1")
    page.wait_for_timeout(800)
    assert pages_server.hits("/beacon") == 0

    # Control: the same page served live, unsandboxed, from the same host (cookies ignore
    # ports) runs its probe, and the beacon carries the app's cookie. So the watch works,
    # and only the sandbox stood between the archived copy and that cookie.
    page.goto(site.hostile_url)
    page.wait_for_timeout(800)
    reports = [r.target for r in pages_server.requests if r.path == "/beacon"]
    assert any("app-secret" in report for report in reports)
