"""Browser captures in Debian's Chromium, recorded through warcprox, against loopback sites.

The statement page is an empty shell: its article and quotes exist only after a script
from a separate "CDN" host (another loopback address, 127.0.0.2) has run, and that host
also serves its stylesheet and its image. Captured in the browser, its quotes are found
and searchable, every resource is in the WARC as sent, and the screenshot is a real PNG
whose height the stylesheet sets; captured plainly, it has no quotes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import warcprox.warcproxy

from archive import ids
from archive.store import Store, init_archive
from scrapers.browser import BrowserConfig, BrowserSession
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.loopback import Reply
from tests.scriptsite import (
    HEADLINE,
    PAGE_HEIGHT,
    PAGE_PATH,
    RENDER_JS,
    SEAL,
    SHELL,
    SITE_CSS,
    png_size,
    script_site,
)
from web import indexing

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = BrowserConfig().viewport_width

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed"),
]


@pytest.fixture(scope="module")
def servers():
    with script_site() as (site, cdn):
        cdn.route("/secret", body="internal", headers={"Content-Type": "text/plain"})
        yield site, cdn


@pytest.fixture(scope="module")
def site(servers):
    return servers[0]


@pytest.fixture(scope="module")
def cdn(servers):
    return servers[1]


def kept_of_pages(store: Store) -> list:
    """What the archive kept besides robots.txt (which is read, and kept, first)."""
    return [c for c in store.catalog.all_captures() if c.kind != "robots"]


def polite() -> PoliteSession:
    return PoliteSession(HttpConfig(allow_private=True, delay=0.0))


@pytest.fixture
def browser(request):
    """A browser session (one Playwright per thread: each test has its own), configured
    by the test's ``browser_config(...)`` mark."""
    marker = request.node.get_closest_marker("browser_config")
    config = BrowserConfig(**{"page_timeout": 20.0, **(marker.kwargs if marker else {})})
    with polite() as http, BrowserSession(http, config) as session:
        yield session


@pytest.fixture
def store(tmp_path):
    init_archive(tmp_path / "archive")
    with Store.open(tmp_path / "archive") as opened:
        yield opened


def quotes_of(store: Store, url: str):
    document = store.catalog.document_by_url(ids.canonical_url(url))
    if document is None or document.latest_version_id is None:
        return []
    extraction = store.catalog.current_extraction(document.latest_version_id)
    return store.catalog.quotes_of_extraction(extraction.id)


def test_a_script_built_page_is_captured_with_its_resources_quotes_and_screenshot(
    store, site, cdn, browser
):
    url = site.url(PAGE_PATH)
    outcome = Pipeline(store, browser.http, browser=browser).capture(url, browser=True)
    assert not outcome.failures

    quotes = quotes_of(store, url)
    assert {q.text for q in quotes} >= {
        "We have checked every gate and every pump, and the dam is sound,",
        "Nobody downstream needs to leave their home this winter,",
    }
    assert {q.speaker for q in quotes} == {"Priya Okafor"}
    indexing.catch_up(store.paths, store.catalog)
    hits = indexing.search(store.paths, store.catalog, '"every gate and every pump"').hits
    assert [hit.id for hit in hits if hit.type == "quote"] == [
        q.id for q in quotes if "every gate" in q.text
    ]

    # Every resource, stored as the server sent it.
    for path, body in (
        ("/assets/render.js", RENDER_JS.encode()),
        ("/assets/site.css", SITE_CSS.encode()),
        ("/assets/seal.png", SEAL),
    ):
        (stored,) = store.catalog.captures_of_url(ids.canonical_url(cdn.url(path)))
        assert store.read(stored).raw_payload == body
    (page,) = store.catalog.captures_of_url(ids.canonical_url(url))
    assert store.read(page).payload == SHELL.format(cdn=cdn.origin).encode()

    rendering = store.rendering(page)
    assert HEADLINE in rendering["conversion"].payload.decode()
    screenshot = rendering["resource"]
    assert screenshot.content_type == "image/png"
    assert screenshot.url == "urn:fullPage:" + url
    assert png_size(screenshot.payload) == (WIDTH, PAGE_HEIGHT)


