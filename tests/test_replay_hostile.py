"""Hostile archived copies never act for the app, nor take a reader's browser to the live
web or to the app's own pages, whatever their Content-Type or URLs say.

Three ways out were found (and are closed): a Content-Type that a browser reads as HTML,
or as another active document (SVG, XML), that onrecord did not rewrite; dot segments
(``..``, ``%2e%2e``) in a link or an archived redirect, which a browser collapsed out of
the ``/<timestamp>id_/`` prefix onto the app's pages; and archived responses that the
app's ``script-src 'self'`` trusted, ended by Fetch Metadata and the ``replay_origin``
setting. Each is checked with the test client and in Debian's Chromium, against a
loopback "live web" that counts every visit.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from archive.config import ConfigError
from archive.models import Capture
from archive.store import Store, init_archive
from archive.warc import HttpExchange, Rendering
from tests.appserver import serve_app
from tests.browsers import chromium, needs_chromium
from tests.loopback import LoopbackServer
from web import create_app, links

SITE = "https://example.gov"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PAGE = '<!doctype html><title>{1}</title><h1>{1}</h1><a id="l" href="{0}">read more</a>'
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="300" height="60"><a id="l" xlink:href="{0}"><rect width="300" height="60"/></a></svg>'
)
XHTML = (
    '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>'
    '<a id="l" href="{0}" style="display:block;height:60px">read more</a></body></html>'
)
MULTIPART = (
    '--XX\r\nContent-Type: text/html\r\n\r\n<a id="l" href="{0}">read more</a>\r\n--XX--\r\n'
)
# Four dot segments pop the host, the empty segment, "https:" and "<timestamp>id_".
ESCAPE = "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/check?q="
DOTS = (
    f'<!doctype html><title>dots</title><h1>dots</h1><a id="dots" href="{ESCAPE}escaped">a</a>'
    '<a id="plain" href="http://example.gov/../../../../check?q=plain">b</a>'
)
JAVASCRIPT = "window.PWNED = location.origin;"

# Sec-Fetch-* as Chromium sends them when a reader opens a page, and for a page's script.
NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "none"}
APP = "http://onrecord.test"
REPLAY = "http://replay.test"
# A dot segment, as a browser's URL parser knows it (the WHATWG URL standard).
DOT_SEGMENT = re.compile(r"(?:\.|%2e){1,2}", re.IGNORECASE)


@dataclass(frozen=True)
class Hostile:
    root: Path
    live: LoopbackServer  # the live web: any visit is a leak
    captures: dict[str, Capture]  # by path on SITE


def exchanges(live: LoopbackServer) -> dict[str, tuple[int, list[tuple[str, str]], bytes]]:
    """What the site answered, by path: status, headers and body (its links lead to
    ``live``, at the same path)."""

    def linking(template: str, path: str) -> bytes:
        return template.format(live.url(path), path[1:]).encode()

    html = [("Content-Type", "text/html; charset=utf-8")]
    return {
        "/upper": (200, [("Content-Type", "TEXT/HTML; charset=utf-8")], linking(PAGE, "/upper")),
        "/comma": (200, [("Content-Type", "text/plain, text/html")], linking(PAGE, "/comma")),
        "/two-headers": (
            200,
            [("Content-Type", "text/plain"), ("Content-Type", "text/html")],
            linking(PAGE, "/two-headers"),
        ),
        "/drawing.svg": (200, [("Content-Type", "image/svg+xml")], linking(SVG, "/drawing.svg")),
        "/feed.xml": (200, [("Content-Type", "application/xml")], linking(XHTML, "/feed.xml")),
        "/stream": (
            200,
            [("Content-Type", "multipart/x-mixed-replace; boundary=XX")],
            linking(MULTIPART, "/stream"),
        ),
        "/wap": (200, [("Content-Type", "text/vnd.wap.wml")], linking(PAGE, "/wap")),
        "/pixel.png": (200, [("Content-Type", "image/png")], PNG),
        "/notes.txt": (200, [("Content-Type", "text/plain; charset=iso-8859-1")], b"caf\xe9"),
        "/dots": (200, html, DOTS.encode()),
        "/moved": (302, [("Location", ESCAPE + "moved")], b""),
        "/app.js": (200, [("Content-Type", "text/javascript")], JAVASCRIPT.encode()),
        "/site.css": (200, [("Content-Type", "text/css")], b"h1 { color: rgb(1, 2, 3) }"),
        "/styled": (200, html, b'<link rel="stylesheet" href="/site.css"><h1>styled</h1>'),
        "/a/../dotted": (200, [("Content-Type", "text/plain")], b"at /a/../dotted"),
        "/a/%2e%2e/encoded": (200, [("Content-Type", "text/plain")], b"at /a/%2e%2e/encoded"),
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Hostile:
    root = tmp_path_factory.mktemp("hostile") / "archive"
    init_archive(root)
    start = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    captures = {}
    with LoopbackServer() as live:
        with Store.open(root) as store:
            for n, (path, (status, headers, payload)) in enumerate(exchanges(live).items()):
                exchange = HttpExchange(
                    url=SITE + path,
                    fetched_at=start + timedelta(seconds=n),
                    status=status,
                    reason="Found" if status == 302 else "OK",
                    headers=tuple(headers),
                    payload=payload,
                )
                captures[path] = store.save_capture(exchange)
            page = HttpExchange(
                url=SITE + "/rendered",
                fetched_at=start + timedelta(minutes=1),
                status=200,
                reason="OK",
                headers=(("Content-Type", "text/html"),),
                payload=b"<p>rendered</p>",
            )
            dom = f'<html><body><a id="l" href="{live.url("/dom")}">x</a></body></html>'
            rendering = Rendering(dom=dom, screenshot=PNG, rendered_at=page.fetched_at)
            captures["/rendered"] = store.save_capture(page, rendering=rendering)
        yield Hostile(root, live, captures)


@pytest.fixture(scope="module")
def client(hostile):
    return create_app({"ARCHIVE": str(hostile.root), "TESTING": True}).test_client()


@pytest.fixture(scope="module")
def replay_client(hostile):
    """The app with a replay origin: requests choose the host with ``base_url``."""
    config = {"PUBLIC_URL": APP + "/", "REPLAY_ORIGIN": REPLAY, "TESTING": True}
    return create_app({"ARCHIVE": str(hostile.root), **config}).test_client()


def raw(capture: Capture) -> str:
    return links.raw_capture_path(capture.url, capture.captured_at)


def stamp_of(capture: Capture) -> str:
    return raw(capture).split("/")[1]


def assert_in_archive(href: str, capture: Capture) -> None:
    """``href`` leads to an archived copy as of ``capture``'s time, wherever a browser
    resolves it: none of its segments is one that a browser would remove."""
    path = urlsplit(href).path
    assert path.startswith(f"/{stamp_of(capture)}/"), href
    assert not [s for s in path.split("/") if DOT_SEGMENT.fullmatch(s)], href
    assert "\\" not in path, href


# -- A: what a browser renders as a document is rewritten, or served as text ---------------


@pytest.mark.parametrize("path", ["/upper", "/comma", "/two-headers"])
def test_html_by_any_spelling_of_its_type_is_rewritten_for_a_browser(client, hostile, path):
    capture = hostile.captures[path]
    response = client.get(raw(capture), headers=NAVIGATE)
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    link = BeautifulSoup(response.data, "html.parser").select_one("a#l")
    assert link["href"].startswith(f"/{stamp_of(capture)}/")
    assert hostile.live.url(path) in link["href"]
    as_stored = client.get(raw(capture))  # not a browser: the bytes as received
    assert as_stored.data == exchanges(hostile.live)[path][2]


@pytest.mark.parametrize(
    "path, received",
    [
        ("/drawing.svg", "image/svg+xml"),
        ("/feed.xml", "application/xml"),
        ("/stream", "multipart/x-mixed-replace; boundary=XX"),
        ("/wap", "text/vnd.wap.wml"),
    ],
)
def test_other_active_documents_are_shown_to_a_browser_as_text(client, hostile, path, received):
    capture = hostile.captures[path]
    response = client.get(raw(capture), headers=NAVIGATE)
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data == client.get(raw(capture)).data  # its source, as received
    for destination in ("object", "embed"):  # rendered as documents without navigating
        embedded = client.get(raw(capture), headers={"Sec-Fetch-Dest": destination})
        assert embedded.headers["Content-Type"] == "text/plain"
    as_image = client.get(raw(capture), headers={"Sec-Fetch-Dest": "image"})
    assert as_image.headers["Content-Type"] == received


@pytest.mark.parametrize(
    "path, served",
    [
        ("/pixel.png", "image/png"),
        ("/notes.txt", "text/plain; charset=iso-8859-1"),
        ("/dots", "text/html; charset=utf-8"),
    ],
)
def test_types_that_cannot_act_keep_their_type(client, hostile, path, served):
    response = client.get(raw(hostile.captures[path]), headers=NAVIGATE)
    assert response.status_code == 200 and response.headers["Content-Type"] == served


def test_every_archived_response_is_sandboxed_and_never_sniffed(client, hostile):
    for capture in hostile.captures.values():
        for headers in (NAVIGATE, {"Sec-Fetch-Dest": "image"}, {}):
            response = client.get(raw(capture), headers=headers)
            assert response.status_code in (200, 302), capture.url
            assert response.headers["Content-Security-Policy"].startswith("sandbox;"), capture.url
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert {"Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-Site"} <= set(response.vary)


# -- B: dot segments stay inside the archive ------------------------------------------------


def test_dot_segments_in_links_cannot_leave_the_archived_copy(client, hostile):
    capture = hostile.captures["/dots"]
    page = BeautifulSoup(client.get(raw(capture), headers=NAVIGATE).data, "html.parser")
    for anchor in ("#dots", "#plain"):
        assert_in_archive(page.select_one(anchor)["href"], capture)


def test_an_archived_redirect_with_dot_segments_stays_in_the_archive(client, hostile):
    capture = hostile.captures["/moved"]
    response = client.get(raw(capture), headers=NAVIGATE)
    assert response.status_code == 302
    assert_in_archive(response.headers["Location"], capture)
    followed = client.get(response.headers["Location"], headers=NAVIGATE)
    assert followed.status_code == 404  # onrecord never captured it: it says so
    assert SITE + ESCAPE + "moved" in followed.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/a/../dotted", "/a/%2e%2e/encoded"])
def test_a_url_with_dot_segments_finds_its_own_capture(client, hostile, path):
    capture = hostile.captures[path]
    assert_in_archive(raw(capture), capture)
    response = client.get(raw(capture))
    assert response.status_code == 200 and response.data == f"at {path}".encode()
    page = client.get(links.capture_path(capture.url, capture.captured_at))
    assert page.status_code == 200 and capture.id in page.get_data(as_text=True)


# -- C: archived responses are never the app's code -----------------------------------------


@pytest.mark.parametrize(
    "destination", ["script", "worker", "sharedworker", "serviceworker", "paintworklet", "xslt"]
)
def test_an_archived_response_refuses_to_be_code_of_a_page(client, hostile, destination):
    for site in ("same-origin", "cross-site"):
        headers = {"Sec-Fetch-Dest": destination, "Sec-Fetch-Site": site, "Sec-Fetch-Mode": "cors"}
        response = client.get(raw(hostile.captures["/app.js"]), headers=headers)
        assert response.status_code == 403
        assert JAVASCRIPT.encode() not in response.data
        assert response.headers["Content-Security-Policy"].startswith("sandbox;")


def test_an_archived_stylesheet_serves_archived_pages_but_not_the_apps(client, hostile):
    css = raw(hostile.captures["/site.css"])
    style = {"Sec-Fetch-Dest": "style", "Sec-Fetch-Mode": "no-cors"}
    assert client.get(css, headers={**style, "Sec-Fetch-Site": "same-origin"}).status_code == 403
    assert client.get(css, headers={**style, "Sec-Fetch-Site": "cross-site"}).status_code == 200
    assert client.get(css).status_code == 200  # pywb, curl, and browsers that send no metadata


def test_the_app_host_sends_archived_copies_to_the_replay_origin(replay_client, hostile):
    for capture in (hostile.captures["/a/../dotted"], hostile.captures["/upper"]):
        response = replay_client.get(raw(capture), base_url=APP, headers=NAVIGATE)
        assert response.status_code == 302
        assert response.headers["Location"] == REPLAY + raw(capture)
    rendered = hostile.captures["/rendered"]
    for path in (links.rendered_path(rendered.id), links.screenshot_path(rendered.id)):
        response = replay_client.get(path, base_url=APP)
        assert response.status_code == 302 and response.headers["Location"] == REPLAY + path


def test_the_replay_origin_serves_archived_copies_and_nothing_else(replay_client, hostile):
    capture = hostile.captures["/upper"]
    copy = replay_client.get(raw(capture), base_url=REPLAY, headers=NAVIGATE)
    assert copy.status_code == 200 and b"read more" in copy.data
    assert copy.headers["Content-Security-Policy"].startswith("sandbox;")
    rendered = hostile.captures["/rendered"]
    for path in (links.rendered_path(rendered.id), links.screenshot_path(rendered.id)):
        assert replay_client.get(path, base_url=REPLAY).status_code == 200
    app_pages = [
        "/",
        links.captures_path(),
        links.capture_path(capture.url, capture.captured_at),
        links.check_path("we will count"),
        links.search_path("count"),
        links.timemap_path(capture.url),
        links.signin_path(),
        links.status_path(json=True),
    ]
    for path in app_pages:
        response = replay_client.get(path, base_url=REPLAY)
        assert response.status_code == 404, path
        assert response.headers["Content-Security-Policy"].startswith("sandbox;"), path


def test_app_pages_frame_and_link_archived_copies_on_the_replay_origin(replay_client, hostile):
    capture = hostile.captures["/rendered"]
    page = links.capture_path(capture.url, capture.captured_at)
    response = replay_client.get(page, base_url=APP)
    assert response.status_code == 200
    policy = dict(
        p.strip().split(" ", 1) for p in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["frame-src"] == REPLAY and policy["script-src"] == "'self'"
    soup = BeautifulSoup(response.data, "html.parser")
    assert soup.select_one("iframe.archived")["src"] == REPLAY + raw(capture)
    assert soup.select_one("a.archived-copy")["href"] == REPLAY + raw(capture)
    assert soup.select_one("iframe.rendered-dom")["src"] == REPLAY + links.rendered_path(capture.id)
    assert soup.select_one("img.screenshot")["src"] == REPLAY + links.screenshot_path(capture.id)
    twin = replay_client.get(page, base_url=APP, headers={"Accept": "application/json"})
    assert twin.get_json()["archived_copy"] == REPLAY + raw(capture)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"REPLAY_ORIGIN": REPLAY}, "replay_origin needs public_url"),
        ({"REPLAY_ORIGIN": APP + ":80/", "PUBLIC_URL": APP + "/"}, "another origin"),
        ({"REPLAY_ORIGIN": REPLAY + "/copies", "PUBLIC_URL": APP + "/"}, "must be an origin"),
    ],
)
def test_a_replay_origin_is_an_origin_of_its_own(hostile, config, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"ARCHIVE": str(hostile.root), **config})


# -- in Chromium ----------------------------------------------------------------------------


class Deferred:
    """A WSGI app made once its server's port is known (the origins it names hold it)."""

    def __init__(self) -> None:
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def served(hostile):
    with serve_app(create_app({"ARCHIVE": str(hostile.root)})) as url:
        yield url


