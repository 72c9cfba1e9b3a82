"""Hostile archived pages against the link rewriter (web/rewrite.py): markup that a browser
reads differently from libxml2 (foreign content, an XML declaration), SVG animations
that give a link a live target, pages the rewriter cannot vouch for. What a browser makes
of the output is read with an HTML Standard parser here, and in Debian's Chromium below.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from selectolax.lexbor import LexborHTMLParser

from archive.store import Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.appserver import serve_app
from tests.browsers import chromium, needs_chromium
from tests.loopback import LoopbackServer
from web import create_app, links
from web.rewrite import rewrite_links

LIVE = "https://live.example"
PAGE_URL = "https://example.gov/statements/1"


def archived(url: str) -> str:
    return "/arch/" + url


def rewritten(page: str) -> str:
    return rewrite_links(page.encode(), "utf-8", PAGE_URL, archived).decode()


def links_a_browser_reads(page: str, scripting: bool = False) -> list[tuple[str, str, str]]:
    """(tag, attribute, value) of every link attribute and SVG animation target in
    ``page`` as a browser parses it (scripting off, as in the archive's sandbox), in the
    document and in its templates (a declarative shadow root is shown)."""
    found = []
    nodes = [LexborHTMLParser(page, scripting=scripting).root]
    while nodes:
        node = nodes.pop(0)
        nodes.extend(node.template_fragments())
        for element in node.traverse(include_text=False):
            if not element.is_element_node:
                continue
            for name, value in element.attributes.items():
                if name in ("href", "ping", "attributionsrc") or name.endswith(":href"):
                    found.append((element.tag, name, value or ""))
                elif name.lower() == "attributename":  # <set>, <animate>
                    found.append((element.tag, value or "", "(animated)"))
    return found


def assert_stays_in_the_archive(page: str) -> None:
    """Every link leads into the archive, read with scripting off and on."""
    for scripting in (False, True):
        for tag, name, value in links_a_browser_reads(page, scripting):
            assert name in ("href", "xlink:href"), (tag, name, value)
            assert value.startswith(("/arch/", "#")), (tag, name, value)


# A browser closes <svg> or <math> at an HTML start tag such as <p>, and reads a <style>
# or <script> in them as markup; libxml2 reads both as raw text up to their end tag.
FOREIGN_CONTENT = {
    "svg-style": f'<svg><style><p><a href="{LIVE}/1">read</a></p></style></svg>',
    "math-style": f'<math><style><p><a href="{LIVE}/2">read</a></p></style></math>',
    "svg-script": f'<svg><script><p><a href="{LIVE}/3">read</a></script></svg>',
    "annotation-xml": (
        f'<math><annotation-xml><svg><style><p><a href="{LIVE}/4">read</a>'
        "</style></svg></annotation-xml></math>"
    ),
    "svg-desc-math": (
        f'<svg><desc><math><style><p><a href="{LIVE}/5">read</a></style></math></desc></svg>'
    ),
    "end-p-in-svg": f'<svg></p><style><a href="{LIVE}/6">read</a></style></svg>',
    "end-br-in-svg": f'<svg></br><style><a href="{LIVE}/7">read</a></style></svg>',
}


@pytest.mark.parametrize("page", FOREIGN_CONTENT.values(), ids=FOREIGN_CONTENT.keys())
def test_links_a_browser_finds_in_foreign_content_are_rewritten(page):
    out = rewritten("<!DOCTYPE html><h1>Statement</h1>" + page)
    assert_stays_in_the_archive(out)


def test_a_link_that_breaks_out_of_svg_leads_to_its_archived_copy():
    out = rewritten(FOREIGN_CONTENT["svg-style"])
    assert links_a_browser_reads(out) == [("a", "href", f"/arch/{LIVE}/1")]


def test_a_page_that_starts_with_an_xml_declaration_is_rewritten():
    page = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<!DOCTYPE html><html><head><base href="https://cdn.example/x/">'
        f'<meta http-equiv="refresh" content="0;url={LIVE}/refresh"></head>'
        f'<body><a href="{LIVE}/click">more</a> <a href="y">y</a></body></html>'
    )
    out = rewritten(page)
    assert_stays_in_the_archive(out)
    tree = LexborHTMLParser(out)
    assert tree.css("base, meta") == []
    assert [a.attributes["href"] for a in tree.css("a")] == [
        f"/arch/{LIVE}/click",
        "/arch/https://cdn.example/x/y",  # resolved against the page's <base>, then dropped
    ]
    assert out.startswith('<!--?xml version="1.0" encoding="utf-8"?--><!DOCTYPE html>')


SMIL = {
    "set": f'<set attributeName="href" to="{LIVE}/set"/>',
    "animate": f'<animate attributeName="href" values="{LIVE}/animate" fill="freeze"/>',
    "xlink": f'<set attributeName="xlink:href" to="{LIVE}/xlink"/>',
    "target": '<set attributeName="target" to="_top"/>',
}


@pytest.mark.parametrize("animation", SMIL.values(), ids=SMIL.keys())
def test_svg_animations_that_would_give_a_link_a_target_are_dropped(animation):
    page = f'<svg><a id="l">{animation}<rect width="9" height="9"/></a></svg>'
    out = rewritten(page)
    assert links_a_browser_reads(out) == []
    assert LexborHTMLParser(out).css("svg a rect")  # the drawing itself stays


def test_an_animation_of_something_else_stays():
    page = '<svg><rect width="9" height="9"><animate attributeName="width" to="90"/></rect></svg>'
    assert LexborHTMLParser(rewritten(page)).css("rect > animate")


def test_links_in_a_declarative_shadow_root_are_rewritten():
    page = (
        f'<div><template shadowrootmode="open"><a href="{LIVE}/shadow">a</a>'
        f'<template><a href="{LIVE}/inert">b</a></template></template></div>'
    )
    out = rewritten(page)
    assert_stays_in_the_archive(out)
    assert [value for _, _, value in links_a_browser_reads(out)] == [
        f"/arch/{LIVE}/shadow",
        f"/arch/{LIVE}/inert",
    ]


def test_requests_a_click_would_send_on_its_own_are_dropped():
    page = f'<a href="/next" ping="{LIVE}/ping" attributionsrc="{LIVE}/attribution">next</a>'
    out = rewritten(page)
    assert links_a_browser_reads(out) == [("a", "href", "/arch/https://example.gov/next")]


def test_a_link_that_is_no_url_leads_nowhere():
    out = rewritten(f'<a href="http://[::1">bad</a> <a href="{LIVE}/ok">ok</a>')
    assert [a.attributes["href"] for a in LexborHTMLParser(out).css("a")] == [
        "#",
        f"/arch/{LIVE}/ok",
    ]


# Trees that the HTML serialisation does not give back when parsed again: the rewritten
# page would read, in a browser, as a link the rewriter never saw.
UNSTABLE = {
    "mglyph": (
        f'<math><mtext><table><mglyph><style><a href="{LIVE}/mglyph">x</a>'
        "</style></mglyph></table></mtext></math>"
    ),
    "nested-forms": (
        "<form><math><mtext></form><form><mglyph><style></math>"
        f'<a href="{LIVE}/forms">x</a></style></mglyph></form></mtext></math>'
    ),
    # Markup with scripting off, text with it on: the link comes out of the <noscript>.
    "noscript": f'<noscript><style></noscript><a href="{LIVE}/noscript">x</a></style></noscript>',
}


@pytest.mark.parametrize("page", UNSTABLE.values(), ids=UNSTABLE.keys())
def test_a_page_the_rewriter_cannot_vouch_for_is_shown_as_text(page, caplog):
    out = rewritten("<h1>Statement</h1>" + page)
    assert links_a_browser_reads(out) == links_a_browser_reads(out, scripting=True) == []
    tree = LexborHTMLParser(out)
    assert tree.css_first("pre").text() == "<h1>Statement</h1>" + page
    assert [element.tag for element in tree.body.traverse(include_text=False)] == [
        "body",
        "p",
        "pre",
    ]
    assert "shown as text" in caplog.text


def test_a_legacy_doctype_keeps_its_quirks_mode():
    doctype = '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">'
    out = rewritten(f"<!-- generated -->\n{doctype}<p>old</p>")
    assert out.startswith(f"<!-- generated -->{doctype}<html>")


def test_a_page_without_a_doctype_gets_none():
    assert rewritten("<p>quirks</p>") == "<html><head></head><body><p>quirks</p></body></html>"


# In Chromium: each page has a link #l with a live target, whatever the rewriter did.
BROWSER_PAGES = {
    "/svg-style": (
        '<!doctype html><title>t</title><h1>Statement</h1><svg><style><p><a id="l" '
        'href="{live}">Read the full statement</a></p></style></svg>'
    ),
    "/xml-declaration": (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html><html><head><title>t</title>'
        '<meta http-equiv="refresh" content="1;url={live}"></head><body><h1>Statement</h1>'
        '<a id="l" href="{live}">read more</a></body></html>'
    ),
    "/smil": (
        '<!doctype html><title>t</title><h1>Statement</h1><svg width="300" height="60">'
        '<a id="l" href="/statements/2"><set attributeName="href" to="{live}"/>'
        '<rect width="300" height="60" fill="navy"/></a></svg>'
    ),
}
HTML = {"Content-Type": "text/html; charset=utf-8"}

# Every link of the page, in its shadow roots too, as the browser resolved it, and the
# current (animated) target of each SVG link.
LINKS_JS = """() => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      const href = el.href;
      if (href !== undefined) out.push(href.animVal !== undefined ? href.animVal : href);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return out.map((href) => new URL(href, document.baseURI).href);
}"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-pages") / "archive"
    init_archive(root)
    with LoopbackServer() as live, LoopbackServer() as site:
        live.route("/", body="<h1>The live web</h1>", headers=HTML)
        for path, body in BROWSER_PAGES.items():
            site.route(path, body=body.format(live=live.url("/")), headers=HTML)
        with (
            Store.open(root) as store,
            PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
        ):
            pipeline = Pipeline(store, http)
            for path in BROWSER_PAGES:
                assert not pipeline.capture(site.url(path)).failures
        with serve_app(create_app({"ARCHIVE": str(root)})) as app:
            yield live, site, app


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("path", BROWSER_PAGES)
def test_in_chromium_a_hostile_page_keeps_the_reader_in_the_archive(browser, hostile, path):
    live, site, app = hostile
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(app + links.raw_capture_path(site.url(path), datetime.now(UTC)))
        time.sleep(1.5)  # long enough for a meta refresh, and for an animation to start
        found = page.evaluate(LINKS_JS)
        assert found and not [url for url in found if url.startswith(live.origin)]
        page.click("#l")
        page.wait_for_load_state()
        time.sleep(0.5)
        assert not page.url.startswith(live.origin)
        assert live.hits("/") == 0
    finally:
        context.close()


def test_a_page_nested_past_any_browsers_depth_is_shown_as_text_at_once():
    """Lexbor's parse grows with the square of the nesting: 200,000 nested <div>s took
    140 s per request. Such a page is shown as its markup, in a blink; a page nested as
    deep as browsers go is rewritten as ever."""
    link = '<a href="https://live.example/">x</a>'
    deep = ("<div>" * 200_000 + link + "</div>" * 200_000).encode()
    started = time.perf_counter()
    shown = rewrite_links(deep, None, "https://example.gov/", lambda url: "/arch/" + url)
    assert time.perf_counter() - started < 5  # 140 s before
    assert b"<a " not in shown and b"&lt;a href" in shown
    usual = ("<div>" * 600 + link + "</div>" * 600).encode()
    rewritten = rewrite_links(usual, None, "https://example.gov/", lambda url: "/arch/" + url)
    assert b'href="/arch/https://live.example/"' in rewritten