def test_every_response_is_kept_when_the_proxys_queue_is_emptied_first(
    store, site, cdn, browser, monkeypatch
):
    """warcprox queues each recording before the proxy's handler reads it. On a loaded
    machine the thread that empties that queue can run first; the recording must still
    be there to read (it once closed it, and a resource went missing from the archive)."""
    original = warcprox.warcproxy.WarcProxyHandler._proxy_request

    def queue_emptied_first(handler):
        recorded = original(handler)
        deadline = time.monotonic() + 5
        while not handler.server.recorded_url_q.empty() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # and the thread has done what it does with an item
        return recorded

    monkeypatch.setattr(warcprox.warcproxy.WarcProxyHandler, "_proxy_request", queue_emptied_first)
    url = site.url(PAGE_PATH)
    outcome = Pipeline(store, browser.http, browser=browser).capture(url, browser=True)
    assert not outcome.failures
    for path in ("/assets/render.js", "/assets/site.css", "/assets/seal.png"):
        assert store.catalog.captures_of_url(ids.canonical_url(cdn.url(path))), path
    assert {q.speaker for q in quotes_of(store, url)} == {"Priya Okafor"}


def test_the_same_page_captured_plainly_has_no_quotes(store, site):
    url = site.url(PAGE_PATH)
    with polite() as http:
        outcome = Pipeline(store, http).capture(url)
    assert not outcome.failures and outcome.captures
    assert quotes_of(store, url) == []
    assert store.rendering(outcome.captures[0]) == {}


@pytest.mark.browser_config(pages_per_browser=1)
def test_a_second_capture_of_unchanged_resources_stores_revisits(store, site, cdn, browser):
    url = site.url(PAGE_PATH)
    pipeline = Pipeline(store, browser.http, browser=browser)
    first = pipeline.capture(url, browser=True)
    second = pipeline.capture(url, browser=True)
    assert not second.failures
    by_url = {c.url: c for c in second.captures}
    assert by_url[cdn.url("/assets/seal.png")].record_type == "revisit"
    assert by_url[url].record_type == "revisit"  # the same shell
    assert store.rendering(by_url[url])["resource"].payload.startswith(b"\x89PNG")
    assert second.new_versions == 0 and first.new_versions == 1
    assert browser.launches == 2  # a fresh browser after pages_per_browser pages


def test_a_page_reaching_for_a_private_address_is_refused_there(store, site, cdn):
    site.route(
        "/statements/probe",
        body=(
            "<html><body><h1>Probe</h1>"
            f'<img src="{cdn.url("/secret")}?img">'
            '<img src="/hop">'
            f"<script>fetch('{cdn.url('/secret')}?fetch').catch(() => null)</script>"
            "</body></html>"
        ),
        headers={"Content-Type": "text/html"},
    )
    site.route("/hop", status=302, headers={"Location": cdn.url("/secret") + "?redirect"})
    with (
        PoliteSession(  # the site's loopback address admitted as if public; the CDN's not
            HttpConfig(allow_private=False, allow_networks=("127.0.0.1/32",), delay=0.0)
        ) as http,
        BrowserSession(http, BrowserConfig(page_timeout=20.0)) as browser,
    ):
        outcome = Pipeline(store, http, browser=browser).capture(
            site.url("/statements/probe"), browser=True
        )
    assert not outcome.failures
    assert cdn.hits("/secret") == 0
    urls = {c.url for c in outcome.captures}
    assert site.url("/hop") in urls  # the redirect was recorded, its target refused
    assert not any("127.0.0.2" in u for u in urls)


@pytest.mark.browser_config(page_timeout=3.0)
def test_a_page_that_never_finishes_loading_fails_and_stores_nothing(store, site, browser, caplog):
    site.route("/stuck.png", Reply(status=200, body=SEAL, delay=30.0))
    site.route(
        "/statements/stuck",
        body='<html><body><p>Almost there</p><img src="/stuck.png"></body></html>',
        headers={"Content-Type": "text/html"},
    )
    outcome = Pipeline(store, browser.http, browser=browser).capture(
        site.url("/statements/stuck"), browser=True
    )
    assert [f.reason for f in outcome.failures] == ["the page did not finish loading within 3s"]
    assert kept_of_pages(store) == []  # robots.txt alone is kept
    # the image still on its way through the proxy when the page was given up is said
    assert "1 of the page's requests still under way after 5s; not kept" in caplog.text


def illustrated_page(site, name: str) -> tuple[str, str]:
    """A page of ``site`` showing a 300,004-byte image: the page's URL and the image's."""
    site.route(
        f"/{name}.png", body=b"\x89PNG" + b"\x00" * 300_000, headers={"Content-Type": "image/png"}
    )
    site.route(
        f"/statements/{name}",
        body=f'<html><body><p>{name}</p><img src="/{name}.png"></body></html>',
        headers={"Content-Type": "text/html"},
    )
    return site.url(f"/statements/{name}"), site.url(f"/{name}.png")