@pytest.fixture(scope="module")
def two_origins(hostile):
    """The app on 127.0.0.1 and its replay origin on localhost: one server, two hosts."""
    deferred = Deferred()
    with serve_app(deferred) as app_url:
        replay = f"http://localhost:{urlsplit(app_url).port}"
        config = {"ARCHIVE": str(hostile.root), "PUBLIC_URL": app_url + "/"}
        deferred.app = create_app({**config, "REPLAY_ORIGIN": replay})
        yield app_url, replay


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def inject_script(page, page_url: str, script_url: str) -> None:
    """Stand in for an HTML injection bug in an app page: add a <script src> to it (its
    CSP header stays the app's)."""

    def inject(route):
        response = route.fetch()
        tag = f'<script src="{script_url}"></script>'
        route.fulfill(response=response, body=response.text().replace("</main>", tag + "</main>"))

    page.route(page_url, inject)


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("path", ["/upper", "/comma", "/two-headers"])
def test_in_chromium_html_of_any_type_spelling_keeps_the_reader_in_the_archive(
    page, served, hostile, path
):
    page.goto(served + raw(hostile.captures[path]))
    page.click("#l")
    page.wait_for_selector("code.live-url")
    assert page.inner_text("h1") == "onrecord has no capture of this link"
    assert hostile.live.hits(path) == 0


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("path", ["/drawing.svg", "/feed.xml", "/stream", "/wap"])
def test_in_chromium_other_active_documents_show_as_text(page, served, hostile, path):
    page.goto(served + raw(hostile.captures[path]))
    assert page.evaluate("document.contentType") == "text/plain"
    assert page.evaluate("document.querySelectorAll('a').length") == 0
    assert hostile.live.hits(path) == 0


