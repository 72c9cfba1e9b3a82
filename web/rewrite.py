"""Links in an archived HTML page, rewritten so that a reader's click stays in the archive.

The archived copy is served sandboxed (no scripts, no forms, its own opaque origin), but a
plain link still navigates: to the live web, which tells the site who reads its archived
pages, or, for a relative link or a ``target=_top``, to the app's own pages as if the
archive had sent the reader there. So when a browser navigates to an archived copy, every
link and image map area points at the archived copy of its target as of the same capture
time (``/<timestamp>id_/<url>``), in the same frame; a target onrecord never captured gets
a page that says so and names the live URL. ``<base>``, ``<meta http-equiv=refresh>`` and
``ping`` go: they would navigate or reach out without a click on a rewritten link.

Only browser navigations get this; every other client (pywb, Memento tools, ``curl``)
gets the bytes exactly as received.

>>> page = b'<p><a href="/next" target="_top" ping="https://t.example/">next</a></p>'
>>> out = rewrite_links(page, None, "https://example.gov/a/b", lambda url: "/arch/" + url)
>>> print(out.decode())
<html><body><p><a href="/arch/https://example.gov/next" target="_self">next</a></p></body></html>
>>> page = (b'<!DOCTYPE html><head><base href="https://cdn.example/x/">'
...         b'<meta http-equiv="refresh" content="0;url=https://live.example/"></head>'
...         b'<a href="y">y</a> <a href="javascript:go()">go</a> <a href="#top">top</a>')
>>> print(rewrite_links(page, None, "https://example.gov/", lambda url: "/arch/" + url).decode())
<!DOCTYPE html>
<html><head></head><body><a href="/arch/https://cdn.example/x/y" target="_self">y</a> \
<a href="#" target="_self">go</a> <a href="#top" target="_self">top</a></body></html>
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from scrapers.http import decode_text

__all__ = ["is_navigation", "rewrite_links"]

_LINK_ATTRIBUTES = ("href", "{http://www.w3.org/1999/xlink}href", "xlink:href")
_HARMLESS_SCHEMES = ("mailto", "tel")  # handled by the reader's own applications


def is_navigation(headers: Mapping[str, str]) -> bool:
    """Whether a request is a browser loading a page into a window or frame: Fetch
    Metadata says so, or, where a browser sends none (plain HTTP to a remote host), the
    ``Upgrade-Insecure-Requests`` header every browser sends with a navigation.

    >>> is_navigation({"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"})
    True
    >>> is_navigation({"Upgrade-Insecure-Requests": "1"})
    True
    >>> is_navigation({"Accept": "*/*"})
    False
    """
    mode = headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate"
    return headers.get("Upgrade-Insecure-Requests") == "1"


def rewrite_links(
    payload: bytes, charset: str | None, page_url: str, archived: Callable[[str], str]
) -> bytes:
    """The page with every link pointing at ``archived(absolute target URL)``, in UTF-8."""
    text = decode_text(payload, charset)
    if not text.strip():
        return payload
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return payload
    base = page_url
    for element in root.iter("base"):
        href = element.get("href")
        if href and base == page_url:
            base = urljoin(page_url, href.strip())
    for element in list(root.iter("base", "meta")):
        if element.tag == "base" or (element.get("http-equiv") or "").lower() == "refresh":
            element.drop_tree()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        element.attrib.pop("ping", None)
        for name in _LINK_ATTRIBUTES:
            value = element.get(name)
            if value is None:
                continue
            element.set(name, _rewritten(value, base, archived))
            if element.get("target") is not None or element.tag in ("a", "area"):
                element.set("target", "_self")  # never _top, _parent or a new window
    # lxml supplies a doctype where the page had none; keep the page's own (or none, so
    # a quirks-mode page still renders in quirks mode).
    declared = text.lstrip("\ufeff \t\r\n")[:9].lower() == "<!doctype"
    doctype = root.getroottree().docinfo.doctype if declared else ""
    body = lxml.html.tostring(root, encoding="unicode", method="html")
    return ((doctype + "\n" if doctype else "") + body).encode("utf-8")


def _rewritten(value: str, base: str, archived: Callable[[str], str]) -> str:
    value = value.strip()
    if value.startswith("#"):
        return value  # a place in this same page
    target = urljoin(base, value)
    scheme = urlsplit(target).scheme.lower()
    if scheme in ("http", "https"):
        return archived(target)
    if scheme in _HARMLESS_SCHEMES:
        return target
    return "#"  # javascript:, data:, file: and the rest lead nowhere from an archive