@pytest.mark.browser_config(max_page_bytes=100_000)
def test_a_page_whose_responses_pass_the_size_cap_fails_and_stores_nothing(store, site, browser):
    page, _ = illustrated_page(site, "heavy")
    outcome = Pipeline(store, browser.http, browser=browser).capture(page, browser=True)
    assert [f.reason for f in outcome.failures] == [
        "the page's responses exceed the 100000-byte cap"
    ]
    assert kept_of_pages(store) == []  # robots.txt alone is kept


def test_a_session_keeps_its_size_cap_when_another_opens_with_a_smaller_one(store, site, browser):
    """Two sessions in one process (the web app's scrapes, each in its thread) each keep
    their own cap: one opened later with a small cap does not cut this one's pages."""
    page, image_url = illustrated_page(site, "illustrated")
    opened, finished = threading.Event(), threading.Event()

    def small_session() -> None:  # a Playwright of its own, so a thread of its own
        with polite() as http, BrowserSession(http, BrowserConfig(max_page_bytes=100_000)):
            opened.set()
            finished.wait(60)

    other = threading.Thread(target=small_session)
    other.start()
    try:
        assert opened.wait(30)
        outcome = Pipeline(store, browser.http, browser=browser).capture(page, browser=True)
    finally:
        finished.set()
        other.join(30)
    assert not outcome.failures
    (image,) = store.catalog.captures_of_url(ids.canonical_url(image_url))
    assert len(store.read(image).raw_payload) == 300_004


# The timeout also bounds the next capture, in a browser launched afresh: on a slow,
# loaded machine its first page has taken more than 3 s.
@pytest.mark.browser_config(page_timeout=8.0)
def test_a_hung_browser_is_killed_the_capture_fails_and_the_next_one_works(store, site, browser):
    site.route(
        "/statements/spin",
        body=(
            "<html><body><p>Spinning</p><script>addEventListener('load', () =>"
            " setTimeout(() => { for (;;) {} }, 0))</script></body></html>"
        ),
        headers={"Content-Type": "text/html"},
    )
    pipeline = Pipeline(store, browser.http, browser=browser)
    hung = pipeline.capture(site.url("/statements/spin"), browser=True)
    assert kept_of_pages(store) == []  # robots.txt alone is kept
    after = pipeline.capture(site.url(PAGE_PATH), browser=True)
    (failure,) = hung.failures
    assert "stopped answering and was killed" in failure.reason
    assert not after.failures and after.new_versions == 1
    assert browser.launches == 2


def test_popups_downloads_permissions_and_service_workers_are_refused(store, site, browser):
    site.route("/popup", body="<p>popup</p>", headers={"Content-Type": "text/html"})
    site.route("/slow.png", Reply(body=SEAL, headers={"Content-Type": "image/png"}, delay=1.5))
    site.route(
        "/sw.js", body="self.onfetch = () => {};", headers={"Content-Type": "text/javascript"}
    )
    site.route(
        "/report.bin",
        body=b"\x00" * 4096,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": 'attachment; filename="report.bin"',
        },
    )
    site.route(
        "/statements/pushy",
        body=(
            # The slow image holds the load event back while the prompt is answered.
            "<html><body><h1>Pushy</h1><a id=dl href='/report.bin' download>report</a>"
            "<img src='/slow.png'><script>"
            "document.body.dataset.popup = String(window.open('/popup') === null);"
            "document.getElementById('dl').click();"
            "navigator.serviceWorker.register('/sw.js');"
            "Notification.requestPermission().then(p => document.body.dataset.notify = p);"
            "</script></body></html>"
        ),
        headers={"Content-Type": "text/html"},
    )
    outcome = Pipeline(store, browser.http, browser=browser).capture(
        site.url("/statements/pushy"), browser=True
    )
    assert not outcome.failures
    # No popup opened, no service worker script fetched (so none ran), no download.
    assert site.hits("/popup") == 0 and site.hits("/sw.js") == 0
    assert site.hits("/report.bin") == 0
    page = next(c for c in outcome.captures if c.url == site.url("/statements/pushy"))
    dom = store.rendering(page)["conversion"].payload.decode()
    assert 'data-popup="true"' in dom
    assert 'data-notify="denied"' in dom