@pytest.mark.browser
@needs_chromium
def test_in_chromium_dot_segments_and_redirects_stay_in_the_archive(page, served, hostile):
    dots = hostile.captures["/dots"]
    for anchor in ("#dots", "#plain"):
        page.goto(served + raw(dots))
        page.click(anchor)
        page.wait_for_selector("code.live-url")
        assert_in_archive(page.url, dots)
    moved = hostile.captures["/moved"]
    page.goto(served + raw(moved))
    page.wait_for_selector("code.live-url")
    assert_in_archive(page.url, moved)
    assert page.inner_text("code.live-url") == SITE + ESCAPE + "moved"


@pytest.mark.browser
@needs_chromium
def test_in_chromium_an_archived_page_keeps_its_own_stylesheet(page, served, hostile):
    page.goto(served + raw(hostile.captures["/styled"]))
    color = page.eval_on_selector("h1", "h => getComputedStyle(h).color")
    assert color == "rgb(1, 2, 3)"


@pytest.mark.browser
@needs_chromium
def test_in_chromium_an_app_page_cannot_run_an_archived_script(page, served, hostile):
    inject_script(page, served + links.captures_path(), raw(hostile.captures["/app.js"]))
    page.goto(served + links.captures_path())
    page.wait_for_load_state("load")
    assert page.evaluate("window.PWNED || null") is None


