"""Discovery: the pure parsers on shipped samples and hostile inputs, then `discover`
against a loopback site."""

from __future__ import annotations

import gzip
import logging
import re
import time
from pathlib import Path

import pytest

from scrapers.discover import discover, urls_from_feed, urls_from_listing, urls_from_sitemap
from scrapers.errors import DiscoveryError
from scrapers.http import HttpConfig, PoliteSession
from scrapers.sources import Discovery, Schedule, Source

FEEDS = Path(__file__).parent / "data" / "feeds"
HARBOR = "https://harbor-agency.example.gov/newsroom/"
LEDGER = "https://ledger.example.com/"
SITEMAP_HEAD = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'


def sample(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


# -- feeds ---------------------------------------------------------------------------------


def test_rss_links_resolved_deduplicated_fragments_dropped():
    assert urls_from_feed(sample("harbor-rss.xml"), HARBOR + "rss.xml") == [
        HARBOR + "2026/storm-surge-statement",
        HARBOR + "2026/port-reopening",
        HARBOR + "2026/ferry-advisory",
    ]


def test_atom_alternate_links_and_url_ids():
    assert urls_from_feed(sample("ledger-atom.xml"), LEDGER + "feed.atom") == [
        LEDGER + "2026/11/county-certifies-results",
        LEDGER + "2026/11/drop-box-questions",
    ]


def test_slightly_broken_feed_is_used_with_a_warning(caplog):
    base = "https://elections.lakeland.example.gov/rss"
    with caplog.at_level(logging.WARNING, logger="scrapers.discover"):
        urls = urls_from_feed(sample("broken-rss.xml"), base)
    assert urls == ["https://elections.lakeland.example.gov/news/2026/polling-hours"]
    assert "not well-formed" in caplog.text


@pytest.mark.parametrize("body", [sample("not-a-feed.html"), b"", b"\x89PNG\r\n\x1a\n\x00"])
def test_a_body_that_is_not_a_feed(body):
    with pytest.raises(DiscoveryError, match="not an RSS or Atom feed"):
        urls_from_feed(body, HARBOR + "rss.xml")


# -- sitemaps ------------------------------------------------------------------------------


def test_news_sitemap_pages_only_not_images():
    urls, children = urls_from_sitemap(sample("sitemap-news.xml"), LEDGER + "sitemap.xml", 100)
    assert urls == [
        LEDGER + "2026/11/county-certifies-results",
        LEDGER + "2026/11/drop-box-questions",
        LEDGER + "about/",
    ]
    assert children == []


def test_sitemap_index_gzipped_is_recognised_by_magic_bytes():
    packed = gzip.compress(sample("sitemap-index.xml"))
    urls, children = urls_from_sitemap(packed, LEDGER + "sitemap.xml.gz", 100)
    assert urls == []
    assert children == [LEDGER + "sitemap-news.xml", LEDGER + "sitemap-2026-10.xml.gz"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (sample("not-a-feed.html"), "root element is <html>"),
        (b"Sitemap unavailable, try again later", "not well-formed XML"),
        (sample("harbor-rss.xml"), "root element is <rss>"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
    ],
)
def test_a_body_that_is_not_a_sitemap(body, reason):
    with pytest.raises(DiscoveryError, match=reason):
        urls_from_sitemap(body, LEDGER + "sitemap.xml", 100)


def test_sitemap_bomb_stops_at_the_limit(caplog):
    """A million URLs in 2.6 MB of gzip: parsing stops at the limit, in a blink."""
    block = b"".join(
        b"<url><loc>https://ledger.example.com/%d</loc></url>" % n for n in range(10_000)
    )
    bomb = gzip.compress(SITEMAP_HEAD) + gzip.compress(block) * 100 + gzip.compress(b"</urlset>")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="scrapers.discover"):
        urls, _ = urls_from_sitemap(bomb, LEDGER + "sitemap.xml.gz", 1_000)
    assert len(urls) == 1_000 and urls[-1] == LEDGER + "999"
    assert time.monotonic() - started < 5
    assert "truncated at 1000 URLs" in caplog.text


def test_sitemap_without_urls_stops_at_the_byte_cap(caplog):
    junk = gzip.compress(SITEMAP_HEAD) + gzip.compress(b"<junk>padding</junk>" * 50_000) * 10
    with caplog.at_level(logging.WARNING, logger="scrapers.discover"):
        assert urls_from_sitemap(junk, LEDGER, 100, max_bytes=1024 * 1024) == ([], [])
    assert "truncated at 1048576 bytes" in caplog.text


def test_sitemap_entities_are_not_expanded():
    laughs = b'<!ENTITY l0 "ha">' + b"".join(
        b'<!ENTITY l%d "%s">' % (n, b"&l%d;" % (n - 1) * 10) for n in range(1, 10)
    )
    body = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [' + laughs + b"]>"
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://ledger.example.com/&l9;</loc></url></urlset>"
    )
    started = time.monotonic()
    with pytest.raises(DiscoveryError, match="amplification"):
        urls_from_sitemap(body, LEDGER, 100)
    assert time.monotonic() - started < 1


# -- listing pages -------------------------------------------------------------------------


def test_listing_links_by_selector_with_base_href():
    html = sample("listing.html")
    site = "https://elections.lakeland.example.gov/"
    assert urls_from_listing(html, site + "news", "ul.releases li > a") == [
        site + "news/2026/canvass-complete",
        site + "news/2026/drop-box-hours",
    ]
    assert urls_from_listing(html, site + "news", ".release h3") == [
        site + "news/2025/poll-worker-recruitment"
    ]