def test_the_capture_and_quote_pages_show_how_the_page_looked(store, site, browser):
    from bs4 import BeautifulSoup

    from web import create_app, links

    url = site.url(PAGE_PATH)
    Pipeline(store, browser.http, browser=browser).capture(url, browser=True)
    indexing.catch_up(store.paths, store.catalog)
    (page,) = store.catalog.captures_of_url(ids.canonical_url(url))
    quote = next(q for q in quotes_of(store, url) if "every gate" in q.text)
    client = create_app({"ARCHIVE": str(store.paths.root), "TESTING": True}).test_client()

    shown = BeautifulSoup(client.get(links.capture_path(url, page.captured_at)).text, "html.parser")
    assert shown.select_one("img.screenshot")["src"] == links.screenshot_path(page.id)
    assert shown.select_one("iframe.rendered-dom")["src"] == links.rendered_path(page.id)
    assert shown.select_one("iframe.rendered-dom").has_attr("sandbox")

    quote_page = BeautifulSoup(client.get(links.quote_path(quote.id)).text, "html.parser")
    button = quote_page.select_one("a.button.screenshot")
    assert button.get_text() == "How the page looked when captured"
    assert button["href"] == links.screenshot_path(page.id)
    assert client.get(links.quote_path(quote.id) + ".json").json["capture"]["screenshot"] == (
        links.screenshot_path(page.id)
    )

    image = client.get(links.screenshot_path(page.id))
    assert image.content_type == "image/png"
    assert png_size(image.data) == (WIDTH, PAGE_HEIGHT)
    rendered = client.get(links.rendered_path(page.id))
    assert rendered.headers["Content-Security-Policy"].startswith("sandbox")
    dom = BeautifulSoup(rendered.text, "html.parser")
    assert dom.select_one("h1").get_text() == HEADLINE
    stylesheet = dom.select_one("link[rel=stylesheet]")["href"]
    assert stylesheet.startswith("http://")  # as stored, for any client but a browser
    # In a reader's browser its links lead into the archive, not out to the live web.
    shown = client.get(links.rendered_path(page.id), headers={"Sec-Fetch-Mode": "navigate"})
    assert shown.headers["Content-Security-Policy"].startswith("sandbox")
    assert "Digest" not in shown.headers  # not the bytes stored
    dom = BeautifulSoup(shown.text, "html.parser")
    assert dom.select_one("h1").get_text() == HEADLINE
    archived = links.raw_capture_path(stylesheet, page.captured_at)
    assert dom.select_one("link[rel=stylesheet]")["href"] == archived
    assert client.get(archived, follow_redirects=True).status_code == 200


def test_the_capture_command_renders_in_the_browser_when_asked(tmp_path, site, monkeypatch):
    import json

    from click.testing import CliRunner

    from web.cli import main

    root = tmp_path / "archive"
    init_archive(root)
    (root / "onrecord.toml").write_text("[onrecord]\nallow_private = true\ndelay = 0.0\n")
    url = site.url(PAGE_PATH)
    args = ["capture", url, "--browser", "--json", "--archive", str(root)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["quotes"] == 2
    assert len(report["captures"]) >= 4  # the page, its script, stylesheet and image

    monkeypatch.setenv("ONRECORD_BROWSER", "/nonexistent/chromium")
    missing = CliRunner().invoke(main, args)
    assert missing.exit_code == 1
    assert "cannot start the browser: no browser at /nonexistent/chromium" in missing.output


def test_scrape_now_in_the_web_app_renders_browser_sources(tmp_path, site):
    from web import create_app, links

    root = tmp_path / "archive"
    init_archive(root)
    (root / "sources" / "millbrook.toml").write_text(
        f"""[[source]]
name = "millbrook-water"
publisher = "Millbrook Valley Water Board"
kind = "statement"
start_urls = ["{site.url(PAGE_PATH)}"]
discovery = {{ type = "none" }}
schedule = {{ every = "6h" }}
render = "browser"
""",
        encoding="utf-8",
    )
    settings = {"ARCHIVE": str(root), "TESTING": True, "ADMIN_TOKEN": "t", "ALLOW_PRIVATE": True}
    client = create_app(settings).test_client()
    response = client.post(
        links.admin_path("scrape"), json={}, headers={"Authorization": "Bearer t"}
    )
    assert response.status_code == 200, response.data
    with Store.open(root) as store:
        assert len(quotes_of(store, site.url(PAGE_PATH))) == 2