@pytest.mark.browser
@needs_chromium
def test_in_chromium_archived_copies_live_on_the_replay_origin(page, two_origins, hostile):
    app, replay = two_origins
    capture = hostile.captures["/upper"]
    page.goto(app + links.capture_path(capture.url, capture.captured_at))
    frame = page.frame_locator("iframe.archived")
    frame.locator("h1", has_text="upper").wait_for()
    assert page.frames[1].url == replay + raw(capture)
    frame.locator("#l").click()
    frame.locator("code.live-url").wait_for()
    assert page.frames[1].url.startswith(replay + f"/{stamp_of(capture)}/")
    assert hostile.live.hits("/upper") == 0
    page.goto(app + raw(capture))  # an old link to the app's host
    assert page.url == replay + raw(capture)
    assert page.goto(replay + links.captures_path()).status == 404
    # An injected <script src> finds no archived copy on the app's origin to run.
    script = raw(hostile.captures["/app.js"])
    for source in (script, replay + script):
        inject_script(page, app + links.captures_path(), source)
        page.goto(app + links.captures_path())
        page.wait_for_load_state("load")
        assert page.evaluate("window.PWNED || null") is None
        page.unroute(app + links.captures_path())


def test_a_quotes_json_links_its_archived_copy_on_the_replay_origin(archive_root, server):
    """The quote's JSON names the archived copy where it is served, not on the app's host,
    which would only redirect there."""
    from scrapers.http import HttpConfig, PoliteSession
    from scrapers.pipeline import Pipeline

    page = (
        "<html><body><article><h1>Ferry notice</h1><p>“The evening crossing resumes on"
        " Friday after the pier repairs,” said Ines Varga, the ferry line's manager.</p>"
        "</article></body></html>"
    )
    server.route("/notice", body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    config = HttpConfig(allow_private=True, delay=0.0, obey_robots=False)
    with Store.open(archive_root) as store, PoliteSession(config) as http:
        Pipeline(store, http).capture(server.url("/notice"))
        (quote,) = store.catalog.current_quotes()
        (capture,) = store.catalog.captures_of_url(store.catalog.document(quote.document_id).url)
    config = {"PUBLIC_URL": APP + "/", "REPLAY_ORIGIN": REPLAY, "TESTING": True}
    client = create_app({"ARCHIVE": str(archive_root), **config}).test_client()
    shown = client.get(links.json_path(links.quote_path(quote.id)), base_url=APP).get_json()
    assert shown["capture"]["archived_copy"] == REPLAY + raw(capture)