def test_listing_from_text_with_an_xml_declaration():
    page = '<?xml version="1.0" encoding="utf-8"?><html><body><a href="a#b">é</a></body></html>'
    assert urls_from_listing(page, "https://x.example/news/", "a") == ["https://x.example/news/a"]


@pytest.mark.parametrize(
    ("html", "selector", "reason"),
    [("<p>x</p>", "ul[[li", "invalid CSS selector"), ("", "a", "not an HTML page")],
)
def test_listing_errors(html, selector, reason):
    with pytest.raises(DiscoveryError, match=reason):
        urls_from_listing(html, "https://x.example/", selector)


# -- discover() against a loopback site ----------------------------------------------------


def make_source(discovery: Discovery, **fields) -> Source:
    return Source(
        name="loopback-site",
        publisher="Loopback Site",
        kind="news",
        start_urls=fields.pop("start_urls", ()),
        discovery=discovery,
        schedule=Schedule(cron="0 * * * *"),
        **fields,
    )


@pytest.fixture
def session():
    with PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as polite:
        yield polite


def rss(*links: str) -> str:
    items = "".join(f"<item><title>t</title><link>{link}</link></item>" for link in links)
    return f'<rss version="2.0"><channel><title>f</title>{items}</channel></rss>'


def test_discover_from_a_feed_filters_dedupes_and_caps(server, session):
    server.route(
        "/feed.xml",
        body=rss("/news/1", "/news/1?utm_source=rss", "/tag/storms", "/news/2", "/news/3"),
    )
    source = make_source(
        Discovery("feed", server.url("/feed.xml")),
        start_urls=(server.url("/news/"),),
        deny=(re.compile("/tag/"),),
        max_pages=3,
    )
    assert discover(source, session) == [
        server.url("/news/"),
        server.url("/news/1"),
        server.url("/news/2"),
    ]


def test_discover_from_a_listing(server, session):
    server.route(
        "/news",
        body='<ul class="releases"><li><a href="/news/1">1</a></li></ul><a href="/x">x</a>',
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    source = make_source(Discovery("listing", server.url("/news"), "ul.releases a"))
    assert discover(source, session) == [server.url("/news/1")]


def test_discover_feed_that_is_not_a_feed(server, session):
    server.route("/feed.xml", body=sample("not-a-feed.html"))
    with pytest.raises(DiscoveryError, match="not an RSS or Atom feed"):
        discover(make_source(Discovery("feed", server.url("/feed.xml"))), session)


def test_discover_needs_a_200(server, session):
    with pytest.raises(DiscoveryError, match="HTTP 404"):
        discover(make_source(Discovery("feed", server.url("/missing.xml"))), session)


def sitemap_index(*locs: str) -> str:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


def urlset(*locs: str) -> bytes:
    entries = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return SITEMAP_HEAD + entries.encode() + b"</urlset>"


def test_discover_walks_a_sitemap_index_skipping_broken_children(server, session):
    server.route(
        "/sitemap.xml",
        body=sitemap_index("/sm-news.xml", "/sm-gone.xml", "/sm-old.xml.gz", "/sm-news.xml"),
    )
    server.route("/sm-news.xml", body=urlset("/2026/11/a", "/2026/11/b"))
    server.route("/sm-old.xml.gz", body=gzip.compress(urlset("/2026/10/c")))
    source = make_source(Discovery("sitemap", server.url("/sitemap.xml")))
    assert discover(source, session) == [
        server.url("/2026/11/a"),
        server.url("/2026/11/b"),
        server.url("/2026/10/c"),
    ]
    assert server.hits("/sm-gone.xml") == 1 and server.hits("/sm-news.xml") == 1


def test_discover_does_not_follow_a_deeply_nested_index(server, session):
    for depth in range(10):
        server.route(f"/index-{depth}.xml", body=sitemap_index(f"/index-{depth + 1}.xml"))
    source = make_source(Discovery("sitemap", server.url("/index-0.xml")))
    assert discover(source, session) == []
    assert [server.hits(f"/index-{n}.xml") for n in range(4)] == [1, 1, 1, 0]


def test_discover_fetches_a_bounded_number_of_sitemaps(server, session):
    children = [f"/part-{n}.xml" for n in range(50)]
    server.route("/sitemap.xml", body=sitemap_index(*children, "http://elsewhere.invalid/x.xml"))
    for child in children:
        server.route(child, body=urlset())
    source = make_source(Discovery("sitemap", server.url("/sitemap.xml")))
    discover(source, session)
    fetched = sum(server.hits(child) for child in children)
    assert fetched == 19  # 20 sitemaps per run, the index included


@pytest.mark.parametrize("method", ["sitemap", "listing"])
def test_discover_drops_a_link_that_cannot_be_parsed(server, session, method):
    """One malformed link ("http://[oops/" is an unclosed IPv6 host) is no link: the
    others are still found, and discovery does not stop on it."""
    server.route("/sitemap.xml", body=urlset("/news/1", "http://[oops/", "/news/2"))
    server.route(
        "/news",
        body='<ul><li><a href="/news/1">1</a></li><li><a href="http://[oops/">x</a></li>'
        '<li><a href="/news/2">2</a></li></ul>',
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    where = {"sitemap": ("/sitemap.xml", None), "listing": ("/news", "ul a")}
    path, selector = where[method]
    source = make_source(Discovery(method, server.url(path), selector))
    assert discover(source, session) == [server.url("/news/1"), server.url("/news/2")]


def test_listing_ignores_a_base_href_that_cannot_be_parsed():
    page = '<html><head><base href="http://[oops/"></head><body><a href="a">a</a></body></html>'
    assert urls_from_listing(page, "https://x.example/news/", "a") == ["https://x.example/news/a"]
