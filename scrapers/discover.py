"""Feeds, sitemaps and listing pages -> candidate URLs.

The parsers are pure (bytes and a base URL in, absolute URLs out, fragments dropped,
non-http(s) links skipped); `discover` is the only function here that fetches, through the
`PoliteSession` it is handed.

Sitemaps are untrusted input that can be enormous: they are parsed as a stream by a
parser that expands no entities and reads no DTD, decompressed as they are read, and
abandoned past the protocol's own limits (50,000 URLs, 50 MB uncompressed per file); a
sitemap index is followed at most `_MAX_SITEMAP_DEPTH` levels deep, `_MAX_SITEMAPS` files
per run, on its own host only.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import zlib
from collections import deque
from urllib.parse import urldefrag, urljoin, urlsplit

import feedparser
import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector, SelectorError

from archive.ids import InvalidURL, canonical_url
from scrapers.errors import DiscoveryError, FetchError
from scrapers.http import Exchange, PoliteSession, Recorder, decode_text
from scrapers.sources import Source

__all__ = ["discover", "urls_from_feed", "urls_from_listing", "urls_from_sitemap"]

log = logging.getLogger(__name__)

SITEMAP_URL_LIMIT = 50_000  # the sitemap protocol's cap on one file
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # ditto, uncompressed
_MAX_SITEMAP_DEPTH = 2  # an index, its sitemaps, and one more level for sloppy sites
_MAX_SITEMAPS = 20  # sitemap files fetched per discovery run
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def discover(source: Source, session: PoliteSession, record: Recorder | None = None) -> list[str]:
    """The URLs to capture for `source` in this run: its start URLs, then what its feed,
    sitemap or listing page links to that the source `wants`; deduplicated by canonical
    URL and capped at `max_pages`. Every exchange fetched on the way (the feed, each
    sitemap, the listing page, their robots.txt and redirects) goes to `record`, with
    the kind of the fetch ("feed", "sitemap", "listing", "robots").

    Raises DiscoveryError, or the session's FetchError, when the feed, root sitemap or
    listing page cannot be had; a child sitemap that fails is logged and skipped.
    """
    found = _Candidates(source.max_pages)
    for url in source.start_urls:
        found.add(url)
    method = source.discovery
    if method.type == "feed":
        final = _fetch(session, method.url, "feed", record)
        found.extend(u for u in urls_from_feed(final.body, final.url) if source.wants(u))
    elif method.type == "listing":
        final = _fetch(session, method.url, "listing", record)
        html = decode_text(final.body, final.charset)
        links = urls_from_listing(html, final.url, method.selector)
        found.extend(u for u in links if source.wants(u))
    elif method.type == "sitemap":
        _walk_sitemaps(source, session, found, record)
    log.info("%s: %d candidate URLs by %s", source.name, len(found.urls), method.type)
    return found.urls


class _Candidates:
    """URLs in order of discovery, one per canonical URL, at most `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.urls: list[str] = []
        self._keys: set[str] = set()

    @property
    def full(self) -> bool:
        return len(self.urls) >= self.limit

    def add(self, url: str) -> None:
        if self.full:
            return
        try:
            key = canonical_url(url)
        except InvalidURL as exc:
            log.debug("skipping %s: %s", url, exc)
            return
        if key not in self._keys:
            self._keys.add(key)
            self.urls.append(url)

    def extend(self, urls) -> None:
        for url in urls:
            self.add(url)


def _fetch(session: PoliteSession, url: str, kind: str, record: Recorder | None) -> Exchange:
    final = session.fetch(url, kind=kind, record=record).final
    if final.status != 200:
        raise DiscoveryError(url, f"HTTP {final.status} {final.reason}".strip())
    return final


def _walk_sitemaps(
    source: Source, session: PoliteSession, found: _Candidates, record: Recorder | None
) -> None:
    root = source.discovery.url
    host = urlsplit(root).netloc
    queue = deque([(root, 0)])
    seen = {root}
    budget = SITEMAP_URL_LIMIT
    fetched = 0
    while queue and not found.full and budget > 0:
        if fetched == _MAX_SITEMAPS:
            log.warning("%s: stopping after %d sitemaps", source.name, _MAX_SITEMAPS)
            return
        url, depth = queue.popleft()
        fetched += 1
        try:
            final = _fetch(session, url, "sitemap", record)
            urls, children = urls_from_sitemap(final.body, final.url, budget)
        except (DiscoveryError, FetchError) as exc:
            if url == root:
                raise
            log.warning("%s: skipping sitemap %s: %s", source.name, url, exc)
            continue
        budget -= len(urls) + len(children)
        found.extend(u for u in urls if source.wants(u))
        for child in children:
            if child in seen:
                continue
            seen.add(child)
            if urlsplit(child).netloc != host:
                log.warning("%s: ignoring sitemap on another host: %s", source.name, child)
            elif depth + 1 > _MAX_SITEMAP_DEPTH:
                log.warning("%s: ignoring sitemap nested too deep: %s", source.name, child)
            else:
                queue.append((child, depth + 1))


def urls_from_feed(data: bytes, base_url: str) -> list[str]:
    """The entry links of an RSS or Atom feed, made absolute.

    A feed with small well-formedness errors still yields what feedparser recovered (with
    a warning); a body that is no feed at all raises DiscoveryError.
    """
    # A stream, never bytes: feedparser would take bytes for a file name and open it. The
    # content type is declared XML whatever the server said (feeds are often text/html):
    # it is our intent, and feedparser otherwise flags every feed as "bozo" for lack of it.
    headers = {"content-location": base_url, "content-type": "application/xml"}
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise DiscoveryError(base_url, f"not an RSS or Atom feed: {problem}")
    if parsed.bozo:
        log.warning("%s: feed is not well-formed (%s)", base_url, parsed.bozo_exception)
    links = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link and str(entry.get("id", "")).startswith(("http://", "https://")):
            link = entry["id"]  # an RSS guid that is a permalink, an Atom id that is a URL
        links.append(_absolute(base_url, link or ""))
    return _unique(links)


def urls_from_sitemap(
    data: bytes, base_url: str, limit: int, *, max_bytes: int = MAX_SITEMAP_BYTES
) -> tuple[list[str], list[str]]:
    """The page URLs and child sitemaps of a sitemap (urlset, news sitemap or index).

    gzip is recognised by its magic bytes. Stops after `limit` URLs (pages and children
    together), or `max_bytes` of XML, logging that it truncated.
    """
    raw = gzip.GzipFile(fileobj=io.BytesIO(data)) if data[:2] == b"\x1f\x8b" else io.BytesIO(data)
    stream = _CappedReader(raw, max_bytes)
    urls: list[str] = []
    children: list[str] = []
    events = etree.iterparse(
        stream,
        events=("start", "end"),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        for event, element in events:
            name = etree.QName(element).localname
            if event == "start":
                if element.getparent() is None and name not in ("urlset", "sitemapindex"):
                    raise DiscoveryError(base_url, f"not a sitemap: the root element is <{name}>")
                continue
            if name == "loc":
                where = etree.QName(element.getparent()).localname
                url = _absolute(base_url, element.text or "")
                if url and where in ("url", "sitemap"):
                    (urls if where == "url" else children).append(url)
                if len(urls) + len(children) >= limit:
                    log.warning("%s: sitemap truncated at %d URLs", base_url, limit)
                    break
            elif _is_root_child(element):  # a finished <url>, <sitemap> or stray element
                _forget(element)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(base_url, f"not well-formed XML: {exc}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DiscoveryError(base_url, f"corrupt gzip: {exc}") from None
    except _TooLong:
        log.warning("%s: sitemap truncated at %d bytes", base_url, max_bytes)
    return urls, children


def _is_root_child(element: etree._Element) -> bool:
    parent = element.getparent()
    return parent is not None and parent.getparent() is None


def _forget(element: etree._Element) -> None:
    """Free a finished child of the root and its predecessors: memory stays flat."""
    element.clear()
    parent = element.getparent()
    while element.getprevious() is not None:
        del parent[0]


class _TooLong(Exception):
    """The sitemap is longer than the protocol allows; what was parsed so far stands."""


class _CappedReader:
    """A file-like view of `raw` that refuses to read past `limit` bytes."""

    def __init__(self, raw: io.BufferedIOBase, limit: int) -> None:
        self.raw = raw
        self.left = limit

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(64 * 1024 if size < 0 else size)
        self.left -= len(chunk)
        if self.left < 0:
            raise _TooLong
        return chunk


def urls_from_listing(html: bytes | str, base_url: str, selector: str) -> list[str]:
    """The links a CSS selector picks on a listing page, made absolute.

    A selected element that is not itself a link contributes the links inside it, so
    `.release h3` works as well as `.release h3 > a`. A <base href> is honoured.
    """
    if isinstance(html, str):
        html = _XML_DECLARATION.sub("", html, count=1)  # lxml refuses it in a str
    try:
        matcher = CSSSelector(selector)
    except SelectorError as exc:
        raise DiscoveryError(base_url, f"invalid CSS selector {selector!r}: {exc}") from None
    try:
        document = lxml.html.document_fromstring(html)
    except etree.ParserError as exc:
        raise DiscoveryError(base_url, f"not an HTML page: {exc}") from None
    base = document.find(".//base[@href]")
    if base is not None:
        base_url = _absolute(base_url, base.get("href")) or base_url  # unless unusable
    links = []
    for element in matcher(document):
        anchors = [element] if element.get("href") is not None else element.iter("a")
        links.extend(_absolute(base_url, a.get("href") or "") for a in anchors)
    return _unique(links)


def _absolute(base_url: str, href: str) -> str:
    """`href` resolved against `base_url`, without fragment; "" unless http(s). A URL
    that cannot be parsed (``http://[oops/``) is no link either.

    >>> base = "https://a.example/news/"
    >>> _absolute(base, "1#top"), _absolute(base, "mailto:a@a.example"), _absolute(base, "http://[x/")
    ('https://a.example/news/1', '', '')
    """
    href = href.strip()
    if not href:
        return ""
    try:
        url = urldefrag(urljoin(base_url, href)).url
        scheme = urlsplit(url).scheme
    except ValueError:
        return ""
    return url if scheme in ("http", "https") else ""


def _unique(urls: list[str]) -> list[str]:
    return list(dict.fromkeys(url for url in urls if url))
