"""Links in archived pages, clicked in Debian's Chromium: a reader never lands on the live
web, nor on the app's own pages, without being told.

The archived page links to a page on its site that onrecord never captured (the "live
web": the loopback site counts visits), to a relative path with ``target=_top`` (in the
archived copy, served from the app's origin, that path is an app page), and to a page
onrecord did capture.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archive.store import Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.appserver import serve_app
from tests.browsers import chromium, needs_chromium
from tests.loopback import LoopbackServer
from web import create_app, links

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]

HTML = {"Content-Type": "text/html; charset=utf-8"}
LINKS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A page of links</title></head>
<body><h1>A page of links</h1>
<p><a id="live" href="{live}">the live web</a></p>
<p><a id="app" href="/captures" target="_top">a path that is also the app's</a></p>
<p><a id="archived" href="/pages/other">a page onrecord captured</a></p>
</body></html>
"""
OTHER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The other page</title></head>
<body><h1>The other page</h1><p>Captured too.</p></body></html>
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("links") / "archive"
    with LoopbackServer() as pages:
        pages.route("/pages/links", body=LINKS.format(live=pages.url("/live")), headers=HTML)
        pages.route("/pages/other", body=OTHER, headers=HTML)
        pages.route("/live", body="<h1>The live web</h1>", headers=HTML)
        pages.route("/captures", body="<h1>The site's own captures page</h1>", headers=HTML)
        init_archive(root)
        with (
            Store.open(root) as store,
            PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
        ):
            pipeline = Pipeline(store, http)
            pipeline.capture(pages.url("/pages/links"))
            pipeline.capture(pages.url("/pages/other"))
        with serve_app(create_app({"ARCHIVE": str(root)})) as url:
            yield pages, url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()


def raw(pages: LoopbackServer, path: str) -> str:
    return links.raw_capture_path(pages.url(path), datetime.now(UTC))


def test_a_link_to_the_live_web_in_an_archived_copy_says_where_it_leads(page, world):
    pages, app = world
    page.goto(app + raw(pages, "/pages/links"))
    page.click("#live")
    page.wait_for_selector("h1")
    assert page.url.startswith(app + "/")
    assert page.inner_text("h1") == "onrecord has no capture of this link"
    assert page.inner_text("code.live-url") == pages.url("/live")
    assert pages.hits("/live") == 0


def test_a_target_top_link_to_an_app_path_does_not_navigate_the_app(page, world):
    pages, app = world
    page.goto(app + raw(pages, "/pages/links"))
    page.click("#app")
    page.wait_for_selector("h1")
    assert page.url != app + links.captures_path()
    assert page.inner_text("code.live-url") == pages.url("/captures")  # the site's, not ours


def test_links_in_the_framed_copy_stay_in_the_frame_and_in_the_archive(page, world):
    pages, app = world
    page.goto(app + links.capture_path(pages.url("/pages/links"), datetime.now(UTC)))
    capture_page = page.url
    frame = page.frame_locator("iframe.archived")
    frame.locator("#archived").click()
    frame.locator("h1", has_text="The other page").wait_for(timeout=20_000)
    page.goto(capture_page)
    frame.locator("#app").click()
    frame.locator("h1", has_text="onrecord has no capture").wait_for(timeout=20_000)
    assert page.url == capture_page
    assert pages.hits("/captures") == 0 and pages.hits("/live") == 0
